#include <partita/scheduler/map_reduce/detail/root_report.hpp>

#include <partita/scheduler/detail/report_builder.hpp>

namespace partita::detail {

std::vector<rank_trace> add_rank_rows(run_report& rep, const session& s, const job_setup& setup, const dispatcher& d,
                                      std::vector<std::optional<worker_stats>>& stats, executor* local,
                                      double framework_cpu_seconds) {
  std::vector<worker_summary> rows;
  std::vector<rank_trace> traces;
  for (int r = 0; r < s.size(); ++r) {
    const auto& tally = d.tally(rank_t{r});
    auto ws = worker_row(s, setup, r);
    ws.partitions = tally.partitions;
    ws.chunks = tally.chunks;
    ws.messages = tally.messages;
    ws.copies = tally.copies;
    ws.copies_won = tally.copies_won;
    ws.taken_back = tally.taken;
    ws.lost = tally.lost;
    ws.busy_seconds = tally.busy_seconds;
    if (const auto& st = stats[static_cast<std::size_t>(r)]; st && st->has_tally) {
      // Two levels: the root's tally of a node scheduler is its whole node's; the node counted each rank.
      ws.partitions = st->tally.partitions;
      ws.chunks = st->tally.chunks;
      ws.messages = st->tally.messages;
      ws.taken_back = st->tally.taken;  // inside its node (the root takes back nothing from a node scheduler)
      ws.lost = ws.lost || st->tally.lost != 0;
    }
    rank_trace tr{r, ws.host, {}};
    if (r == s.rank().value) {
      ws.framework_cpu_seconds = framework_cpu_seconds;
      if (local) {
        ws.busy_seconds = local->busy_seconds();
        ws.executed = local->partitions_run();
        ws.input = local->read_stats();
        ws.output = local->write_stats();
        tr.slices = local->take_trace();
      }
    } else if (auto& st = stats[static_cast<std::size_t>(r)]) {
      ws.busy_seconds = st->busy_seconds;
      ws.executed = st->partitions;
      ws.framework_cpu_seconds = st->framework_cpu_seconds;
      ws.input = st->input;
      ws.output = st->output;
      tr.slices = std::move(st->trace);
    }
    rows.push_back(std::move(ws));
    traces.push_back(std::move(tr));
  }
  add_worker_rows(rep, std::move(rows));
  return traces;
}

}  // namespace partita::detail
