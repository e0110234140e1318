#pragma once
/// One attempt at an iterative job: the phases of a run in the order they happen, over the parts that have a file of
/// their own (halo_exchange, step_costs, rebalancer, step_checkpoints, the protocol). The phases are split by kind
/// over scheduler/iterative/src/{run,exchange,migration,output}.cpp. Internal (docs/design.md, "Iterative jobs").

#include <mpi.h>

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/checkpoint_driver.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/metrics_publisher.hpp>
#include <partita/scheduler/detail/progress_meter.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/iterative/detail/first_failure.hpp>
#include <partita/scheduler/iterative/detail/halo_exchange.hpp>
#include <partita/scheduler/iterative/detail/peer_link.hpp>
#include <partita/scheduler/iterative/detail/placement.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>
#include <partita/scheduler/iterative/detail/rebalancer.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>
#include <partita/scheduler/iterative/detail/run_trace.hpp>
#include <partita/scheduler/iterative/detail/step_checkpoints.hpp>
#include <partita/scheduler/iterative/detail/step_costs.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>
#include <partita/scheduler/trace_slice.hpp>

namespace partita::detail {

/// One attempt at an iterative job on the ranks of `s` (docs/design.md, "Iterative jobs"): collective, one object
/// per rank. run_iterative makes a new one after an in-job rollback. Non-copyable.
class iterative_run {
 public:
  /// `metrics` outlives the attempt (it counts the rollbacks before it); only the coordinator writes with it.
  iterative_run(session& s, iterative_job_model& job, const run_config& config, const job_setup& setup,
                stall_watchdog& watchdog, metrics_publisher& metrics);

  /// The whole attempt: restart selection, start, the step loop, the end (final states, summary).
  run_report run();
  /// After start(): the step this run began at and the checkpoint it came from ("" fresh).
  std::uint64_t started_at() const noexcept { return steps_at_start_; }
  const std::string& restored_from() const noexcept { return restored_from_; }
  /// The checkpoints this rank wrote as the coordinator so far (none elsewhere).
  checkpoint_stats checkpoints_written() const { return checkpoints_ ? checkpoints_->stats() : checkpoint_stats{}; }

 private:
  /// A step's figures on this rank, per owned partition: its reduction values and its step seconds.
  struct step_results {
    std::vector<double> values;    // [owned index * reductions + k]
    std::vector<double> measured;  // [owned index]
  };

  // Phases of run(), in order (run.cpp).
  void check_graph();
  std::optional<restart_point> choose_restart();
  std::string changed_input(const checkpoint_expectation& expect) const;
  std::size_t red_size() const { return job_.reductions().size(); }
  void start(std::optional<restart_point> restart);
  void restore(checkpoint_image image, const std::string& file);
  void init_owned();
  run_report report_header() const;
  void step_loop(run_report& rep);
  std::vector<step_control> absorb_step(const std::vector<double>& all);
  void note_step_imbalance(double imbalance);
  void conclude(run_report& rep);
  metrics_snapshot live_metrics(clock::time_point now) const;
  void conclude_metrics(const run_report& rep);
  // One step's work and communication (exchange.cpp).
  step_control exchange_and_step(std::vector<double>& contribution);
  halo_set compute_halos(first_failure& failed);
  step_control check_halo_sizes(const halo_set& out) const;
  void step_partition(std::uint64_t index, step_results& results, first_failure& failed);
  void gather(const std::vector<double>& contribution, std::vector<double>& all);
  [[noreturn]] void raise(const step_control& c, int from_rank);
  // Placement (migration.cpp).
  void rebalance();
  void migrate(const placement& next);
  // What leaves the ranks: checkpoints, the output file, final digests and states, trace (output.cpp).
  checkpoint_image state_image(std::uint64_t& state_bytes) const;
  void write_checkpoint(const step_control& control);
  void check_output_target();
  void write_output_file();
  std::string final_digest();
  bytes encode_final_states() const;
  void check_final_gather(const bytes& mine);
  std::vector<std::unique_ptr<partition_state>> gather_final_states(const bytes& mine);
  std::vector<rank_trace> gather_slices();

  context ctx_for(std::uint64_t id, std::uint64_t step) {
    return context(partition_id{id}, step_t{step}, config_.seed, job_.params(), arena_, cancel_, rank_t{me_});
  }
  std::uint64_t owned_begin() const { return place_.begin(me_); }
  std::uint64_t owned_end() const { return place_.end(me_); }
  wait_limit limit() const { return {config_.timeout_seconds, steps_}; }

  session& s_;
  iterative_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  stall_watchdog& watchdog_;
  metrics_publisher& metrics_;  // --metrics-file (docs/metrics.md): written on the coordinator after a step  // told of
                                // every step (under in-job recovery it ends a rank stuck in a collective)
  MPI_Comm comm_;
  int me_, ranks_;
  std::uint64_t n_;
  bool coordinator_;
  tbb::task_arena arena_;
  std::atomic<bool> cancel_{false};
  std::vector<int> threads_;  // every rank's threads (at least 1)

  std::vector<std::vector<partition_id>> nbrs_;  // every partition's neighbours (every rank knows the graph)
  placement place_;
  std::map<std::uint64_t, std::unique_ptr<partition_state>> owned_;
  std::uint64_t steps_ = 0, steps_at_start_ = 0;
  std::vector<double> red_;  // reductions after the last step
  step_costs costs_;         // the same on every rank
  rebalancer balance_;
  std::optional<double> imbalance_start_;  // measured after the first step
  double earlier_seconds_ = 0;             // the job's run time before this run (from the checkpoint)
  double busy_ = 0;                        // this rank's kernel seconds in this run
  std::vector<double> rank_busy_;          // every rank's kernel seconds in this run, from the gathered step costs
  std::optional<progress_meter> meter_;    // on the coordinator: the progress line (and the metrics' rate and ETA)
  std::vector<run_event> rebalances_;      // on the coordinator, for the summary's events
  std::vector<double> step_imbalance_;     // on the coordinator: every step_stride_-th step's measured imbalance
  std::uint64_t step_stride_ = 1;
  std::uint64_t overlapped_ = 0;  // partition steps run while halos were on their way (summary)
  std::string restored_from_;
  run_trace trace_;

  mpi_peer_link link_;
  halo_exchange halos_;
  std::string failure_text_;  // what this rank's failing kernel said, for raise()
  std::unique_ptr<step_checkpoints> checkpoints_;
  std::optional<commit_result> output_;  // the --output file, once written
};

}  // namespace partita::detail
