#pragma once
/// One attempt at an iterative job, split by phase over scheduler/src/iterative_{run,exchange,migration,output}.cpp,
/// and the helpers those phases share. Internal to the scheduler library (docs/design.md, "Iterative jobs").

#include <mpi.h>

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/checkpoint_driver.hpp>
#include <partita/scheduler/iterative/detail/placement.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/trace_slice.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// MPI tags of the model's point-to-point messages on the job's communicator.
enum class iterative_tag : int { halo = 7101, migrate = 7102, final_state = 7103 };

/// What every rank appends to its per-step contribution: errors seen, and (from the coordinator) what all ranks
/// do at this step boundary.
struct step_tail {
  // Codes travel as doubles in the gather (exact for small integers).
  static constexpr double ok = 0, halo_size = 1, kernel = 2;
  static constexpr double go_on = 0, checkpoint = 1, checkpoint_and_stop = 2;
  static constexpr std::size_t size = 8;
  double err = ok, a = 0, b = 0, c = 0, d = 0, control = go_on, epoch = 0, busy = 0;
  void put(std::vector<double>& out) const { out.insert(out.end(), {err, a, b, c, d, control, epoch, busy}); }
  static step_tail get(const double* p) { return {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]}; }
};

/// Waits for `reqs` to complete, at most `timeout` seconds; throws peer_silent naming `what` after that (`step`: the
/// last step every rank finished).
void wait_bounded(std::vector<MPI_Request>& reqs, double timeout, std::uint64_t step, const std::string& what);

/// Receives `count` messages of tag `tag` from any rank, each as it comes (MPI_Improbe/MPI_Mrecv) into a buffer of
/// T (double or std::byte), and hands each to `take(buffer)`. While none is there it calls `idle()`, which may do a
/// piece of other work and return true (the wait then counts from after it). After `timeout` seconds of waiting
/// without the rest it throws peer_silent(`step`, "<describe(left)> did not arrive within --timeout T s (a rank is
/// lost or hangs)").
template <class T, class Describe, class Take, class Idle>
void receive_each(MPI_Comm comm, iterative_tag tag, std::size_t count, double timeout, std::uint64_t step,
                  Describe&& describe, Take&& take, Idle&& idle) {
  const MPI_Datatype type = sizeof(T) == 1 ? MPI_BYTE : MPI_DOUBLE;
  auto start = clock::now();
  std::vector<T> buf;
  int spins = 0;
  while (count > 0) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    PARTITA_MPI(MPI_Improbe(MPI_ANY_SOURCE, static_cast<int>(tag), comm, &flag, &msg, &st));
    if (!flag) {
      if (idle()) {
        start = clock::now();
        spins = 0;
        continue;
      }
      if (++spins > 1000) {  // spin a little for the latency, then check the clock and give the core away
        if (since(start) > timeout)
          throw peer_silent(step, fmt::format("{} did not arrive within --timeout {} s (a rank is lost or hangs)",
                                              describe(count), timeout));
        std::this_thread::yield();
      }
      continue;
    }
    int n = 0;
    PARTITA_MPI(MPI_Get_count(&st, type, &n));
    buf.resize(static_cast<std::size_t>(n));
    PARTITA_MPI(MPI_Mrecv(buf.data(), n, type, &msg, MPI_STATUS_IGNORE));
    --count;
    take(buf);
  }
}

/// FNV-1a 64 of `n` bytes, continuing from `h` (the digest of the final states in the summary).
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n);

/// One attempt at an iterative job on the ranks of `s` (docs/design.md, "Iterative jobs"): collective, one object
/// per rank. run_iterative makes a new one after an in-job rollback. Non-copyable.
class iterative_run {
 public:
  iterative_run(session& s, iterative_job_model& job, const run_config& config, const job_setup& setup,
                stall_watchdog& watchdog)
      : s_(s), job_(job), config_(config), setup_(setup), watchdog_(watchdog), comm_(setup.comm), me_(s.rank().value),
        ranks_(s.size()),
        n_(job.partition_count()), coordinator_(s.rank() == setup.scheduler),
        arena_(std::max(1, setup.threads_of(s.rank()))) {
    threads_ = setup.threads;
    for (auto& t : threads_) t = std::max(1, t);
  }

  /// The whole attempt: restart selection, start, the step loop, the end (final states, summary).
  run_report run();
  /// After start(): the step this run began at and the checkpoint it came from ("" fresh).
  std::uint64_t started_at() const noexcept { return steps_at_start_; }
  const std::string& restored_from() const noexcept { return restored_from_; }
  /// The checkpoints this rank wrote as the coordinator so far (none elsewhere).
  checkpoint_stats checkpoints_written() const { return driver_ ? driver_->stats() : checkpoint_stats{}; }

 private:
  // Phases of run(), in order (iterative_run.cpp).
  void check_graph();
  std::optional<restart_point> choose_restart();
  void start(std::optional<restart_point> restart);
  void init_owned();
  run_report report_header() const;
  void step_loop(run_report& rep);
  void decide_boundary(step_tail& tail);
  std::vector<step_tail> absorb_step(const std::vector<double>& all);
  void conclude(run_report& rep);
  // One step's communication (iterative_exchange.cpp).
  void plan_halos();
  step_tail exchange_and_step(std::vector<double>& contribution);
  void gather(const std::vector<double>& contribution, std::vector<double>& all);
  void raise(const step_tail& t, int from_rank);
  // Placement (iterative_migration.cpp).
  void rebalance();
  void migrate(const placement& next);
  // What leaves the ranks: checkpoints, final states, trace (iterative_output.cpp).
  void write_checkpoint_now(const std::string& why, bool stop, epoch_t epoch);
  std::vector<std::unique_ptr<partition_state>> gather_final_states(std::string& digest);
  std::vector<rank_trace> gather_slices();
  /// Every rank's `size` bytes at `data` to the coordinator, in rank order (collective: the lengths, then a bounded
  /// MPI_Igatherv). On the coordinator `all` holds them, rank r's at displs[r], lens[r] long; elsewhere it is empty.
  struct gathered {
    bytes all;
    std::vector<int> lens, displs;
  };
  gathered gather_to_coordinator(const void* data, std::size_t size, const char* what);
  context ctx_for(std::uint64_t id, std::uint64_t step) {
    return context(partition_id{id}, step_t{step}, config_.seed, job_.params(), arena_, cancel_, rank_t{me_});
  }
  std::uint64_t owned_begin() const { return place_.begin(me_); }
  std::uint64_t owned_end() const { return place_.end(me_); }

  session& s_;
  iterative_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  stall_watchdog& watchdog_;  // told of every step (under in-job recovery it ends a rank stuck in a collective)
  MPI_Comm comm_;
  int me_, ranks_;
  std::uint64_t n_;
  bool coordinator_;
  tbb::task_arena arena_;
  std::atomic<bool> cancel_{false};
  std::vector<int> threads_;

  std::vector<std::vector<partition_id>> nbrs_;   // every partition's neighbours (every rank knows the graph)
  placement place_;
  std::map<std::uint64_t, std::unique_ptr<partition_state>> owned_;
  std::uint64_t steps_ = 0, steps_at_start_ = 0;
  std::vector<double> red_;      // reductions after the last step
  std::vector<double> cost_;     // seconds per step (least of the last 8 measured), per partition (the same on every rank)
  // A partition's cost is the least of its last `cost_window` measured step times: what a rank loses to being
  // descheduled (a loaded node, a wake-up delay) only ever adds to a measurement, so the minimum filters it out,
  // and a cost that really changes is followed within a window. Every rank keeps the same window.
  static constexpr std::size_t cost_window = 8;
  std::vector<double> recent_;   // [id * cost_window + step % cost_window]
  bool measured_start_ = false;
  double earlier_seconds_ = 0;
  double busy_ = 0;              // this rank's kernel seconds in this run
  std::uint64_t migrations_ = 0, rebalances_ = 0, last_rebalance_ = 0;
  double imbalance_start_ = 1;
  std::string restored_from_;
  std::vector<trace_event> events_;
  std::vector<trace_slice> slices_;  // this rank's partition steps, kept only with --trace
  std::mutex slices_mutex_;

  // The halo plan for the current placement.
  std::map<int, std::size_t> expect_from_;
  std::vector<std::uint64_t> interior_, boundary_;  // owned indices: no neighbour on another rank / some
  std::uint64_t overlapped_ = 0;
  double last_checkpoint_seconds_ = 0;  // how long this rank's last collective checkpoint write took  // partition steps run while halos were on their way (summary)   // rank -> halo entries it sends us per step
  std::vector<std::vector<std::vector<double>>> in_;  // [owned index][neighbour slot] the halo received

  std::string failure_text_;
  std::string stop_reason_;      // coordinator: why this step boundary checkpoints
  std::unique_ptr<checkpoint_driver> driver_;
};

}  // namespace partita::detail
