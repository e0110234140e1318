#include <partita/scheduler/map_reduce/detail/failover.hpp>

#include <future>

#include <fmt/format.h>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/failure_history.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/bounded_gather.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/map_reduce/detail/host_majority.hpp>

namespace partita::detail {

std::vector<int> failover_candidates(const session& s, const job_setup& setup, const std::vector<bool>& excluded) {
  const auto suspects = suspect_hosts(setup.history);
  std::vector<int> good, suspect;
  for (int r = 0; r < s.size(); ++r) {
    if (excluded.at(static_cast<std::size_t>(r))) continue;
    const auto& host = s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(r)));
    (suspects.count(host) ? suspect : good).push_back(r);
  }
  good.insert(good.end(), suspect.begin(), suspect.end());
  return good;
}

survivors_report collect_reports(transport<msg>& tp, const session& s, takeover_input& me, const run_config& config) {
  const double timeout_s = config.timeout_seconds;
  const int n = s.size();
  const int self = s.rank().value;
  survivors_report out;
  out.reported.assign(static_cast<std::size_t>(n), false);
  out.reported[static_cast<std::size_t>(self)] = true;
  // Every other rank hears the takeover (a lost one too: a frozen scheduler that resumes learns it was replaced);
  // only those not excluded are waited for.
  bounded_gather<msg> gather(tp, n);
  for (int r = 0; r < n; ++r) {
    if (r == self) continue;
    if (me.excluded[static_cast<std::size_t>(r)]) gather.tell(rank_t{r}, msg::takeover, encode_number(me.term));
    else gather.ask(rank_t{r}, msg::takeover, encode_number(me.term));
  }
  // A rank that reported follows this one and counts its silence from then on. The wait for the others can last
  // the whole timeout (a lost or cut-off rank never reports), so without heartbeats a follower would declare this
  // scheduler lost just as the wait ends and elect another (docs/design.md, "Network partitions and split brain").
  follower_beats beats(tp, self, config);
  auto beat = [&] { beats.beat(out.reported); };
  auto on_message = [&](message<msg>& m) {
    const auto r = static_cast<std::size_t>(m.source.value);
    if (m.tag == msg::takeover) {
      const auto term = decode_number(m.payload);
      if (term > me.term) throw deposed{m.source.value, term};
      return;  // a lower term: that rank will learn of ours
    }
    if (m.tag != msg::report) {
      // A rank that has reported already goes on as this scheduler's worker: keep its messages for the loop.
      if (out.reported[r]) out.early.push_back(std::move(m));
      return;
    }
    auto rep = decode_report(m.payload);
    if (rep.term != me.term || me.excluded[r] || out.reported[r]) return;
    out.reported[r] = true;
    gather.answered(m.source);
    out.dropped += rep.dropped;
    if (!rep.results.empty()) out.results.emplace_back(m.source.value, std::move(rep.results));
    if (!rep.running.empty()) out.running.emplace_back(m.source.value, std::move(rep.running));
  };
  const int waiting = gather.run(clock::now() + to_ns(timeout_s), std::chrono::milliseconds(20), on_message, beat,
                                 [] { return false; });
  if (waiting > 0)
    log().warn("failover: {} rank(s) did not report within {:.0f} s: they count as lost", waiting, timeout_s);
  // A takeover to a dead rank may never complete, and would hold up every later flush; freed requests still
  // complete in the background (a frozen scheduler that resumes still gets its takeover).
  tp.abandon_pending();
  // Only a side that reaches a majority of the hosts goes on: a candidate cut off with a minority (a worker node
  // partitioned past the timeout) must not run the job a second time beside the majority's scheduler.
  if (!holds_host_majority(s.nodes(), out.reported)) throw minority_side{hosts_reached(s.nodes(), out.reported)};
  return out;
}

void follower_beats::beat(const std::vector<bool>& to) {
  if (since(last_) < config_.heartbeat_seconds) return;
  last_ = clock::now();
  for (std::size_t r = 0; r < to.size(); ++r)
    if (static_cast<int>(r) != self_ && to[r]) tp_.send_bytes(rank_t{static_cast<int>(r)}, msg::heartbeat, {});
}

restart_choice read_restart_beating(transport<msg>& tp, const session& s, const survivors_report& who,
                                    const run_config& config, const checkpoint_expectation& expect) {
  auto read = std::async(std::launch::async, [&] {
    stall_point("failover.read_checkpoint");
    return select_restart(*config.checkpoint_dir, expect);
  });
  follower_beats beats(tp, s.rank().value, config);
  const auto every = std::chrono::duration<double>(std::max(0.01, config.heartbeat_seconds / 2));
  while (read.wait_for(every) != std::future_status::ready) beats.beat(who.reported);
  return read.get();
}

}  // namespace partita::detail
