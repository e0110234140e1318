#include <partita/scheduler/iterative_driver.hpp>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/checkpoint_driver.hpp>
#include <partita/scheduler/detail/iterative_placement.hpp>
#include <partita/scheduler/detail/iterative_recovery.hpp>
#include <partita/scheduler/detail/iterative_state.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/progress_meter.hpp>
#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>

namespace partita {

std::span<const double> halo_view::from(partition_id from) const {
  for (const auto& [id, data] : entries_)
    if (id == from) return data;
  throw usage_error(fmt::format("partition {} is not a neighbour: a step can read halos of its neighbours only",
                                from.value));
}

double fold_in_id_order(const iterative_job_model& model, std::size_t k, std::span<const double> values) {
  if (values.empty()) return 0;
  double acc = values[0];
  for (std::size_t i = 1; i < values.size(); ++i) acc = model.combine(k, acc, values[i]);
  return acc;
}

namespace {

using detail::clock;
using detail::since;

enum class tag : int { halo = 7101, migrate = 7102, final_state = 7103 };

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
void wait_bounded(std::vector<MPI_Request>& reqs, double timeout, std::uint64_t step, const std::string& what) {
  if (reqs.empty()) return;
  const auto start = clock::now();
  int spins = 0;
  for (;;) {
    int done = 0;
    PARTITA_MPI(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE));
    if (done) break;
    if (++spins > 1000) {
      if (since(start) > timeout)
        throw detail::peer_silent(step, fmt::format("{}: no answer within --timeout {} s (a rank is lost or hangs)",
                                                    what, timeout));
      std::this_thread::yield();
    }
  }
  reqs.clear();
}

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

class iterative_run {
 public:
  iterative_run(session& s, iterative_job_model& job, const run_config& config, const detail::job_setup& setup,
                detail::stall_watchdog& watchdog)
      : s_(s), job_(job), config_(config), setup_(setup), watchdog_(watchdog), comm_(setup.comm), me_(s.rank().value),
        ranks_(s.size()),
        n_(job.partition_count()), coordinator_(s.rank() == setup.scheduler),
        arena_(std::max(1, setup.threads_of(s.rank()))) {
    threads_ = setup.threads;
    for (auto& t : threads_) t = std::max(1, t);
  }

  run_report run();
  /// After start(): the step this run began at and the checkpoint it came from ("" fresh).
  std::uint64_t started_at() const noexcept { return steps_at_start_; }
  const std::string& restored_from() const noexcept { return restored_from_; }
  /// The checkpoints this rank wrote as the coordinator so far (none elsewhere).
  detail::checkpoint_stats checkpoints_written() const { return driver_ ? driver_->stats() : detail::checkpoint_stats{}; }

 private:
  void check_graph();
  void start(std::optional<detail::restart_point> restart);
  void init_owned();
  void plan_halos();
  step_tail exchange_and_step(std::vector<double>& contribution);
  void gather(const std::vector<double>& contribution, std::vector<double>& all);
  void raise(const step_tail& t, int from_rank);
  void write_checkpoint_now(const std::string& why, bool stop, epoch_t epoch);
  void rebalance();
  void migrate(const detail::placement& next);
  std::vector<std::unique_ptr<partition_state>> gather_final_states(std::string& digest);
  std::vector<detail::rank_trace> gather_slices();
  context ctx_for(std::uint64_t id, std::uint64_t step) {
    return context(partition_id{id}, step_t{step}, config_.seed, job_.params(), arena_, cancel_, rank_t{me_});
  }
  std::uint64_t owned_begin() const { return place_.begin(me_); }
  std::uint64_t owned_end() const { return place_.end(me_); }

  session& s_;
  iterative_job_model& job_;
  const run_config& config_;
  const detail::job_setup& setup_;
  detail::stall_watchdog& watchdog_;  // told of every step (under in-job recovery it ends a rank stuck in a collective)
  MPI_Comm comm_;
  int me_, ranks_;
  std::uint64_t n_;
  bool coordinator_;
  tbb::task_arena arena_;
  std::atomic<bool> cancel_{false};
  std::vector<int> threads_;

  std::vector<std::vector<partition_id>> nbrs_;   // every partition's neighbours (every rank knows the graph)
  detail::placement place_;
  std::map<std::uint64_t, std::unique_ptr<partition_state>> owned_;
  std::uint64_t steps_ = 0, steps_at_start_ = 0;
  std::vector<double> red_;      // reductions after the last step
  std::vector<double> cost_;     // seconds per step (least of the last 8 measured), per partition (the same on every rank)
  double earlier_seconds_ = 0;
  double busy_ = 0;              // this rank's kernel seconds in this run
  std::uint64_t migrations_ = 0, rebalances_ = 0, last_rebalance_ = 0;
  double imbalance_start_ = 1;
  std::string restored_from_;
  std::vector<detail::trace_event> events_;
  std::vector<trace_slice> slices_;  // this rank's partition steps, kept only with --trace
  std::mutex slices_mutex_;

  // The halo plan for the current placement.
  struct remote_entry {
    std::uint64_t src, dst;
    std::size_t slot;  // index of src in nbrs_[dst]
  };
  std::map<int, std::size_t> expect_from_;   // rank -> halo entries it sends us per step
  std::vector<std::vector<std::vector<double>>> in_;  // [owned index][neighbour slot] the halo received

  std::string failure_text_;
  std::string stop_reason_;      // coordinator: why this step boundary checkpoints
  std::unique_ptr<detail::checkpoint_driver> driver_;
};

void iterative_run::check_graph() {
  // Deterministic on every rank, so every rank throws the same usage error before anyone waits on anyone.
  nbrs_.resize(n_);
  for (std::uint64_t p = 0; p < n_; ++p) {
    nbrs_[p] = job_.neighbours(partition_id{p});
    std::set<std::uint64_t> seen;
    for (auto q : nbrs_[p]) {
      if (q.value >= n_)
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {}, but the partitions are 0..{}; "
                                      "fix the neighbours function", job_.name(), p, q.value, n_ - 1));
      if (q.value == p)
        throw usage_error(fmt::format("job '{}': partition {} names itself as a neighbour; fix the neighbours "
                                      "function", job_.name(), p));
      if (!seen.insert(q.value).second)
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {} twice; fix the neighbours function",
                                      job_.name(), p, q.value));
    }
  }
  for (std::uint64_t p = 0; p < n_; ++p)
    for (auto q : nbrs_[p]) {
      const auto& back = nbrs_[q.value];
      if (std::find(back.begin(), back.end(), partition_id{p}) == back.end())
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {}, but {} does not name {}; the "
                                      "neighbour graph must be symmetric", job_.name(), p, q.value, q.value, p));
    }
}

void iterative_run::init_owned() {
  std::vector<std::uint64_t> ids;
  for (auto id = owned_begin(); id < owned_end(); ++id) ids.push_back(id);
  std::vector<std::unique_ptr<partition_state>> made(ids.size());
  std::mutex m;
  std::optional<std::pair<std::uint64_t, std::string>> failed;
  arena_.execute([&] {
    tbb::parallel_for(std::size_t{0}, ids.size(), [&](std::size_t i) {
      try {
        auto ctx = ctx_for(ids[i], 0);
        made[i] = job_.init(partition_id{ids[i]}, ctx);
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        if (!failed || ids[i] < failed->first) failed = std::make_pair(ids[i], std::string(e.what()));
      }
    });
  });
  int bad = failed ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (failed) throw kernel_error(job_.name(), failed->first, "init: " + failed->second);
  if (any) throw remote_failure("the init of a partition failed on another rank");
  for (std::size_t i = 0; i < ids.size(); ++i) owned_[ids[i]] = std::move(made[i]);
}

void iterative_run::start(std::optional<detail::restart_point> restart) {
  // The coordinator chose the checkpoint; tell every rank which file (or the error), then each reads it.
  std::string text;
  int status = 0;  // 0 fresh, 1 restart from `text`, 2 error `text`
  if (coordinator_ && restart) {
    status = 1;
    text = restart->file.string();
  }
  PARTITA_MPI(MPI_Bcast(&status, 1, MPI_INT, setup_.scheduler.value, comm_));
  int len = static_cast<int>(text.size());
  PARTITA_MPI(MPI_Bcast(&len, 1, MPI_INT, setup_.scheduler.value, comm_));
  text.resize(static_cast<std::size_t>(len));
  PARTITA_MPI(MPI_Bcast(text.data(), len, MPI_CHAR, setup_.scheduler.value, comm_));

  if (status == 0) {
    place_ = detail::even_placement(n_, ranks_);
    cost_.assign(n_, 0.0);
    red_.assign(job_.reductions().size(), 0.0);
    init_owned();
    return;
  }
  const checkpoint_expectation expect{job_.name(), detail::params_hash(job_.params(), config_.seed, n_),
                                      detail::iterative_state::model};
  checkpoint_image image;
  std::exception_ptr problem;
  try {
    image = coordinator_ ? std::move(restart->image) : read_checkpoint(text, expect);
    const auto st = detail::iterative_state::from_image(image, text, job_.reductions().size());
    if (st.partition_count != n_)
      throw checkpoint_error(text, fmt::format("it has {} partitions, the job {}", st.partition_count, n_));
    steps_ = steps_at_start_ = st.steps;
    red_ = st.reductions;
    cost_ = st.cost;
    earlier_seconds_ = st.run_seconds;
    place_ = detail::balanced_placement(cost_, threads_);
    for (auto id = owned_begin(); id < owned_end(); ++id) {
      const auto arrays = detail::arrays_of(image, id);
      if (arrays.empty()) throw checkpoint_error(text, fmt::format("partition {} has no saved state", id));
      owned_[id] = job_.load(partition_id{id}, arrays);
    }
  } catch (...) {
    problem = std::current_exception();
  }
  int bad = problem ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (problem) std::rethrow_exception(problem);
  if (any) throw remote_failure("another rank could not restore its partitions");
  restored_from_ = text;
  if (coordinator_)
    log().info("restarting job '{}' from {} at step {} on {} ranks", job_.name(), text, steps_, ranks_);
}

void iterative_run::plan_halos() {
  expect_from_.clear();
  in_.assign(owned_end() - owned_begin(), {});
  for (auto p = owned_begin(); p < owned_end(); ++p) {
    auto& slots = in_[p - owned_begin()];
    slots.resize(nbrs_[p].size());
    for (auto q : nbrs_[p]) {
      const int r = place_.owner(q.value);
      if (r != me_) ++expect_from_[r];
    }
  }
}

step_tail iterative_run::exchange_and_step(std::vector<double>& contribution) {
  const std::uint64_t b = owned_begin(), e = owned_end(), count = e - b;
  step_tail tail;
  // 1. Halos out: computed on the arena, then local ones copied and remote ones packed per rank.
  std::vector<std::vector<std::vector<double>>> out(count);
  std::mutex m;
  std::optional<std::pair<std::uint64_t, std::string>> failed;
  const auto note_failure = [&](std::uint64_t id, std::string what) {
    std::lock_guard lock(m);
    if (!failed || id < failed->first) failed = std::make_pair(id, std::move(what));
  };
  arena_.execute([&] {
    tbb::parallel_for(std::uint64_t{0}, count, [&](std::uint64_t i) {
      const auto p = b + i;
      out[i].resize(nbrs_[p].size());
      try {
        auto ctx = ctx_for(p, steps_);
        for (std::size_t j = 0; j < nbrs_[p].size(); ++j) job_.halo(*owned_.at(p), nbrs_[p][j], ctx, out[i][j]);
      } catch (const std::exception& ex) {
        note_failure(p, std::string("halo: ") + ex.what());
      }
    });
  });
  std::map<int, std::vector<double>> packed;
  const auto check_size = [&](std::uint64_t src, std::uint64_t dst, std::size_t got) {
    if (tail.err != step_tail::ok) return;
    if (auto want = job_.halo_size(partition_id{src}, partition_id{dst}); want && *want != got)
      tail = step_tail{step_tail::halo_size, double(src), double(dst), double(got), double(*want)};
  };
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto p = b + i;
    for (std::size_t j = 0; j < nbrs_[p].size(); ++j) {
      const auto q = nbrs_[p][j].value;
      check_size(p, q, out[i][j].size());
      const int r = place_.owner(q);
      if (r == me_) {
        const auto& back = nbrs_[q];
        const auto slot = static_cast<std::size_t>(std::find(back.begin(), back.end(), partition_id{p}) - back.begin());
        in_[q - b][slot] = std::move(out[i][j]);
      } else {
        auto& buf = packed[r];
        buf.insert(buf.end(), {double(p), double(q), double(out[i][j].size())});
        buf.insert(buf.end(), out[i][j].begin(), out[i][j].end());
      }
    }
  }
  std::vector<MPI_Request> sends;
  sends.reserve(packed.size());
  for (auto& [r, buf] : packed) {
    sends.emplace_back();
    PARTITA_MPI(MPI_Isend(buf.data(), static_cast<int>(buf.size()), MPI_DOUBLE, r, static_cast<int>(tag::halo), comm_,
                          &sends.back()));
  }
  // 2. Halos in: one message from each rank that owns a neighbour, matched as it comes (MPI_Improbe/Mrecv).
  std::size_t pending = expect_from_.size();
  const auto start = clock::now();
  std::vector<double> buf;
  int spins = 0;
  while (pending > 0) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    PARTITA_MPI(MPI_Improbe(MPI_ANY_SOURCE, static_cast<int>(tag::halo), comm_, &flag, &msg, &st));
    if (!flag) {
      if (++spins > 1000) {
        if (since(start) > config_.timeout_seconds)
          throw detail::peer_silent(steps_, fmt::format("step {}: halos from {} rank(s) did not arrive within "
                                                        "--timeout {} s (a rank is lost or hangs)",
                                                        steps_ + 1, pending, config_.timeout_seconds));
        std::this_thread::yield();
      }
      continue;
    }
    int n = 0;
    PARTITA_MPI(MPI_Get_count(&st, MPI_DOUBLE, &n));
    buf.resize(static_cast<std::size_t>(n));
    PARTITA_MPI(MPI_Mrecv(buf.data(), n, MPI_DOUBLE, &msg, MPI_STATUS_IGNORE));
    --pending;
    for (std::size_t pos = 0; pos + 3 <= buf.size();) {
      const auto src = static_cast<std::uint64_t>(buf[pos]), dst = static_cast<std::uint64_t>(buf[pos + 1]);
      const auto len = static_cast<std::size_t>(buf[pos + 2]);
      pos += 3;
      if (dst < b || dst >= e || pos + len > buf.size()) throw error("a halo message names a partition this rank does not own");
      const auto& nb = nbrs_[dst];
      const auto slot = static_cast<std::size_t>(std::find(nb.begin(), nb.end(), partition_id{src}) - nb.begin());
      if (slot == nb.size()) throw error("a halo message comes from a partition that is not a neighbour");
      in_[dst - b][slot].assign(buf.begin() + static_cast<std::ptrdiff_t>(pos),
                                buf.begin() + static_cast<std::ptrdiff_t>(pos + len));
      pos += len;
    }
  }
  // 3. The steps, on the arena, each partition timed; then its reduction values.
  const std::size_t nred = job_.reductions().size();
  std::vector<double> measured(count, 0.0), values(count * nred, 0.0);
  if (tail.err == step_tail::ok && !failed) {
    arena_.execute([&] {
      tbb::parallel_for(std::uint64_t{0}, count, [&](std::uint64_t i) {
        const auto p = b + i;
        std::vector<halo_view::entry> entries;
        entries.reserve(nbrs_[p].size());
        for (std::size_t j = 0; j < nbrs_[p].size(); ++j) entries.emplace_back(nbrs_[p][j], in_[i][j]);
        const auto t = clock::now();
        try {
          auto ctx = ctx_for(p, steps_);
          job_.step(*owned_.at(p), halo_view(entries), ctx);
          for (std::size_t k = 0; k < nred; ++k) values[i * nred + k] = job_.reduce_value(*owned_.at(p), k);
        } catch (const std::exception& ex) {
          note_failure(p, ex.what());
        }
        measured[i] = since(t);
        if (config_.trace) {
          const auto ns = [this](clock::time_point x) {
            return std::chrono::duration_cast<std::chrono::nanoseconds>(x - setup_.t0).count();
          };
          std::lock_guard lock(slices_mutex_);
          slices_.push_back({p, std::max(0, tbb::this_task_arena::current_thread_index()), ns(t), ns(clock::now())});
        }
      });
    });
  }
  if (failed && tail.err == step_tail::ok) tail = step_tail{step_tail::kernel, double(failed->first)};
  if (failed) failure_text_ = failed->second;
  double local_busy = 0;
  for (double t : measured) local_busy += t;
  busy_ += local_busy;
  tail.busy = local_busy;
  wait_bounded(sends, config_.timeout_seconds, steps_, fmt::format("step {}: sending halos", steps_ + 1));

  contribution.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    contribution.insert(contribution.end(), values.begin() + static_cast<std::ptrdiff_t>(i * nred),
                        values.begin() + static_cast<std::ptrdiff_t>((i + 1) * nred));
    contribution.push_back(measured[i]);
  }
  return tail;
}

void iterative_run::gather(const std::vector<double>& contribution, std::vector<double>& all) {
  const std::size_t per = job_.reductions().size() + 1;
  std::vector<int> counts(static_cast<std::size_t>(ranks_)), displs(static_cast<std::size_t>(ranks_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    counts[static_cast<std::size_t>(r)] = static_cast<int>((place_.end(r) - place_.begin(r)) * per + step_tail::size);
    displs[static_cast<std::size_t>(r)] = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  all.resize(static_cast<std::size_t>(total));
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Iallgatherv(contribution.data(), static_cast<int>(contribution.size()), MPI_DOUBLE, all.data(),
                              counts.data(), displs.data(), MPI_DOUBLE, comm_, req.data()));
  wait_bounded(req, config_.timeout_seconds, steps_, fmt::format("step {}: the reductions", steps_ + 1));
}

void iterative_run::raise(const step_tail& t, int from_rank) {
  const auto u = [](double x) { return static_cast<std::uint64_t>(x); };
  if (t.err == step_tail::halo_size)
    throw usage_error(fmt::format("job '{}': partition {} sent neighbour {} a halo of {} values, but the job "
                                  "declares {}; fix the halo function or halo_size", job_.name(), u(t.a), u(t.b),
                                  u(t.c), u(t.d)));
  if (from_rank == me_) throw kernel_error(job_.name(), u(t.a), failure_text_);
  // The rank whose kernel threw prints its message; the others only exit non-zero.
  throw remote_failure(fmt::format("partition {} failed on rank {}", u(t.a), from_rank));
}

void iterative_run::write_checkpoint_now(const std::string& why, bool stop, epoch_t epoch) {
  detail::iterative_state st;
  st.steps = steps_;
  st.partition_count = n_;
  st.reductions = red_;
  st.cost = cost_;
  st.run_seconds = earlier_seconds_ + since(setup_.t0);
  auto image = st.to_image();
  image.meta.job = job_.name();
  image.meta.params_hash = detail::params_hash(job_.params(), config_.seed, n_);
  image.meta.epoch = epoch;
  image.meta.rank_count = ranks_;
  for (const auto& [id, state] : owned_) detail::add_partition(image, id, steps_, job_.save(*state));
  const auto need = stop ? detail::checkpoint_need::required : detail::checkpoint_need::optional;
  const auto t = clock::now();
  if (coordinator_) {
    driver_->write(comm_, image, why, need, steps_, fmt::format("step {}", steps_));
    events_.push_back({fmt::format("checkpoint at step {}", steps_), me_,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(t - setup_.t0).count(),
                       std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t).count()});
    return;
  }
  try {
    write_checkpoint(comm_, store_options{*config_.checkpoint_dir, config_.keep}, image);
  } catch (const checkpoint_error& e) {
    if (stop) throw remote_failure(e.what());  // the coordinator reports it
  }
}

void iterative_run::rebalance() {
  if (ranks_ == 1 || steps_ == steps_at_start_) return;
  // Every input below came through the gather, so every rank takes the same decision without a message.
  const double now = detail::placement_imbalance(place_, cost_, threads_);
  const bool every = config_.rebalance_every_steps > 0 && steps_ % config_.rebalance_every_steps == 0;
  // The threshold is looked at every few steps, so a placement gets time to be measured before it is judged.
  const bool over = config_.imbalance_threshold > 0 && now > config_.imbalance_threshold &&
                    steps_ - last_rebalance_ >= 10;
  if (!every && !over) return;
  const auto next = detail::balanced_placement(cost_, threads_);
  const double then = detail::placement_imbalance(next, cost_, threads_);
  // Move only for a clear gain: measured costs are noisy, and a move costs a state transfer.
  if (next == place_ || !(then < now - 0.25 * (now - 1.0))) return;
  std::uint64_t moved = 0;
  for (std::uint64_t id = 0; id < n_; ++id) moved += place_.owner(id) != next.owner(id) ? 1 : 0;
  if (!every) {
    // On the threshold alone, the step time saved over the next 20 steps must pay for the move (assumed 0.2 ms a
    // partition: a message and a copy of its state); microsecond steps never migrate on noise.
    double total = 0;
    for (double c : cost_) total += std::max(0.0, c);
    double thread_sum = 0;
    for (int t : threads_) thread_sum += t;
    const double mean = total / thread_sum;
    if ((now - then) * mean * 20.0 < 2e-4 * static_cast<double>(moved)) return;
  }
  if (coordinator_)
    log().info("step {}: rebalancing, imbalance {:.3f} -> {:.3f} (predicted from measured costs), {} partition{} move",
               steps_, now, then, moved, moved == 1 ? "" : "s");
  const auto t = clock::now();
  migrate(next);
  migrations_ += moved;
  ++rebalances_;
  last_rebalance_ = steps_;
  if (coordinator_)
    events_.push_back({fmt::format("rebalance at step {}: {} moved, imbalance {:.3f} -> {:.3f}", steps_, moved, now, then),
                       me_, std::chrono::duration_cast<std::chrono::nanoseconds>(t - setup_.t0).count(),
                       std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t).count()});
}

void iterative_run::migrate(const detail::placement& next) {
  std::vector<bytes> outgoing;
  std::vector<MPI_Request> sends;
  outgoing.reserve(owned_.size());
  for (auto it = owned_.begin(); it != owned_.end();) {
    const int to = next.owner(it->first);
    if (to == me_) {
      ++it;
      continue;
    }
    bytes msg(8);
    std::memcpy(msg.data(), &it->first, 8);
    detail::encode_arrays(msg, job_.save(*it->second));
    outgoing.push_back(std::move(msg));
    sends.emplace_back();
    PARTITA_MPI(MPI_Isend(outgoing.back().data(), static_cast<int>(outgoing.back().size()), MPI_BYTE, to,
                          static_cast<int>(tag::migrate), comm_, &sends.back()));
    it = owned_.erase(it);
  }
  std::size_t pending = 0;
  for (auto id = next.begin(me_); id < next.end(me_); ++id) pending += place_.owner(id) != me_ ? 1 : 0;
  const auto start = clock::now();
  bytes buf;
  while (pending > 0) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    PARTITA_MPI(MPI_Improbe(MPI_ANY_SOURCE, static_cast<int>(tag::migrate), comm_, &flag, &msg, &st));
    if (!flag) {
      if (since(start) > config_.timeout_seconds)
        throw detail::peer_silent(steps_, fmt::format("step {}: {} migrating partition(s) did not arrive within "
                                                      "--timeout {} s", steps_, pending, config_.timeout_seconds));
      std::this_thread::yield();
      continue;
    }
    int n = 0;
    PARTITA_MPI(MPI_Get_count(&st, MPI_BYTE, &n));
    buf.resize(static_cast<std::size_t>(n));
    PARTITA_MPI(MPI_Mrecv(buf.data(), n, MPI_BYTE, &msg, MPI_STATUS_IGNORE));
    std::uint64_t id = 0;
    if (buf.size() < 8) throw error("a migration message is truncated");
    std::memcpy(&id, buf.data(), 8);
    std::size_t pos = 8;
    owned_[id] = job_.load(partition_id{id}, detail::decode_arrays(buf, pos));
    --pending;
  }
  wait_bounded(sends, config_.timeout_seconds, steps_, "migrating partitions");
  place_ = next;
  plan_halos();
}

std::vector<std::unique_ptr<partition_state>> iterative_run::gather_final_states(std::string& digest) {
  bytes mine;
  for (const auto& [id, state] : owned_) {
    const auto at = mine.size();
    mine.resize(at + 8);
    std::memcpy(mine.data() + at, &id, 8);
    detail::encode_arrays(mine, job_.save(*state));
  }
  const int root = setup_.scheduler.value;
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<std::size_t>(ranks_)), displs(static_cast<std::size_t>(ranks_));
  PARTITA_MPI(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    displs[static_cast<std::size_t>(r)] = total;
    total += lens[static_cast<std::size_t>(r)];
  }
  bytes all(coordinator_ ? static_cast<std::size_t>(total) : 0);
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Igatherv(mine.data(), len, MPI_BYTE, all.data(), lens.data(), displs.data(), MPI_BYTE, root, comm_,
                           req.data()));
  wait_bounded(req, config_.timeout_seconds, steps_, "gathering the final states");
  std::vector<std::unique_ptr<partition_state>> states(coordinator_ ? n_ : 0);
  if (!coordinator_) return states;
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<std::vector<state_array>> arrays(n_);
  for (std::size_t pos = 0; pos < all.size();) {
    std::uint64_t id = 0;
    std::memcpy(&id, all.data() + pos, 8);
    pos += 8;
    if (id >= n_) throw error("the final gather names a partition that does not exist");
    arrays[id] = detail::decode_arrays(all, pos);
  }
  for (std::uint64_t id = 0; id < n_; ++id) {
    h = fnv1a(h, &id, 8);
    for (const auto& a : arrays[id]) {
      h = fnv1a(h, a.name.data(), a.name.size());
      h = fnv1a(h, a.data.data(), a.data.size());
    }
    states[id] = job_.load(partition_id{id}, arrays[id]);
  }
  digest = fmt::format("{:016x}", h);
  return states;
}

std::vector<detail::rank_trace> iterative_run::gather_slices() {
  // Collective: every rank's slices as raw structs to the coordinator (trace_slice is plain data).
  static_assert(std::is_trivially_copyable_v<trace_slice>);
  const int root = setup_.scheduler.value;
  int len = static_cast<int>(slices_.size() * sizeof(trace_slice));
  std::vector<int> lens(static_cast<std::size_t>(ranks_)), displs(static_cast<std::size_t>(ranks_));
  PARTITA_MPI(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    displs[static_cast<std::size_t>(r)] = total;
    total += lens[static_cast<std::size_t>(r)];
  }
  std::vector<trace_slice> all(coordinator_ ? static_cast<std::size_t>(total) / sizeof(trace_slice) : 0);
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Igatherv(slices_.data(), len, MPI_BYTE, all.data(), lens.data(), displs.data(), MPI_BYTE, root,
                           comm_, req.data()));
  wait_bounded(req, config_.timeout_seconds, steps_, "gathering the trace");
  std::vector<detail::rank_trace> out;
  if (!coordinator_) return out;
  for (int r = 0; r < ranks_; ++r) {
    const auto b = all.begin() + displs[static_cast<std::size_t>(r)] / static_cast<int>(sizeof(trace_slice));
    out.push_back({r, s_.nodes().hosts.at(static_cast<std::size_t>(s_.nodes().node_of(r))),
                   std::vector<trace_slice>(b, b + lens[static_cast<std::size_t>(r)] / static_cast<int>(sizeof(trace_slice)))});
  }
  return out;
}

run_report iterative_run::run() {
  check_graph();
  std::optional<detail::restart_point> restart;
  if (coordinator_) {
    // An unusable --restart FILE must stop every rank: the others wait in start()'s broadcast for the verdict.
    std::exception_ptr problem;
    try {
      restart = detail::find_restart(config_, {job_.name(), detail::params_hash(job_.params(), config_.seed, n_),
                                               detail::iterative_state::model});
    } catch (...) {
      problem = std::current_exception();
    }
    int bad = problem ? 1 : 0;
    PARTITA_MPI(MPI_Bcast(&bad, 1, MPI_INT, setup_.scheduler.value, comm_));
    if (problem) std::rethrow_exception(problem);
  } else {
    int bad = 0;
    PARTITA_MPI(MPI_Bcast(&bad, 1, MPI_INT, setup_.scheduler.value, comm_));
    if (bad) throw remote_failure("the checkpoint to restart from is unusable");
  }
  start(std::move(restart));
  plan_halos();
  if (coordinator_)
    driver_ = std::make_unique<detail::checkpoint_driver>(s_, config_, setup_, job_.name(), earlier_seconds_, steps_);
  std::optional<detail::progress_meter> meter;
  if (coordinator_)
    meter.emplace("steps", job_.max_steps(), steps_, config_.progress_interval_seconds, config_.quiet);

  run_report rep;
  rep.job = job_.name();
  rep.model = "iterative";
  rep.policy = "contiguous";
  rep.is_scheduler = coordinator_;
  rep.scheduler = setup_.scheduler;
  rep.ranks = ranks_;
  rep.partitions = n_;
  rep.restored_from = restored_from_;
  rep.restored_done = steps_;
  for (const auto& r : job_.reductions()) rep.reduction_names.push_back(r.name);

  const std::size_t nred = job_.reductions().size(), per = nred + 1;
  std::vector<double> contribution, all;
  // A partition's cost is the least of its last few measured step times: what a rank loses to being descheduled
  // (a loaded node, a wake-up delay) only ever adds to a measurement, so the minimum filters it out, and a cost
  // that really changes is followed within a window. Every rank keeps the same window (same gathered numbers).
  constexpr std::size_t window = 8;
  std::vector<double> recent(n_ * window, std::numeric_limits<double>::infinity());
  for (std::uint64_t id = 0; id < n_; ++id)
    if (cost_[id] > 0) recent[id * window] = cost_[id];  // restored from a checkpoint
  bool done = steps_ > 0 && job_.done(steps_, red_);
  bool measured_start = false;
  while (!done) {
    watchdog_.pet("running a step");
    auto tail = exchange_and_step(contribution);
    if (coordinator_ && tail.err == step_tail::ok) {
      // What every rank does at the end of this step: decided here, carried by the reductions' gather.
      std::string why = driver_->stop_signal();
      bool stop = !why.empty();
      if (!stop && driver_->enabled() && driver_->out_of_time()) {
        why = "the wall time runs out";
        stop = true;
      }
      if (!stop) why = driver_->due_now(steps_ + 1);
      if (!why.empty()) {
        tail.control = stop ? step_tail::checkpoint_and_stop : step_tail::checkpoint;
        tail.epoch = static_cast<double>(driver_->next_epoch().value);
        stop_reason_ = why;
      }
    }
    tail.put(contribution);
    gather(contribution, all);
    // Errors first (the lowest rank that saw one speaks for all), then the fold in partition-id order.
    std::vector<step_tail> tails(static_cast<std::size_t>(ranks_));
    std::vector<double> values(n_ * nred);
    std::size_t pos = 0;
    for (int r = 0; r < ranks_; ++r) {
      for (auto id = place_.begin(r); id < place_.end(r); ++id) {
        for (std::size_t k = 0; k < nred; ++k) values[k * n_ + id] = all[pos + k];
        const double m = all[pos + nred];
        recent[id * window + steps_ % window] = m;
        cost_[id] = *std::min_element(recent.begin() + static_cast<std::ptrdiff_t>(id * window),
                                      recent.begin() + static_cast<std::ptrdiff_t>((id + 1) * window));
        pos += per;
      }
      tails[static_cast<std::size_t>(r)] = step_tail::get(&all[pos]);
      pos += step_tail::size;
    }
    for (int r = 0; r < ranks_; ++r)
      if (tails[static_cast<std::size_t>(r)].err != step_tail::ok) {
        cancel_ = true;
        raise(tails[static_cast<std::size_t>(r)], r);
      }
    for (std::size_t k = 0; k < nred; ++k)
      red_[k] = fold_in_id_order(job_, k, std::span<const double>(values).subspan(k * n_, n_));
    ++steps_;
    crash_point("step.done");
    if (coordinator_) crash_point("scheduler.commit");
    if (!measured_start) {
      imbalance_start_ = detail::placement_imbalance(place_, cost_, threads_);
      measured_start = true;
    }
    done = job_.done(steps_, red_);
    const auto& ctl = tails[static_cast<std::size_t>(setup_.scheduler.value)];
    if (meter) {
      std::string extra;
      for (std::size_t k = 0; k < nred; ++k) extra += fmt::format("{}{} {:.4g}", k ? ", " : "", rep.reduction_names[k], red_[k]);
      meter->update(steps_, extra, done);
    }
    if (ctl.control != step_tail::go_on && !done) {
      const bool stop = ctl.control == step_tail::checkpoint_and_stop;
      watchdog_.pet("writing a checkpoint (collective)");
      write_checkpoint_now(stop_reason_.empty() ? "every N steps" : stop_reason_, stop,
                           epoch_t{static_cast<std::uint64_t>(ctl.epoch)});
      if (stop) {
        rep.status = run_status::checkpointed;
        rep.stop_reason = stop_reason_;
        break;
      }
      stop_reason_.clear();
    }
    if (!done) rebalance();
  }
  if (meter) meter->finish();

  rep.steps = steps_;
  rep.steps_run = steps_ - steps_at_start_;
  rep.partitions_run = rep.steps_run * n_;
  rep.reduction_values = red_;
  rep.migrations = migrations_;
  rep.rebalances = rebalances_;
  rep.imbalance_start = imbalance_start_;
  rep.imbalance_end = detail::placement_imbalance(place_, cost_, threads_);
  watchdog_.pet("ending the job (collective)");
  if (rep.status == run_status::completed) {
    auto states = gather_final_states(rep.state_digest);
    if (coordinator_) job_.conclude(steps_, red_, std::move(states));
  }
  // Per-rank busy time (and with --trace the step slices) to the coordinator for the summary.
  std::vector<detail::rank_trace> traces;
  if (config_.trace) traces = gather_slices();
  std::vector<double> busy(static_cast<std::size_t>(ranks_));
  std::vector<double> owned_now(static_cast<std::size_t>(ranks_));
  PARTITA_MPI(MPI_Gather(&busy_, 1, MPI_DOUBLE, busy.data(), 1, MPI_DOUBLE, setup_.scheduler.value, comm_));
  rep.wall_seconds = since(setup_.t0);
  if (coordinator_) {
    std::vector<worker_summary> rows;
    for (int r = 0; r < ranks_; ++r) {
      auto w = detail::worker_row(s_, setup_, r);
      w.busy_seconds = busy[static_cast<std::size_t>(r)];
      w.partitions = (place_.end(r) - place_.begin(r));
      rows.push_back(std::move(w));
    }
    detail::add_worker_rows(rep, std::move(rows));
    rep.partitions = n_;
    rep.partitions_run = rep.steps_run * n_;
    const auto& cs = driver_->stats();
    rep.checkpoints = cs.count;
    rep.checkpoint_seconds = cs.seconds;
    rep.checkpoint_bytes = cs.bytes;
    std::string text = fmt::format("{} steps", steps_);
    for (std::size_t k = 0; k < nred; ++k) text += fmt::format(", {} {}", rep.reduction_names[k], red_[k]);
    if (!rep.state_digest.empty()) text += ", state " + rep.state_digest;
    rep.result_text = text;
    if (config_.trace) detail::write_trace(*config_.trace, job_.name(), traces, events_, setup_.scheduler.value);
  }
  return rep;
}

}  // namespace

run_report run_iterative(session& s, iterative_job_model& job, const run_config& config) {
  detail::check_run_config(config);
  // Options of the map/reduce dispatcher have no meaning here: say so rather than ignore them.
  const auto refuse = [](const char* flag) {
    throw usage_error(fmt::format("{} applies to map/reduce jobs only; an iterative job places partitions by measured "
                                  "cost (see --rebalance-every, --imbalance-threshold)", flag));
  };
  if (config.policy != run_config{}.policy) refuse("--policy");
  if (config.chunk != 0) refuse("--chunk");
  if (config.prefetch != run_config{}.prefetch) refuse("--prefetch");
  if (config.max_chunks_per_message != 0) refuse("--max-chunks-per-message");
  if (!config.scheduler_runs_partitions) refuse("--dedicated-scheduler");
  if (!config.speculate || config.speculation_factor != run_config{}.speculation_factor) refuse("--speculate/--speculation-factor");
  if (config.imbalance_threshold < 0) throw usage_error("--imbalance-threshold must be 0 (off) or more, e.g. 1.1");
  if (job.partition_count() == 0) throw usage_error("job '" + job.name() + "' has no partitions");
  // Under in-job recovery a lost rank does not end the run: the survivors agree on who is left, form a
  // communicator of their own and go on from the last checkpoint (docs/design.md, "In-job rollback").
  const auto t0 = clock::now();
  run_config attempt = config;
  std::vector<rollback_summary> rollbacks;
  detail::checkpoint_stats earlier;  // written by this rank as the coordinator of attempts that ended in a rollback
  for (;;) {
    detail::job_comm comm(s.comm());
    auto setup = detail::set_up(s, attempt, comm.get());
    setup.t0 = t0;  // the summary's wall time covers every attempt
    if (rollbacks.empty()) detail::arm_injection(s, config, setup, "step.done");
    const bool recover = setup.failover && s.size() > 1;
    detail::stall_watchdog watchdog(3 * config.timeout_seconds + 10, recover);
    iterative_run runner(s, job, attempt, setup, watchdog);
    const auto note_start = [&] {
      if (rollbacks.empty()) return;
      rollbacks.back().from_step = runner.started_at();
      rollbacks.back().checkpoint = runner.restored_from();
    };
    try {
      auto rep = runner.run();
      note_start();
      rep.rollbacks = std::move(rollbacks);
      if (rep.is_scheduler) {
        rep.checkpoints += earlier.count;
        rep.checkpoint_seconds += earlier.seconds;
        rep.checkpoint_bytes += earlier.bytes;
      }
      return rep;
    } catch (const detail::peer_silent& e) {
      if (!recover) throw;
      note_start();
      const auto written = runner.checkpoints_written();
      earlier.count += written.count;
      earlier.seconds += written.seconds;
      earlier.bytes += written.bytes;
      rollback_summary r;
      r.noticed_at_seconds = since(t0);
      r.lost_at_step = e.step();
      r.ranks_before = s.size();
      log().warn("{}; rolling back in this run: the survivors agree on who is left ({:.0f} s at most)", e.what(),
                 2 * config.timeout_seconds);
      watchdog.pet("agreeing on the surviving ranks");
      const auto who = detail::agree_on_survivors(comm.get(), config.timeout_seconds);
      comm.abandon();
      if (who.ranks.empty()) return detail::left_job_report(job.name());
      if (who.ranks.front() == s.rank().value)
        for (int lost : who.lost) detail::record_lost_rank(s, config, job.name(), lost);
      watchdog.pet("forming a communicator of the survivors");
      s.continue_with(who.ranks);
      r.lost_ranks = who.lost;
      r.ranks_after = s.size();
      r.resumed_at_seconds = since(t0);
      if (s.rank().value == 0)
        log().warn("in-job rollback: rank(s) {} lost after step {}; {} of {} ranks go on from {}", fmt::join(r.lost_ranks, ", "),
                   r.lost_at_step, r.ranks_after, r.ranks_before,
                   config.checkpoint_dir ? "the last checkpoint" : (config.restart ? *config.restart : "the start"));
      if (config.checkpoint_dir) attempt.restart = "auto";
      if (config.inject) arm_crash_point("");  // --inject fires once per job: a survivor must not fire it again
      rollbacks.push_back(std::move(r));
    }
  }
}

}  // namespace partita
