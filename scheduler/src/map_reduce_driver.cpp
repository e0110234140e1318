#include <partita/scheduler/map_reduce_driver.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <fmt/format.h>

#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/restart.hpp>
#include <partita/checkpoint/writer.hpp>
#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/election.hpp>
#include <partita/runtime/signals.hpp>
#include <partita/scheduler/checkpoint_schedule.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/protocol.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/dispatcher.hpp>
#include <partita/scheduler/executor.hpp>

namespace partita {

namespace {

using clock = std::chrono::steady_clock;
using detail::msg;
using seconds_d = std::chrono::duration<double>;

std::chrono::nanoseconds to_ns(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(seconds_d(s));
}

double since(clock::time_point t) { return seconds_d(clock::now() - t).count(); }
/// Seconds for a log line: milliseconds below 10 s, tenths above.
std::string seconds_text(double s) { return s < 10 ? fmt::format("{:.3f}", s) : fmt::format("{:.1f}", s); }

std::string eta_text(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--:--";
  const auto t = static_cast<long>(s);
  return fmt::format("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

/// Whether the person watching sees a terminal. Under mpirun a rank's stderr is always a pipe to the
/// launcher, so ask the launcher too: if the parent process (mpirun, or orted on another node) writes its
/// stderr to a terminal, the live line reaches it. Slurm batch output files are not terminals.
bool watched_on_terminal() {
  if (isatty(STDERR_FILENO) == 1) return true;
  char link[256] = {};
  const auto path = "/proc/" + std::to_string(getppid()) + "/fd/2";
  const auto n = readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  const std::string target(link, static_cast<std::size_t>(n));
  return target.rfind("/dev/pts/", 0) == 0 || target.rfind("/dev/tty", 0) == 0;
}

/// Progress on the scheduler rank: a live line on a terminal, a log line every few seconds otherwise.
class progress_meter {
 public:
  progress_meter(std::uint64_t total, std::uint64_t already, double interval, bool quiet)
      : total_(total), start_done_(already), interval_(interval), quiet_(quiet), tty_(watched_on_terminal()),
        start_(clock::now()), last_(start_) {}

  void update(std::uint64_t done, bool force = false) {
    if (quiet_) return;
    const auto now = clock::now();
    const double step = tty_ ? 0.2 : interval_;
    if (!force && seconds_d(now - last_).count() < step) return;
    last_ = now;
    const double elapsed = std::max(1e-9, seconds_d(now - start_).count());
    const double rate = static_cast<double>(done - start_done_) / elapsed;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
    const double pct = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
    const auto line = fmt::format("{}/{} partitions ({:.1f}%), {:.0f}/s, ETA {}", done, total_, pct, rate, eta_text(eta));
    if (tty_) {
      std::fprintf(stderr, "\r[partita] %s\033[K", line.c_str());
      std::fflush(stderr);
      shown_ = true;
    } else {
      log().info("progress: {}", line);
    }
  }

  void finish() {
    if (tty_ && shown_) std::fputc('\n', stderr);
  }

 private:
  std::uint64_t total_, start_done_;
  double interval_;
  bool quiet_, tty_, shown_ = false;
  clock::time_point start_, last_;
};

/// The job's own communicator (a duplicate), so that messages of a job that failed can never reach the next
/// job run by the same ranks. Non-copyable.
class job_comm {
 public:
  explicit job_comm(MPI_Comm parent) {
    PARTITA_MPI(MPI_Comm_dup(parent, &comm_));
    PARTITA_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  }
  ~job_comm() {
    if (MPI_Comm_free(&comm_) != MPI_SUCCESS) log().warn("could not free the job's communicator");
  }
  job_comm(const job_comm&) = delete;
  job_comm& operator=(const job_comm&) = delete;
  MPI_Comm get() const noexcept { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

struct job_setup {
  MPI_Comm comm = MPI_COMM_NULL;
  rank_t scheduler;
  std::vector<int> threads;  // per rank; 0 for a dedicated scheduler
  clock::time_point t0;
  std::vector<failure_event> history;  // the job's failure history, read once at start-up
};

/// The collective part: election and thread counts (the last collectives before the job runs).
job_setup set_up(session& s, const run_config& config, MPI_Comm comm) {
  job_setup setup;
  setup.comm = comm;
  setup.history = read_failure_events(config.failure_history_file());  // none when there is no file
  const auto me = make_candidate(s.nodes(), s.rank().value, suspect_hosts(setup.history));
  const auto elected = elect_scheduler(comm, me, config.scheduler_rank);
  setup.scheduler = elected.scheduler;
  int mine = config.threads > 0 ? config.threads : s.env().cpus_per_rank;
  if (s.rank() == setup.scheduler && !config.scheduler_runs_partitions) mine = 0;
  setup.threads.assign(static_cast<std::size_t>(s.size()), 0);
  PARTITA_MPI(MPI_Allgather(&mine, 1, MPI_INT, setup.threads.data(), 1, MPI_INT, comm));
  if (s.size() == 1 && mine == 0)
    throw usage_error("--dedicated-scheduler needs at least two ranks: with one rank nobody would run partitions");
  setup.t0 = clock::now();
  return setup;
}

/// Arms --inject on this rank: a crash point that SIGKILLs the rank, after recording the failure in the
/// job's failure history. An injection the history shows as already fired stays disarmed, so a relaunch with
/// the same arguments (slurm/partita-launch.sh adds only --restart auto) runs to the end.
void arm_injection(const session& s, const run_config& config, const job_setup& setup) {
  if (!config.inject) return;
  const auto history = config.failure_history_file();
  const std::string mark = "injected " + config.inject->text();
  for (const auto& e : setup.history)
    if (e.reason.starts_with(mark)) {
      if (s.rank() == setup.scheduler)
        log().info("--inject {}: already fired in this job ({}); not again", config.inject->text(), history.string());
      arm_crash_point("");
      return;
    }
  const auto& rank = config.inject->rank;
  if (rank && *rank >= s.size())
    throw usage_error(fmt::format("--inject {}: there is no rank {} in a job of {} ranks", config.inject->text(),
                                  *rank, s.size()));
  const std::string point = rank ? fmt::format("partition.done@{}:{}", *rank, config.inject->after)
                                 : fmt::format("scheduler.commit:{}", config.inject->after);
  std::function<void()> record;
  if (!history.empty()) {
    const auto host = s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(s.rank().value)));
    record = [history, host, why = fmt::format("{} (rank {})", mark, s.rank().value)] {
      try {
        append_failure_history(history, host, why);
      } catch (...) {  // the rank dies next either way; an unwritable history only means it may fire again
      }
    };
  }
  arm_crash_point(point, std::move(record));
}

/// What decides a map/reduce job's result: its parameters, seed and partition count (not the policy, threads
/// or rank count). A checkpoint of other parameters must never be mixed into this run.
std::uint64_t job_params_hash(const map_job_model& job, const run_config& c) {
  std::uint64_t h = job.params().hash();
  for (std::uint64_t v : {c.seed, job.partition_count()}) h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

/// The scheduler's state as a checkpoint restored it.
struct restored_state {
  std::string file;
  epoch_t epoch{0};
  bytes accumulator;
  std::uint64_t folded = 0;               // results of ids below this are folded into the accumulator
  std::vector<bool> done;                 // committed ids (folded or held)
  std::map<std::uint64_t, bytes> held;    // committed, not yet folded
  std::vector<float> measured;            // seconds per partition, NaN where not measured
  std::uint64_t measured_count = 0;
  std::uint64_t done_count = 0;
  double run_seconds = 0;                 // the job's running time over all earlier runs, up to that checkpoint
};

checkpoint_expectation expectation(const map_job_model& job, std::uint64_t hash) {
  return checkpoint_expectation{job.name(), hash, "map_reduce"};
}

/// Reads the checkpoint to restart from (--restart auto | FILE) on the scheduler rank. Throws
/// checkpoint_error naming the file and the problem when an explicitly named file cannot be used.
std::optional<restored_state> load_restart(const map_job_model& job, const run_config& c, std::uint64_t hash) {
  if (!c.restart) return std::nullopt;
  std::filesystem::path file;
  if (*c.restart == "auto") {
    auto choice = select_restart(*c.checkpoint_dir, expectation(job, hash));
    for (const auto& why : choice.skipped) log().warn("restart: passed over {}", why);
    if (!choice.file) {
      log().info("restart: no usable checkpoint of job '{}' in {}: starting fresh", job.name(),
                 c.checkpoint_dir->string());
      return std::nullopt;
    }
    file = *choice.file;
  } else {
    file = *c.restart;
  }
  const auto image = read_checkpoint(file, expectation(job, hash));
  const auto n = job.partition_count();
  auto bad = [&](const std::string& what) { return checkpoint_error(file.string(), what); };
  if (image.meta.partition_count != n)
    throw bad(fmt::format("it has {} partitions, this job {}", image.meta.partition_count, n));
  restored_state r;
  r.file = file.string();
  r.epoch = image.meta.epoch;
  const auto acc = image.blobs.find("scheduler/accumulator");
  const auto folded = image.u64.find("scheduler/folded_prefix");
  const auto ranges = image.u64.find("scheduler/done_ranges");
  if (acc == image.blobs.end() || folded == image.u64.end() || ranges == image.u64.end() || folded->second.size() != 1 ||
      ranges->second.size() % 2 != 0)
    throw bad("the scheduler state (accumulator, folded prefix, done ranges) is missing or malformed");
  r.accumulator = acc->second;
  r.folded = folded->second[0];
  if (r.folded > n) throw bad("its folded prefix is past the last partition");
  r.done.assign(n, false);
  for (std::size_t i = 0; i < ranges->second.size(); i += 2) {
    const auto b = ranges->second[i], e = ranges->second[i + 1];
    if (b >= e || e > n) throw bad(fmt::format("done range [{}, {}) is outside 0..{}", b, e, n));
    for (auto id = b; id < e; ++id) r.done[id] = true;
  }
  for (std::uint64_t id = 0; id < r.folded; ++id)
    if (!r.done[id]) throw bad(fmt::format("partition {} is folded but not marked done", id));
  const auto ids = image.u64.find("scheduler/held_ids");
  const auto ends = image.u64.find("scheduler/held_ends");
  const auto data = image.blobs.find("scheduler/held_results");
  if (ids == image.u64.end() || ends == image.u64.end() || data == image.blobs.end() ||
      ids->second.size() != ends->second.size())
    throw bad("the held results (held_ids, held_ends, held_results) are missing or disagree");
  std::uint64_t begin = 0;
  for (std::size_t i = 0; i < ids->second.size(); ++i) {
    const auto id = ids->second[i], end = ends->second[i];
    if (id >= n || id < r.folded || !r.done[id]) throw bad(fmt::format("stray result for partition {}", id));
    if (end < begin || end > data->second.size()) throw bad(fmt::format("result of partition {} is out of bounds", id));
    r.held.emplace(id, bytes(data->second.begin() + static_cast<long>(begin), data->second.begin() + static_cast<long>(end)));
    begin = end;
  }
  for (std::uint64_t id = r.folded; id < n; ++id)
    if (r.done[id] && !r.held.count(id)) throw bad(fmt::format("partition {} is done but its result is missing", id));
  r.measured.assign(n, std::nanf(""));
  if (auto cost = image.f64.find("scheduler/cost"); cost != image.f64.end() && cost->second.size() == n)
    for (std::uint64_t id = 0; id < n; ++id)
      if (std::isfinite(cost->second[id])) {
        r.measured[id] = static_cast<float>(cost->second[id]);
        ++r.measured_count;
      }
  r.done_count = static_cast<std::uint64_t>(std::count(r.done.begin(), r.done.end(), true));
  if (auto run = image.f64.find("scheduler/run_seconds");
      run != image.f64.end() && run->second.size() == 1 && std::isfinite(run->second[0]) && run->second[0] >= 0)
    r.run_seconds = run->second[0];
  log().info("restart: from {} (epoch {}): {} of {} partitions already done, {} measured costs", r.file,
             r.epoch.value, r.done_count, n, r.measured_count);
  return r;
}

/// Sends abort to every rank marked alive and drains until each acknowledged (bounded by the timeout):
/// whatever a worker sent before its acknowledgement is then consumed here, so nothing of this job is
/// left in flight to reach the next one.
void abort_workers(transport<msg>& tp, const std::vector<bool>& alive, const std::string& what, double timeout_s) {
  std::vector<bool> waiting = alive;
  int left = 0;
  for (std::size_t r = 0; r < alive.size(); ++r)
    if (alive[r]) {
      bytes payload;
      detail::wire_writer(payload).put_string(what);
      tp.send_bytes(rank_t{static_cast<int>(r)}, msg::abort, std::move(payload));
      ++left;
    }
  const auto deadline = clock::now() + to_ns(std::min(10.0, timeout_s));
  while (left > 0 && clock::now() < deadline) {
    auto m = tp.wait(std::chrono::milliseconds(20));
    if (m && m->tag == msg::aborted && waiting[static_cast<std::size_t>(m->source.value)]) {
      waiting[static_cast<std::size_t>(m->source.value)] = false;
      --left;
    }
  }
  if (left > 0) log().warn("{} worker(s) did not acknowledge the abort", left);
  tp.flush_or_abandon(std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------------------------------------
// Scheduler rank
// ---------------------------------------------------------------------------------------------------------
class scheduler_loop {
 public:
  scheduler_loop(session& s, map_job_model& job, const run_config& config, const job_setup& setup,
                 std::uint64_t params_hash, std::optional<restored_state> restored)
      : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm), hash_(params_hash),
        restored_(std::move(restored)),
        dispatch_(job.partition_count(), setup.threads, make_policy(config.policy, config.chunk), make_options()),
        peers_(static_cast<std::size_t>(s.size())),
        progress_(job.partition_count(), dispatch_.done_count(), config.progress_interval_seconds, config.quiet),
        schedule_(make_triggers(), setup.t0) {
    job_.reset();
    measured_.assign(job.partition_count(), std::nanf(""));
    if (restored_) {
      job_.restore(restored_->accumulator);
      next_fold_ = restored_->folded;
      held_ = std::move(restored_->held);
      measured_ = std::move(restored_->measured);
      committed_at_checkpoint_ = restored_->done_count;
      schedule_.resume_from(restored_->done_count);
    }
    if (config_.checkpoint_dir) {
      const auto newest = newest_epoch(*config_.checkpoint_dir, job_.name());
      next_epoch_ = newest ? newest->value + 1 : 1;
    }
    const int me = s.rank().value;
    if (setup.threads[static_cast<std::size_t>(me)] > 0)
      local_ = std::make_unique<executor>(job, setup.threads[static_cast<std::size_t>(me)], config.seed,
                                          config.trace.has_value(), setup.t0, s.rank());
    const auto now = clock::now();
    for (auto& p : peers_) p.last_heard = p.last_sent = now;
    peers_[static_cast<std::size_t>(me)].alive = false;  // not a remote peer
  }

  run_report run() {
    event("job start");
    std::string stop;
    while (!(dispatch_.finished() && next_fold_ == job_.partition_count())) {
      speculation_round_ = speculation_due();
      bool busy = serve_local();
      busy |= serve_messages();
      serve_parked();
      keep_alive();
      progress_.update(dispatch_.done_count());
      stop = checkpoint_if_due();
      if (!stop.empty()) break;
      if (!busy) idle_wait();
    }
    progress_.update(dispatch_.done_count(), true);
    progress_.finish();
    if (stop.empty() && config_.checkpoint_dir && dispatch_.done_count() > committed_at_checkpoint_)
      checkpoint("end of job", false);
    event("job end");
    return finish(stop);
  }

  /// Stops workers when the scheduler fails before its loop exists (e.g. an unusable checkpoint).
  static void abort_before_start(session& s, const run_config& config, const job_setup& setup,
                                 const std::string& what) noexcept {
    try {
      transport<msg> tp(setup.comm);
      std::vector<bool> alive(static_cast<std::size_t>(s.size()), true);
      alive[static_cast<std::size_t>(setup.scheduler.value)] = false;
      abort_workers(tp, alive, what, config.timeout_seconds);
    } catch (const std::exception& e) {
      log().error("could not tell the workers that the job failed: {}", e.what());
    }
  }

  /// Fails the job: tells every worker, then throws on this rank. Only the scheduler reports the error.
  [[noreturn]] void fail(const kernel_failure& f) {
    const auto err = kernel_error(job_.name(), f.id, f.message);
    log().error("{}", err.what());
    broadcast_abort(err.what());
    throw err;
  }

  void broadcast_abort(const std::string& what) noexcept {
    try {
      std::vector<bool> alive;
      for (const auto& p : peers_) alive.push_back(p.alive);
      abort_workers(tp_, alive, what, config_.timeout_seconds);
    } catch (const std::exception& e) {
      log().error("could not tell every worker that the job failed: {}", e.what());
    }
    if (local_) local_->cancel();
  }

 private:
  struct peer {
    bool alive = true;
    clock::time_point last_heard, last_sent;
    std::uint32_t parked = 0;  // chunks asked for that the scheduler could not hand out yet
    std::uint64_t messages = 0;
  };

  dispatcher_options make_options() const {
    dispatcher_options o;
    o.fixed_chunk = config_.chunk;
    o.speculation.enabled = config_.speculate;
    o.speculation.factor = config_.speculation_factor;
    if (restored_) o.done = restored_->done;
    if (config_.policy == "cost") {
      // Measured costs from the previous run where there are any; the job's hints elsewhere, scaled to
      // seconds by the partitions that have both.
      const auto n = job_.partition_count();
      o.costs.resize(n);
      double hinted = 0, measured = 0;
      for (std::uint64_t i = 0; i < n; ++i) {
        o.costs[i] = static_cast<float>(job_.cost_hint(partition_id{i}));
        if (restored_ && !std::isnan(restored_->measured[i]) && o.costs[i] > 0) {
          hinted += o.costs[i];
          measured += restored_->measured[i];
        }
      }
      const double scale = hinted > 0 ? measured / hinted : 1.0;
      for (std::uint64_t i = 0; i < n; ++i) {
        const bool have = restored_ && !std::isnan(restored_->measured[i]);
        o.costs[i] = have ? restored_->measured[i] : static_cast<float>(o.costs[i] * scale);
      }
      if (restored_ && restored_->measured_count > 0)
        log().info("cost policy: ordering by {} measured costs from the checkpoint, hints for the rest",
                   restored_->measured_count);
    }
    return o;
  }

  checkpoint_triggers make_triggers() const {
    checkpoint_triggers t;
    t.every_partitions = config_.checkpoint_every_partitions;
    t.every_seconds = config_.checkpoint_every_seconds;
    t.young_daly = config_.checkpoint_interval_auto;
    if (config_.walltime_seconds) t.seconds_left = *config_.walltime_seconds;
    else if (auto left = s_.env().seconds_left()) t.seconds_left = *left;
    if (!config_.checkpoint_dir) return checkpoint_triggers{};
    std::string source = " (from --mtti)";
    if (config_.mtti_seconds > 0) {
      t.mtti_seconds = config_.mtti_seconds;
    } else {
      t.mtti_seconds = 24 * 3600.0;
      source = " (assumed: no --mtti, and no interrupts in a failure history)";
      const double exposure = restored_ ? restored_->run_seconds : 0.0;
      const auto interrupts = count_interrupts(setup_.history);
      if (interrupts > 0 && exposure > 0) {
        t.mtti_seconds = exposure / static_cast<double>(interrupts);
        source = fmt::format(" (from the failure history: {} interrupt{} over {} s of this job's run time)",
                             interrupts, interrupts == 1 ? "" : "s", seconds_text(exposure));
      } else if (interrupts > 0) {
        source = fmt::format(" (assumed: the failure history has {} interrupt{} but no checkpoint tells this "
                             "job's run time yet)", interrupts, interrupts == 1 ? "" : "s");
      }
    }
    if (t.young_daly)
      log().info("checkpoints at the Young/Daly interval: mean time to interrupt {} s{}, wall time {}",
                 seconds_text(t.mtti_seconds), source,
                 t.seconds_left ? fmt::format("{:.0f} s left", *t.seconds_left) : std::string("unlimited"));
    return t;
  }

  /// Writes a checkpoint of the scheduler's state (the scheduler holds every committed result, so it writes
  /// alone and never waits on a worker). `must` makes a failure fatal; otherwise it is logged and the job
  /// goes on (the previous checkpoint stays valid) and the next trigger tries again.
  void checkpoint(const std::string& why, bool must) {
    const auto n = job_.partition_count();
    checkpoint_image img;
    img.meta.job = job_.name();
    img.meta.params_hash = hash_;
    img.meta.epoch = epoch_t{next_epoch_};
    img.meta.rank_count = s_.size();
    img.meta.model = "map_reduce";
    img.meta.partition_count = n;
    img.blobs["scheduler/accumulator"] = job_.accumulator();
    img.u64["scheduler/folded_prefix"] = {next_fold_};
    auto& ranges = img.u64["scheduler/done_ranges"];
    const auto& done = dispatch_.done_set();
    for (std::uint64_t i = 0; i < n;) {
      if (!done[i]) { ++i; continue; }
      std::uint64_t e = i;
      while (e < n && done[e]) ++e;
      ranges.push_back(i);
      ranges.push_back(e);
      i = e;
    }
    img.f64["scheduler/cost"].assign(measured_.begin(), measured_.end());
    img.f64["scheduler/run_seconds"] = {(restored_ ? restored_->run_seconds : 0.0) + since(setup_.t0)};
    // Results that arrived before their predecessors, packed into three datasets (one HDF5 group per
    // result costs ~375 bytes of metadata each; early factoring chunks can hold thousands of them).
    auto& held_ids = img.u64["scheduler/held_ids"];
    auto& held_ends = img.u64["scheduler/held_ends"];
    auto& held_data = img.blobs["scheduler/held_results"];
    for (const auto& [id, b] : held_) {
      held_ids.push_back(id);
      held_data.insert(held_data.end(), b.begin(), b.end());
      held_ends.push_back(held_data.size());
    }
    const auto start = clock::now();
    try {
      const auto r = write_checkpoint(MPI_COMM_SELF, store_options{*config_.checkpoint_dir, config_.keep}, img);
      ++next_epoch_;
      ++checkpoints_;
      checkpoint_seconds_ += r.seconds;
      checkpoint_bytes_ += r.bytes;
      committed_at_checkpoint_ = dispatch_.done_count();
      log().info("checkpoint {} ({}): {} of {} partitions done, {} bytes in {:.3f} s", r.file.string(), why,
                 dispatch_.done_count(), n, r.bytes, r.seconds);
      if (auto line = schedule_.taken(r.seconds, dispatch_.done_count(), clock::now()); !line.empty())
        log().info("{}", line);
      event("checkpoint " + std::to_string(r.epoch.value), static_cast<std::int64_t>(r.seconds * 1e9), start);
    } catch (const checkpoint_error& e) {
      if (must) throw;
      log().error("{}; the job goes on and tries again at the next checkpoint", e.what());
      schedule_.taken(since(start), dispatch_.done_count(), clock::now());
    }
  }

  /// Checkpoints when a trigger fires. Returns why the job must stop now ("" to go on).
  std::string checkpoint_if_due() {
    if (const auto sig = pending_signal(); sig != stop_signal::none) {
      const std::string name = sig == stop_signal::usr1 ? "SIGUSR1" : sig == stop_signal::usr2 ? "SIGUSR2" : "SIGTERM";
      if (!config_.checkpoint_dir) {
        if (sig != stop_signal::term) {
          log().warn("{} received but there is no --checkpoint-dir: nothing to save, going on", name);
          clear_pending_signal();
          return "";
        }
        throw error("terminated by SIGTERM; nothing was saved (run with --checkpoint-dir to checkpoint on signals)");
      }
      clear_pending_signal();
      checkpoint(name + " received", true);
      return name + " received";
    }
    if (!config_.checkpoint_dir) return "";
    const auto now = clock::now();
    if (now - last_check_ < std::chrono::milliseconds(20)) return "";
    last_check_ = now;
    const auto why = schedule_.due(dispatch_.done_count(), now);
    if (why.empty()) return "";
    checkpoint(why, false);
    if (schedule_.out_of_time(clock::now()) && !dispatch_.finished())
      return "the wall time runs out before another checkpoint would fit";
    return "";
  }

  void event(std::string name, std::int64_t dur_ns = -1, clock::time_point at = clock::now()) {
    if (!config_.trace) return;
    events_.push_back({std::move(name), s_.rank().value,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(at - setup_.t0).count(), dur_ns});
  }

  void commit(int worker, const result_batch& results) {
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto id = results.ids[i];
      const double secs = static_cast<double>(results.nanos[i]) * 1e-9;
      const auto won_before = dispatch_.copies_won();
      if (!dispatch_.complete(worker, id, secs)) continue;
      crash_point("scheduler.commit");
      if (dispatch_.copies_won() != won_before) event(fmt::format("speculative copy of partition {} won on rank {}", id, worker));
      measured_[id] = static_cast<float>(secs);
      if (id == next_fold_) {
        job_.fold(results.result(i));
        ++next_fold_;
        for (auto it = held_.begin(); it != held_.end() && it->first == next_fold_; it = held_.erase(it)) {
          job_.fold(it->second);
          ++next_fold_;
        }
      } else {
        auto r = results.result(i);
        held_.emplace(id, bytes(r.begin(), r.end()));
      }
    }
  }

  bool serve_local() {
    if (!local_) return false;
    bool busy = false;
    if (local_->drain(local_results_)) {
      commit(s_.rank().value, local_results_);
      local_results_.clear();
      busy = true;
    }
    if (auto f = local_->failure()) fail(*f);
    const int target = local_->threads() + config_.prefetch;
    const int lacking = target - local_->in_flight();
    if (lacking > 0 && (dispatch_.unassigned() > 0 || speculation_round_)) {
      auto chunks = dispatch_.assign(s_.rank().value, lacking, clock::now());
      note_copies();
      busy = !chunks.empty();
      for (auto& chunk : chunks) local_->submit(std::move(chunk));
    }
    return busy;
  }

  bool serve_messages() {
    bool any = false;
    for (int i = 0; i < 256; ++i) {
      auto m = tp_.poll();
      if (!m) break;
      handle(*m);
      any = true;
    }
    return any;
  }

  void idle_wait() {
    // Nothing to do this round: wait briefly for a message so an idle scheduler does not burn a core.
    // While kernels run, wait no longer than a fraction of a chunk's time: results of tiny partitions
    // must not sit here waiting for the wait to end.
    const std::chrono::nanoseconds wait =
        local_ && local_->in_flight() > 0
            ? std::min<std::chrono::nanoseconds>(local_->poll_interval(), std::chrono::microseconds(200))
            : std::chrono::microseconds(2000);
    if (auto m = tp_.wait(wait)) handle(*m);
  }

  void handle(const message<msg>& m) {
    const auto w = static_cast<std::size_t>(m.source.value);
    auto& p = peers_.at(w);
    p.last_heard = clock::now();
    if (!p.alive) return;  // a peer declared lost stays lost; its late results were re-run elsewhere
    switch (m.tag) {
      case msg::request: {
        const auto start = clock::now();
        auto req = detail::decode_request(m.payload);
        commit(m.source.value, req.results);
        if (req.want > 0) answer(m.source, req.want);
        dispatch_.note_message_cost(since(start));
        break;
      }
      case msg::failure: {
        detail::wire_reader r(m.payload);
        kernel_failure f;
        f.id = r.get<std::uint64_t>();
        f.message = r.get_string();
        fail(f);
      }
      case msg::heartbeat:
        break;
      default:
        log().warn("scheduler: unexpected message {} from rank {}", static_cast<int>(m.tag), m.source.value);
    }
  }

  void answer(rank_t to, std::uint32_t want) {
    auto& p = peers_[static_cast<std::size_t>(to.value)];
    auto chunks = dispatch_.assign(to.value, static_cast<int>(want), clock::now());
    note_copies();
    if (chunks.empty()) {
      p.parked += want;  // answered later, when work comes back to the queue, or by finish
      return;
    }
    tp_.send_bytes(to, msg::assign, detail::encode_assign(want, chunks));
    p.last_sent = clock::now();
    ++p.messages;
  }

  /// Whether to look for overdue partitions now: only when nothing is left in the queue, and not on every round
  /// of the loop (the look scans every held chunk).
  bool speculation_due() {
    if (!dispatch_.may_speculate()) return false;
    const auto now = clock::now();
    if (now - last_speculation_check_ < std::chrono::milliseconds(10)) return false;
    last_speculation_check_ = now;
    return true;
  }

  /// Logs and traces the speculative copies assign() made since the last call.
  void note_copies() {
    const auto& copies = dispatch_.copies_made();
    for (; copies_seen_ < copies.size(); ++copies_seen_) {
      const auto& c = copies[copies_seen_];
      log().debug("speculation: partition {} outstanding {:.3f} s on rank {} (median partition {:.3f} s): a copy runs on rank {}",
                 c.id, c.outstanding_seconds, c.holder, dispatch_.median_seconds(), c.worker);
      event(fmt::format("speculative copy of partition {} (held by rank {}) on rank {}", c.id, c.holder, c.worker));
    }
  }

  void serve_parked() {
    if (dispatch_.unassigned() == 0 && !speculation_round_) return;
    for (int r = 0; r < s_.size(); ++r) {
      auto& p = peers_[static_cast<std::size_t>(r)];
      if (p.alive && p.parked > 0) {
        const auto want = p.parked;
        p.parked = 0;
        answer(rank_t{r}, want);
      }
    }
  }

  void keep_alive() {
    const auto now = clock::now();
    if (seconds_d(now - last_sweep_).count() < 0.1) return;
    last_sweep_ = now;
    for (int r = 0; r < s_.size(); ++r) {
      auto& p = peers_[static_cast<std::size_t>(r)];
      if (!p.alive) continue;
      if (seconds_d(now - p.last_heard).count() > config_.timeout_seconds) {
        lose(r);
        continue;
      }
      if (seconds_d(now - p.last_sent).count() > config_.heartbeat_seconds) {
        tp_.send_bytes(rank_t{r}, msg::heartbeat, {});
        p.last_sent = now;
      }
    }
  }

  /// Declares worker rank `r` lost. While the job runs its partitions go back to the queue, and losing the last
  /// worker fails the job; at the end (`running` false) it is only recorded.
  void lose(int r, bool running = true) {
    auto& p = peers_[static_cast<std::size_t>(r)];
    p.alive = false;
    const auto requeued = dispatch_.lose(r);
    log().warn("worker rank {} silent for {:.0f} s: declared lost; {} of its partitions go back to the queue", r,
               config_.timeout_seconds, requeued);
    event(fmt::format("rank {} lost", r));
    if (const auto history = config_.failure_history_file(); !history.empty()) {
      const auto& host = s_.nodes().hosts.at(static_cast<std::size_t>(s_.nodes().node_of(r)));
      try {
        append_failure_history(history, host,
                               fmt::format("rank {} of job '{}' lost: silent for {:.0f} s", r, job_.name(),
                                           config_.timeout_seconds));
      } catch (const std::exception& e) {
        log().warn("{}", e.what());
      }
    }
    bool anyone = local_ != nullptr || !running;
    for (const auto& q : peers_) anyone |= q.alive;
    if (!anyone) throw error("every worker rank is lost and the scheduler runs no partitions itself; job '" +
                             job_.name() + "' cannot finish");
  }

  run_report finish(const std::string& stop) {
    // A losing speculative copy may still run here: its result is no longer wanted.
    if (local_) local_->cancel();
    run_report rep;
    const bool stopped = !stop.empty();
    rep.status = stopped ? run_status::checkpointed : run_status::completed;
    rep.stop_reason = stop;
    rep.checkpoints = checkpoints_;
    rep.checkpoint_seconds = checkpoint_seconds_;
    rep.checkpoint_bytes = checkpoint_bytes_;
    if (restored_) {
      rep.restored_from = restored_->file;
      rep.restored_done = restored_->done_count;
      rep.restored_costs = restored_->measured_count;
    }
    rep.job = job_.name();
    rep.policy = std::string(dispatch_.policy_name());
    rep.is_scheduler = true;
    rep.speculation = config_.speculate;
    rep.speculation_factor = config_.speculation_factor;
    rep.speculative_copies = dispatch_.copies_made().size();
    rep.speculative_won = dispatch_.copies_won();
    rep.scheduler = s_.rank();
    rep.ranks = s_.size();
    rep.partitions = job_.partition_count();
    rep.result = job_.accumulator();
    rep.result_text = stopped ? fmt::format("(incomplete: {} of {} partitions done; restart to finish)",
                                            dispatch_.done_count(), job_.partition_count())
                              : job_.describe(rep.result);

    // Tell every worker the result, then collect their figures (bounded wait: a lost rank sends none).
    bytes fin;
    detail::wire_writer w(fin);
    w.put(stopped ? detail::finish_status::checkpointed : detail::finish_status::completed);
    w.put_array(std::span<const std::byte>(rep.result));
    std::vector<std::optional<detail::worker_stats>> stats(static_cast<std::size_t>(s_.size()));
    int waiting = 0;
    for (int r = 0; r < s_.size(); ++r)
      if (peers_[static_cast<std::size_t>(r)].alive) {
        tp_.send_bytes(rank_t{r}, msg::finish, fin);
        ++waiting;
      }
    const auto deadline = clock::now() + to_ns(std::max(5.0, config_.timeout_seconds));
    while (waiting > 0 && clock::now() < deadline) {
      // A rank that died after speculative copies finished its partitions was never waited for: it is lost all
      // the same (summary, failure history) once silent for the timeout.
      for (int r = 0; r < s_.size(); ++r) {
        const auto& p = peers_[static_cast<std::size_t>(r)];
        if (p.alive && !stats[static_cast<std::size_t>(r)] && since(p.last_heard) > config_.timeout_seconds) {
          lose(r, false);
          --waiting;
        }
      }
      auto m = tp_.wait(std::chrono::milliseconds(50));
      if (!m) continue;
      auto& p = peers_.at(static_cast<std::size_t>(m->source.value));
      p.last_heard = clock::now();
      if (m->tag == msg::stats && p.alive && !stats[static_cast<std::size_t>(m->source.value)]) {
        stats[static_cast<std::size_t>(m->source.value)] = detail::decode_stats(m->payload);
        --waiting;
      }
    }
    if (waiting > 0) log().warn("{} worker(s) did not report their figures at the end", waiting);
    rep.wall_seconds = since(setup_.t0);

    std::vector<detail::rank_trace> traces;
    double busy_sum = 0, busy_max = 0;
    int threads_sum = 0;
    for (int r = 0; r < s_.size(); ++r) {
      const auto& tally = dispatch_.tally(r);
      worker_summary ws;
      ws.rank = r;
      ws.host = s_.nodes().hosts[static_cast<std::size_t>(s_.nodes().node_of(r))];
      ws.threads = setup_.threads[static_cast<std::size_t>(r)];
      ws.partitions = tally.partitions;
      ws.chunks = tally.chunks;
      ws.messages = tally.messages;
      ws.copies = tally.copies;
      ws.copies_won = tally.copies_won;
      ws.lost = tally.lost;
      ws.busy_seconds = tally.busy_seconds;
      detail::rank_trace tr{r, ws.host, {}};
      if (r == s_.rank().value && local_) {
        ws.busy_seconds = local_->busy_seconds();
        tr.slices = local_->take_trace();
      } else if (auto& st = stats[static_cast<std::size_t>(r)]) {
        ws.busy_seconds = st->busy_seconds;
        tr.slices = std::move(st->trace);
      }
      ws.idle_seconds = std::max(0.0, ws.threads * rep.wall_seconds - ws.busy_seconds);
      if (ws.threads > 0) {
        busy_sum += ws.busy_seconds;
        threads_sum += ws.threads;
        busy_max = std::max(busy_max, ws.busy_seconds / ws.threads);
      }
      rep.dispatches += tally.messages;
      rep.chunks += tally.chunks;
      rep.partitions_run += tally.partitions;
      rep.workers.push_back(ws);
      traces.push_back(std::move(tr));
    }
    const double mean = threads_sum ? busy_sum / threads_sum : 0;
    rep.imbalance = mean > 0 ? busy_max / mean : 1.0;
    if (config_.trace) detail::write_trace(*config_.trace, job_.name(), traces, events_, s_.rank().value);
    tp_.flush_or_abandon(std::chrono::seconds(5));
    return rep;
  }

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg> tp_;
  std::uint64_t hash_;
  std::optional<restored_state> restored_;
  dispatcher dispatch_;
  std::vector<peer> peers_;
  progress_meter progress_;
  checkpoint_schedule schedule_;
  std::vector<float> measured_;           // seconds per partition measured (this run or restored)
  std::uint64_t next_epoch_ = 1;
  std::uint64_t checkpoints_ = 0;
  double checkpoint_seconds_ = 0;
  std::uint64_t checkpoint_bytes_ = 0;
  std::uint64_t committed_at_checkpoint_ = 0;
  clock::time_point last_check_ = clock::now();
  std::unique_ptr<executor> local_;
  result_batch local_results_;
  std::map<std::uint64_t, bytes> held_;  // results that arrived before their predecessors
  std::uint64_t next_fold_ = 0;
  clock::time_point last_sweep_ = clock::now();
  clock::time_point last_speculation_check_ = clock::now();
  bool speculation_round_ = false;  // this round of the loop may hand out speculative copies
  std::size_t copies_seen_ = 0;
  std::vector<detail::trace_event> events_;
};

// ---------------------------------------------------------------------------------------------------------
// Worker ranks
// ---------------------------------------------------------------------------------------------------------
class worker_loop {
 public:
  worker_loop(session& s, map_job_model& job, const run_config& config, const job_setup& setup)
      : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm),
        exec_(job, setup.threads[static_cast<std::size_t>(s.rank().value)], config.seed, config.trace.has_value(),
              setup.t0, s.rank()) {}

  run_report run() {
    const rank_t boss = setup_.scheduler;
    const int target = exec_.threads() + config_.prefetch;
    const int per_message = config_.max_chunks_per_message > 0 ? config_.max_chunks_per_message : target;
    auto last_sent = clock::now();
    auto last_heard = clock::now();
    auto oldest_result = clock::time_point::max();
    for (;;) {
      if (exec_.drain(results_) && oldest_result == clock::time_point::max()) oldest_result = clock::now();
      if (auto f = exec_.failure()) report_failure(boss, *f);

      // Ask for work while the local queue is short; results ride along.
      int lacking = target - exec_.in_flight() - static_cast<int>(requested_);
      bool sent = false;
      while (lacking > 0) {
        const auto want = static_cast<std::uint32_t>(std::min(lacking, per_message));
        tp_.send_bytes(boss, msg::request, detail::encode_request(want, results_));
        results_.clear();
        requested_ += want;
        lacking -= static_cast<int>(want);
        sent = true;
      }
      // Otherwise send results in batches: many, or old enough for the scheduler's progress and checkpoints.
      if (!sent && !results_.empty() &&
          (results_.size() >= 4096 || seconds_d(clock::now() - oldest_result).count() > 0.02)) {
        tp_.send_bytes(boss, msg::request, detail::encode_request(0, results_));
        results_.clear();
        sent = true;
      }
      if (!sent && seconds_d(clock::now() - last_sent).count() > config_.heartbeat_seconds) {
        tp_.send_bytes(boss, msg::heartbeat, {});
        sent = true;
      }
      if (sent) {
        last_sent = clock::now();
        oldest_result = clock::time_point::max();
      }

      // Wait for the scheduler: briefly while kernels run (their results need forwarding), longer when idle.
      const std::chrono::nanoseconds wait =
          exec_.in_flight() > 0 ? exec_.poll_interval() : std::chrono::microseconds(5000);
      auto m = tp_.wait(wait);
      if (!m) {
        if (seconds_d(clock::now() - last_heard).count() > config_.timeout_seconds)
          throw error(fmt::format("lost contact with the scheduler (rank {}) for {:.0f} s; giving up", boss.value,
                                  config_.timeout_seconds));
        continue;
      }
      last_heard = clock::now();
      switch (m->tag) {
        case msg::assign: {
          auto a = detail::decode_assign(m->payload);
          requested_ -= std::min(requested_, a.answers);
          for (auto& c : a.chunks) exec_.submit(std::move(c));
          break;
        }
        case msg::heartbeat:
          break;
        case msg::finish:
          return finish(*m);
        case msg::abort:
          aborted(*m);
        default:
          log().warn("worker: unexpected message {} from rank {}", static_cast<int>(m->tag), m->source.value);
      }
    }
  }

 private:
  [[noreturn]] void report_failure(rank_t boss, const kernel_failure& f) {
    bytes payload;
    detail::wire_writer w(payload);
    w.put(f.id);
    w.put_string(f.message);
    tp_.send_bytes(boss, msg::failure, std::move(payload));
    // The scheduler answers with abort; wait for it (bounded) so that it, not we, reports the error.
    const auto deadline = clock::now() + to_ns(config_.timeout_seconds);
    while (clock::now() < deadline) {
      auto m = tp_.wait(std::chrono::milliseconds(50));
      if (m && m->tag == msg::abort) aborted(*m);
    }
    throw kernel_error(job_.name(), f.id, f.message + " (the scheduler did not answer)");
  }

  /// The scheduler stopped the job: acknowledge (our last message of this job) and fail on this rank.
  [[noreturn]] void aborted(const message<msg>& m) {
    exec_.cancel();
    tp_.send_bytes(setup_.scheduler, msg::aborted, {});
    tp_.flush_or_abandon(std::chrono::seconds(10));
    throw remote_failure(detail::wire_reader(m.payload).get_string());
  }

  run_report finish(const message<msg>& m) {
    detail::wire_reader r(m.payload);
    const auto status = r.get<detail::finish_status>();
    run_report rep;
    r.get_array(rep.result);
    rep.status = status == detail::finish_status::completed ? run_status::completed : run_status::checkpointed;
    rep.job = job_.name();
    rep.policy = config_.policy;
    rep.scheduler = setup_.scheduler;
    rep.ranks = s_.size();
    rep.partitions = job_.partition_count();
    rep.result_text = rep.status == run_status::completed ? job_.describe(rep.result) : "(incomplete)";
    exec_.cancel();
    // A kernel that ignores cancellation (e.g. the losing twin of a speculative copy) may still run: keep the
    // heartbeats going meanwhile, or the scheduler would take this live rank for a lost one.
    for (auto beat = clock::now(); exec_.in_flight() > 0; tp_.progress()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (seconds_d(clock::now() - beat).count() > config_.heartbeat_seconds) {
        tp_.send_bytes(setup_.scheduler, msg::heartbeat, {});
        beat = clock::now();
      }
    }
    detail::worker_stats st;
    st.busy_seconds = exec_.busy_seconds();
    st.partitions = exec_.partitions_run();
    st.threads = exec_.threads();
    if (config_.trace) st.trace = exec_.take_trace();
    tp_.send_bytes(setup_.scheduler, msg::stats, detail::encode_stats(st));
    tp_.flush_or_abandon(std::chrono::seconds(10));
    rep.wall_seconds = since(setup_.t0);
    return rep;
  }

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg> tp_;
  executor exec_;
  result_batch results_;
  std::uint32_t requested_ = 0;
};

}  // namespace

run_report run_map_reduce(session& s, map_job_model& job, const run_config& config) {
  make_policy(config.policy);  // a bad policy is a usage error on every rank, before anyone waits on anyone
  if (config.prefetch < 0) throw usage_error("--prefetch must be 0 or more");
  if (config.restart && *config.restart == "auto" && !config.checkpoint_dir)
    throw usage_error("--restart auto needs --checkpoint-dir (where to look for checkpoints)");
  const bool timed = config.checkpoint_every_partitions > 0 || config.checkpoint_every_seconds > 0 ||
                     config.checkpoint_interval_auto;
  if (timed && !config.checkpoint_dir)
    throw usage_error("--checkpoint-every/--checkpoint-interval need --checkpoint-dir (where to write checkpoints)");
  job_comm comm(s.comm());
  const auto setup = set_up(s, config, comm.get());
  arm_injection(s, config, setup);
  if (s.rank() == setup.scheduler) {
    const auto hash = job_params_hash(job, config);
    std::optional<restored_state> restored;
    try {
      restored = load_restart(job, config, hash);
    } catch (const std::exception& e) {
      // The workers are already waiting for work: tell them, then fail here with the checkpoint's error.
      scheduler_loop::abort_before_start(s, config, setup, e.what());
      throw;
    }
    scheduler_loop loop(s, job, config, setup, hash, std::move(restored));
    try {
      return loop.run();
    } catch (const kernel_error&) {
      throw;
    } catch (const std::exception& e) {
      // Anything else that stops the scheduler must still stop the workers, or they wait for their timeout.
      log().error("job '{}' failed on the scheduler: {}", job.name(), e.what());
      loop.broadcast_abort(e.what());
      throw;
    }
  }
  worker_loop loop(s, job, config, setup);
  return loop.run();
}

}  // namespace partita
