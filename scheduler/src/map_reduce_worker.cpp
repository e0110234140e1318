#include <partita/scheduler/detail/map_reduce_worker.hpp>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/signals.hpp>

namespace partita::detail {

map_reduce_worker::map_reduce_worker(session& s, map_job_model& job, const run_config& config, const job_setup& setup)
    : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm), boss_(setup.boss_of(s.rank())),
      exec_(job, setup.threads_of(s.rank()), config.seed, config.trace.has_value(), setup.t0, s.rank()) {}

void map_reduce_worker::talk(std::uint32_t target, std::uint32_t per_message) {
  const rank_t boss = boss_;
  // Ask for work while the local queue is short; results ride along.
  const auto have = static_cast<std::uint32_t>(exec_.in_flight()) + requested_;
  std::uint32_t lacking = target > have ? target - have : 0;
  bool sent = false;
  while (lacking > 0) {
    const auto want = std::min(lacking, per_message);
    tp_.send_bytes(boss, msg::request, encode_request(want, results_));
    results_.clear();
    requested_ += want;
    lacking -= want;
    sent = true;
    waiter_.expect_answer();
  }
  // Otherwise send results in batches: many, or old enough for the scheduler's progress and checkpoints.
  if (!sent && !results_.empty() && (results_.size() >= 4096 || since(oldest_result_) > 0.02)) {
    tp_.send_bytes(boss, msg::request, encode_request(0, results_));
    results_.clear();
    sent = true;
  }
  if (!sent && since(last_sent_) > config_.heartbeat_seconds) {
    tp_.send_bytes(boss, msg::heartbeat, {});
    sent = true;
  }
  if (sent) {
    last_sent_ = clock::now();
    oldest_result_ = clock::time_point::max();
  }
}

run_report map_reduce_worker::run() {
  const auto target = static_cast<std::uint32_t>(exec_.threads() + config_.prefetch);
  const auto per_message =
      config_.max_chunks_per_message > 0 ? static_cast<std::uint32_t>(config_.max_chunks_per_message) : target;
  auto last_heard = clock::now();
  for (;;) {
    if (exec_.drain(results_) && oldest_result_ == clock::time_point::max()) oldest_result_ = clock::now();
    if (auto f = exec_.failure()) report_failure(*f);
    talk(target, per_message);

    // Wait for the scheduler or for the kernels' results (comm_waiter: asleep while kernels run).
    auto m = waiter_.wait(exec_.in_flight() > 0 ? std::chrono::microseconds(10000) : std::chrono::microseconds(5000));
    if (!m) {
      // A stop signal reaches every rank (srun, mpirun) and Slurm's kill wait (30 s by default) is running: a
      // scheduler silent for 10 s then (its stop checkpoint included) is gone (docs/design.md, "Slurm as
      // operators run it").
      const bool told_to_stop = pending_signal() != stop_signal::none;
      const double patience = told_to_stop ? std::min(10.0, config_.timeout_seconds) : config_.timeout_seconds;
      if (since(last_heard) > patience && !told_to_stop &&
          turn_to_root(fmt::format("silent for {:.0f} s", patience))) {
        last_heard = clock::now();
        continue;
      }
      if (since(last_heard) > patience)
        throw error(fmt::format("lost contact with the scheduler (rank {}) for {:.0f} s{}; giving up",
                                boss_.value, patience, told_to_stop ? " after a stop signal" : ""));
      continue;
    }
    if (m->source != boss_) {
      if (m->source != setup_.scheduler) continue;  // its former node scheduler, after it turned to the root
      turn_to_root("the scheduler wrote to it");    // the root lost its node scheduler first
    }
    last_heard = clock::now();
    switch (m->tag) {
      case msg::assign: {
        auto a = decode_assign(m->payload);
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

bool map_reduce_worker::turn_to_root(const std::string& why) {
  if (boss_ == setup_.scheduler) return false;
  log().warn("node scheduler rank {} {}: rank {} turns to the scheduler (rank {})", boss_.value, why, s_.rank().value,
             setup_.scheduler.value);
  boss_ = setup_.scheduler;
  requested_ = 0;  // what the node scheduler owed is requeued by the root; ask the root afresh
  return true;
}

void map_reduce_worker::report_failure(const kernel_failure& f) {
  tp_.send_bytes(boss_, msg::failure, encode_failure(f));
  // The scheduler answers with abort; wait for it (bounded) so that it, not we, reports the error.
  const auto deadline = clock::now() + to_ns(config_.timeout_seconds);
  while (clock::now() < deadline) {
    auto m = tp_.wait(std::chrono::milliseconds(50));
    if (m && m->tag == msg::abort) aborted(*m);
  }
  throw kernel_error(job_.name(), f.id, f.message + " (the scheduler did not answer)");
}

// The scheduler stopped the job: acknowledge (our last message of this job) and fail on this rank.
void map_reduce_worker::aborted(const message<msg>& m) {
  exec_.cancel();
  tp_.send_bytes(boss_, msg::aborted, {});
  tp_.flush_or_abandon(std::chrono::seconds(10));
  throw remote_failure(decode_abort(m.payload));
}

run_report map_reduce_worker::finish(const message<msg>& m) {
  auto fin = decode_finish(m.payload);
  run_report rep;
  rep.result = std::move(fin.accumulator);
  rep.status = fin.status == finish_status::completed ? run_status::completed : run_status::checkpointed;
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
    if (since(beat) > config_.heartbeat_seconds) {
      tp_.send_bytes(boss_, msg::heartbeat, {});
      beat = clock::now();
    }
  }
  worker_stats st;
  st.busy_seconds = exec_.busy_seconds();
  st.partitions = exec_.partitions_run();
  st.threads = exec_.threads();
  st.origin = s_.rank().value;
  st.framework_cpu_seconds = cpu_.framework_seconds(exec_.kernel_cpu_seconds());
  if (config_.trace) st.trace = exec_.take_trace();
  tp_.send_bytes(boss_, msg::stats, encode_stats(st));
  tp_.flush_or_abandon(std::chrono::seconds(10));
  rep.wall_seconds = since(setup_.t0);
  return rep;
}

}  // namespace partita::detail
