#include <partita/scheduler/map_reduce/detail/worker.hpp>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/signals.hpp>
#include <partita/scheduler/map_reduce/detail/finish_report.hpp>

namespace partita::detail {

map_reduce_worker::map_reduce_worker(session& s, map_job_model& job, const run_config& config, const job_setup& setup)
    : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm),
      exec_(std::make_unique<executor>(job, setup.threads_of(s.rank()), config.seed, config.trace.has_value(), setup.t0,
                                       s.rank(), config.prefetch)),
      depth_(exec_->threads(), config.prefetch), boss_(setup.boss_of(s.rank()).value),
      excluded_(static_cast<std::size_t>(s.size()), false) {
  if (setup_.failover) running_.assign(job.partition_count(), false);
}

void map_reduce_worker::send_request(std::uint32_t want) {
  auto payload = tp_.send_buffer();  // a completed send's: no allocation per request
  encode_request(payload, want, results_);
  tp_.send_bytes(rank_t{boss_}, msg::request, std::move(payload));
  ++requests_sent_;
  if (setup_.failover && !results_.empty()) {
    // Kept until a checkpoint holds them (covered), so that a new scheduler can have them; within a bound.
    retained_bytes_ += results_.data.size() + results_.size() * 20;
    retained_.emplace_back(requests_sent_, std::move(results_));
    bool warned = false;
    while (retained_bytes_ > config_.failover_memory && retained_.size() > 1) {
      auto& old = retained_.front().second;
      retained_bytes_ -= old.data.size() + old.size() * 20;
      dropped_ += old.size();
      if (!warned && dropped_ == old.size())
        log().warn("failover: results not yet in a checkpoint exceed --failover-memory ({} bytes); dropping the "
                   "oldest (a new scheduler would re-run them)",
                   config_.failover_memory);
      warned = true;
      retained_.pop_front();
    }
  }
  results_.clear();
}

void map_reduce_worker::talk(clock::time_point now) {
  // Ask for work while the local queue is short; results ride along.
  const auto target = static_cast<std::uint32_t>(depth_.target(seconds_d(exec_->mean_chunk_time()).count()));
  const auto per_message = config_.max_chunks_per_message > 0
                               ? static_cast<std::uint32_t>(config_.max_chunks_per_message)
                               : target;
  const auto have = static_cast<std::uint32_t>(exec_->in_flight()) + requested_;
  std::uint32_t lacking = target > have ? target - have : 0;
  bool sent = false;
  while (lacking > 0) {
    const auto want = std::min(lacking, per_message);
    send_request(want);
    depth_.asked(seconds_d(now - setup_.t0).count(), want);
    requested_ += want;
    lacking -= want;
    sent = true;
    waiter_.expect_answer();
  }
  // Otherwise send results in batches: many, or old enough for the scheduler's progress and checkpoints.
  const bool batch_due = results_.size() >= result_batch_limit ||
                         seconds_d(now - oldest_result_).count() > result_batch_age_seconds;
  if (!sent && !results_.empty() && batch_due) {
    send_request(0);
    sent = true;
  }
  if (!sent && seconds_d(now - last_sent_).count() > config_.heartbeat_seconds) {
    tp_.send_bytes(rank_t{boss_}, msg::heartbeat, {});
    sent = true;
  }
  if (sent) {
    last_sent_ = now;
    oldest_result_ = clock::time_point::max();
  }
}

void map_reduce_worker::drain(clock::time_point now) {
  const auto before = results_.size();
  if (exec_->drain(results_) && oldest_result_ == clock::time_point::max()) oldest_result_ = now;
  if (setup_.failover)
    for (auto i = before; i < results_.size(); ++i) running_[results_.ids[i]] = false;
}

std::optional<run_report> map_reduce_worker::run() {
  last_heard_ = clock::now();
  auto last_round = clock::now();
  for (;;) {
    const auto now = clock::now();  // one clock read per round: on the one-partition-per-message path it shows
    drain(now);
    if (auto f = exec_->failure()) report_failure(*f);
    talk(now);

    // A rank frozen (SIGSTOP) or starved past the timeout may have been declared lost and the job may have ended
    // without it: it must not elect itself and run the job again. It leaves the job (its partitions were re-run).
    if (setup_.failover && seconds_d(now - last_round).count() > config_.timeout_seconds) {
      log().warn("this worker was stalled for {:.1f} s (frozen?): the scheduler has declared it lost; leaving the job",
                 seconds_d(now - last_round).count());
      exec_->cancel();
      tp_.abandon_pending();
      return left_job_report(job_.name());
    }
    last_round = now;

    // Wait for the scheduler or for the kernels' results (comm_waiter: asleep while kernels run).
    auto m = waiter_.wait(exec_->in_flight() > 0 ? std::chrono::microseconds(10000) : std::chrono::microseconds(5000));
    if (!m) {
      // A stop signal reaches every rank (srun, mpirun) and Slurm's kill wait (30 s by default) is running: a
      // scheduler silent for 10 s then (its stop checkpoint included) is gone (docs/design.md, "Slurm as
      // operators run it").
      const bool told_to_stop = pending_signal() != stop_signal::none;
      const double patience = told_to_stop ? std::min(10.0, config_.timeout_seconds) : config_.timeout_seconds;
      if (since(last_heard_) > patience && !told_to_stop &&
          turn_to_root(fmt::format("silent for {:.0f} s", patience))) {
        last_heard_ = clock::now();
        continue;
      }
      if (since(last_heard_) > patience) {
        if (!setup_.failover || told_to_stop)
          throw error(fmt::format("lost contact with the scheduler (rank {}) for {:.0f} s{}; giving up", boss_,
                                  patience, told_to_stop ? " after a stop signal" : ""));
        if (elect()) return std::nullopt;
        last_round = clock::now();
      }
      continue;
    }
    if (m->tag == msg::takeover) {
      // A worker that still hears its scheduler does not follow another rank: that one was cut off from the
      // scheduler (and most likely from this side's majority), not the scheduler from everyone. Its takeover can
      // then not gather a majority of the hosts and it leaves the job (docs/design.md, "Network partitions and
      // split brain"). A scheduler that is gone has been silent here for about the timeout when a takeover comes.
      const double sticky = std::min(0.5 * config_.timeout_seconds,
                                     config_.timeout_seconds - 2 * config_.heartbeat_seconds);
      if (setup_.failover && m->source.value != boss_ && since(last_heard_) < sticky) {
        if (!ignored_takeover_)
          log().warn("rank {} claims to be the scheduler, but scheduler rank {} was heard {:.1f} s ago: ignored",
                     m->source.value, boss_, since(last_heard_));
        ignored_takeover_ = true;
        continue;
      }
      follow(*m);
      continue;
    }
    if (m->source.value != boss_) {
      // From a scheduler this rank no longer follows (stale), or, with two levels, from the root after this rank's
      // node scheduler went silent (the root lost it first).
      if (m->source != setup_.scheduler || !turn_to_root("the scheduler wrote to it")) continue;
    }
    last_heard_ = now;  // the round's start: at most one wait (10 ms) early
    switch (m->tag) {
      case msg::assign: {
        auto a = decode_assign(m->payload);
        tp_.recycle(std::move(m->payload));  // the next message is received into it: no allocation per message
        requested_ -= std::min(requested_, a.answers);
        depth_.answered(since(setup_.t0), a.answers);
        for (auto& c : a.chunks) {
          if (setup_.failover)
            for (const auto& r : c)
              for (auto id = r.begin; id < r.end && id < running_.size(); ++id) running_[id] = true;
          exec_->submit(std::move(c));
        }
        break;
      }
      case msg::take_back: {  // handed to another rank: skip those not started
        const auto ids = decode_ranges(m->payload);
        exec_->take_back(ids);
        if (setup_.failover)
          for (const auto& r : ids)
            for (auto id = r.begin; id < r.end && id < running_.size(); ++id) running_[id] = false;
        break;
      }
      case msg::heartbeat: break;
      case msg::covered: drop_covered(decode_number(m->payload)); break;
      case msg::finish: return finish(*m);
      case msg::abort: aborted(*m);
      default: log().warn("worker: unexpected message {} from rank {}", static_cast<int>(m->tag), m->source.value);
    }
  }
}

bool map_reduce_worker::turn_to_root(const std::string& why) {
  if (setup_.tree.levels != 2 || boss_ == setup_.scheduler.value) return false;
  log().warn("node scheduler rank {} {}: rank {} turns to the scheduler (rank {})", boss_, why, s_.rank().value,
             setup_.scheduler.value);
  // Every send so far went to the node scheduler, which is gone: they may never complete and would hold up this
  // rank's last flush (10 s) at the end of the job.
  tp_.abandon_pending();
  boss_ = setup_.scheduler.value;
  requested_ = 0;  // what the node scheduler owed is requeued by the root; ask the root afresh
  depth_.forget();
  return true;
}

void map_reduce_worker::drop_covered(std::uint64_t requests) {
  while (!retained_.empty() && retained_.front().first <= requests) {
    const auto& b = retained_.front().second;
    retained_bytes_ -= b.data.size() + b.size() * 20;
    retained_.pop_front();
  }
}

std::vector<id_range> map_reduce_worker::running_ranges() const {
  std::vector<id_range> out;
  for (std::uint64_t id = 0; id < running_.size(); ++id) {
    if (!running_[id]) continue;
    if (!out.empty() && out.back().end == id) ++out.back().end;
    else out.push_back(id_range{id, id + 1});
  }
  return out;
}

result_batch map_reduce_worker::retained_results() const {
  result_batch all;
  for (const auto& [n, b] : retained_) {
    result_batch copy = b;
    all.append(std::move(copy));
  }
  result_batch unsent = results_;
  all.append(std::move(unsent));
  return all;
}

bool map_reduce_worker::follow(const message<msg>& m) {
  const auto term = decode_number(m.payload);
  if (term <= term_ || m.source.value == s_.rank().value) return false;  // stale, or an older candidate's
  if (m.source.value != boss_ && lost_scheduler_ < 0) {
    lost_scheduler_ = boss_;
    noticed_at_ = since(setup_.t0);
  }
  if (m.source.value != boss_) excluded_[static_cast<std::size_t>(boss_)] = true;
  tp_.abandon_pending();  // sends to the old scheduler may never complete; they would hold up the last flush
  boss_ = m.source.value;
  term_ = term;
  requested_ = 0;  // requests to the old scheduler go unanswered
  depth_.forget();
  // Everything this rank holds goes to the new scheduler, and is kept (as request 0 of the term) until one of its
  // checkpoints holds it.
  auto all = retained_results();
  const auto running = running_ranges();
  log().warn("rank {} took over as the scheduler (term {}): reporting {} results no checkpoint holds and {} "
             "partition range(s) running here",
             boss_, term, all.size(), running.size());
  tp_.send_bytes(rank_t{boss_}, msg::report, encode_report(term_, all, running, dropped_));
  retained_.clear();
  retained_bytes_ = all.data.size() + all.size() * 20;
  results_.clear();
  if (!all.empty()) retained_.emplace_back(0, std::move(all));
  requests_sent_ = 0;
  last_heard_ = last_sent_ = clock::now();
  return true;
}

bool map_reduce_worker::elect() {
  const int self = s_.rank().value;
  lost_scheduler_ = boss_;
  noticed_at_ = since(setup_.t0);
  excluded_[static_cast<std::size_t>(boss_)] = true;
  log().warn("lost contact with the scheduler (rank {}) for {:.0f} s: electing a new one", boss_,
             config_.timeout_seconds);
  const auto base = term_;
  const auto order = failover_candidates(s_, setup_, excluded_);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const int c = order[i];
    if (c == self) {
      term_ = base + 1 + i;
      return true;
    }
    // Wait for that rank (or any later one) to take over; meanwhile keep what the executor finishes, and the
    // job's lease (ranks that left as a minority wait for this side while it elects).
    const auto deadline = clock::now() + to_ns(config_.timeout_seconds);
    while (clock::now() < deadline) {
      drain(clock::now());
      lease_.renew();
      auto m = tp_.wait(std::chrono::milliseconds(20));
      if (m && m->tag == msg::takeover && follow(*m)) return false;
    }
    log().warn("rank {} did not take over within {:.0f} s: trying the next candidate", c, config_.timeout_seconds);
    excluded_[static_cast<std::size_t>(c)] = true;
  }
  throw error(fmt::format("lost contact with the scheduler (rank {}) and no rank took over; giving up",
                          lost_scheduler_));
}

takeover_input map_reduce_worker::hand_over() {
  drain(clock::now());
  takeover_input in;
  in.term = term_;
  in.excluded = excluded_;
  in.lost_scheduler = lost_scheduler_;
  in.noticed_at = noticed_at_;
  in.results = retained_results();
  in.running = running_ranges();
  in.dropped = dropped_;
  in.exec = std::move(exec_);
  tp_.abandon_pending();  // sends to the lost scheduler
  return in;
}

void map_reduce_worker::report_failure(const kernel_failure& f) {
  tp_.send_bytes(rank_t{boss_}, msg::failure, encode_failure(f));
  // The scheduler answers with abort; wait for it (bounded) so that it, not we, reports the error.
  const auto deadline = clock::now() + to_ns(config_.timeout_seconds);
  while (clock::now() < deadline) {
    auto m = tp_.wait(std::chrono::milliseconds(50));
    if (m && m->tag == msg::abort) aborted(*m);
  }
  throw kernel_error(job_.name(), f.id.value, f.message + " (the scheduler did not answer)");
}

// The scheduler stopped the job: acknowledge (our last message of this job) and fail on this rank.
void map_reduce_worker::aborted(const message<msg>& m) {
  exec_->cancel();
  tp_.send_bytes(rank_t{boss_}, msg::aborted, {});
  tp_.flush_or_abandon(std::chrono::seconds(10));
  throw remote_failure(decode_abort(m.payload));
}

run_report map_reduce_worker::finish(const message<msg>& m) {
  auto rep = report_from_finish(decode_finish(m.payload), job_, config_, rank_t{boss_}, s_.size());
  exec_->cancel();
  // A kernel that ignores cancellation (e.g. the losing twin of a speculative copy) may still run: keep the
  // heartbeats going meanwhile, or the scheduler would take this live rank for a lost one.
  for (auto beat = clock::now(); exec_->in_flight() > 0; tp_.progress()) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (since(beat) > config_.heartbeat_seconds) {
      tp_.send_bytes(rank_t{boss_}, msg::heartbeat, {});
      beat = clock::now();
    }
  }
  worker_stats st;
  st.busy_seconds = exec_->busy_seconds();
  st.partitions = exec_->partitions_run();
  st.threads = exec_->threads();
  st.origin = s_.rank().value;
  st.framework_cpu_seconds = cpu_.framework_seconds(exec_->kernel_cpu_seconds());
  st.input = exec_->read_stats();
  st.output = exec_->write_stats();
  if (config_.trace) st.trace = exec_->take_trace();
  tp_.send_bytes(rank_t{boss_}, msg::stats, encode_stats(st));
  tp_.flush_or_abandon(std::chrono::seconds(10));
  rep.wall_seconds = since(setup_.t0);
  return rep;
}

}  // namespace partita::detail
