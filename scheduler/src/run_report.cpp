#include <partita/scheduler/run_report.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace partita {

std::string run_report::to_json() const {
  nlohmann::json workers_json = nlohmann::json::array();
  for (const auto& w : workers)
    workers_json.push_back({{"rank", w.rank}, {"host", w.host}, {"threads", w.threads},
                            {"busy_seconds", w.busy_seconds}, {"idle_seconds", w.idle_seconds},
                            {"partitions", w.partitions}, {"chunks", w.chunks}, {"messages", w.messages},
                            {"copies", w.copies}, {"copies_won", w.copies_won}, {"lost", w.lost},
                            {"executed", w.executed}});
  nlohmann::json failovers_json = nlohmann::json::array();
  for (const auto& f : failovers)
    failovers_json.push_back({{"lost_scheduler", f.lost_scheduler}, {"new_scheduler", f.new_scheduler},
                              {"term", f.term}, {"noticed_at_seconds", f.noticed_at_seconds},
                              {"resumed_at_seconds", f.resumed_at_seconds}, {"checkpoint", f.checkpoint},
                              {"from_checkpoint", f.from_checkpoint}, {"from_workers", f.from_workers},
                              {"adopted_running", f.adopted_running}, {"dropped", f.dropped},
                              {"to_run", f.to_run}, {"rerun", f.rerun}, {"lost_ranks", f.lost_ranks}});
  const nlohmann::json doc = {{"job", job},
          {"policy", policy},
          {"status", status == run_status::completed ? "completed" : "checkpointed"},
          {"result", result_text},
          {"ranks", ranks},
          {"scheduler_rank", scheduler.value},
          {"partitions", partitions},
          {"partitions_run", partitions_run},
          {"wall_seconds", wall_seconds},
          {"imbalance", imbalance},
          {"dispatches", dispatches},
          {"chunks", chunks},
          {"speculation", {{"enabled", speculation}, {"factor", speculation_factor},
                           {"copies", speculative_copies}, {"won", speculative_won}}},
          {"workers", workers_json},
          {"failovers", failovers_json},
          {"checkpoints", {{"count", checkpoints}, {"seconds", checkpoint_seconds}, {"bytes", checkpoint_bytes},
                           {"restored_from", restored_from}, {"restored_done", restored_done},
                           {"restored_costs", restored_costs}, {"stop_reason", stop_reason}}}};
  return doc.dump(2);
}

std::string run_report::to_text() const {
  std::string out;
  out += fmt::format("job {} {} in {:.3f} s: {} partitions ({} run now) on {} ranks, policy {}, scheduler rank {}\n",
                     job, status == run_status::completed ? "completed" : "checkpointed and stopped", wall_seconds,
                     partitions, partitions_run, ranks, policy, scheduler.value);
  out += fmt::format("result: {}\n", result_text);
  out += fmt::format("dispatches: {} messages, {} chunks; imbalance (max/mean busy per thread): {:.3f}\n", dispatches,
                     chunks, imbalance);
  if (speculation)
    out += fmt::format("speculation: {} cop{} of straggling partitions, {} won (after {:g}x the expected time)\n",
                       speculative_copies, speculative_copies == 1 ? "y" : "ies", speculative_won, speculation_factor);
  out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11} {:>11} {:>8}\n", "rank", "host", "threads", "partitions",
                     "busy s", "idle s", "chunks");
  for (const auto& w : workers)
    out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11.3f} {:>11.3f} {:>8}{}\n", w.rank, w.host, w.threads,
                       w.partitions, w.busy_seconds, w.idle_seconds, w.chunks, w.lost ? "  LOST" : "");
  if (checkpoints > 0 || !restored_from.empty())
    out += fmt::format("checkpoints: {} written, {:.3f} s ({:.2f}% of wall time), {} bytes; restored from: {}\n",
                       checkpoints, checkpoint_seconds, wall_seconds > 0 ? 100.0 * checkpoint_seconds / wall_seconds : 0.0,
                       checkpoint_bytes, restored_from.empty() ? "-" : restored_from);
  for (const auto& f : failovers)
    out += fmt::format("failover: scheduler rank {} lost (noticed at {:.3f} s); rank {} took over (term {}) and went on "
                       "at {:.3f} s from {} ({} partitions) + {} results held by workers + {} running there; {} left, "
                       "{} of them run again{}\n",
                       f.lost_scheduler, f.noticed_at_seconds, f.new_scheduler, f.term, f.resumed_at_seconds,
                       f.checkpoint.empty() ? std::string("no checkpoint") : f.checkpoint, f.from_checkpoint,
                       f.from_workers, f.adopted_running, f.to_run, f.rerun,
                       f.dropped > 0 ? fmt::format(" ({} dropped by --failover-memory)", f.dropped) : std::string());
  if (status == run_status::checkpointed)
    out += fmt::format("stopped: {}; relaunch with --restart auto to continue\n", stop_reason);
  return out;
}

}  // namespace partita
