#include <partita/scheduler/detail/report_builder.hpp>

#include <algorithm>

namespace partita::detail {

run_report left_job_report(const std::string& job, const std::string& why) {
  run_report rep;
  rep.job = job;
  rep.status = run_status::completed;
  rep.is_scheduler = false;
  rep.result_text = why;
  return rep;
}

worker_summary worker_row(const session& s, const job_setup& setup, int r) {
  worker_summary ws;
  ws.rank = r;
  ws.host = s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(r)));
  ws.threads = setup.threads_of(rank_t{r});
  return ws;
}

void add_worker_rows(run_report& rep, std::vector<worker_summary> rows) {
  double busy_sum = 0, busy_max = 0;
  int threads_sum = 0;
  for (auto& ws : rows) {
    ws.idle_seconds = std::max(0.0, ws.threads * rep.wall_seconds - ws.busy_seconds);
    if (ws.threads > 0) {
      busy_sum += ws.busy_seconds;
      threads_sum += ws.threads;
      busy_max = std::max(busy_max, ws.busy_seconds / ws.threads);
    }
    rep.dispatches += ws.messages;
    rep.chunks += ws.chunks;
    rep.framework_cpu_seconds += ws.framework_cpu_seconds;
    rep.partitions_run += ws.partitions;
  }
  const double mean = threads_sum ? busy_sum / threads_sum : 0;
  rep.imbalance = mean > 0 ? busy_max / mean : 1.0;
  rep.workers = std::move(rows);
}

}  // namespace partita::detail
