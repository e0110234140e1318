#include <partita/scheduler/run_report.hpp>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace partita {

std::string run_report::to_json() const {
  nlohmann::json workers_json = nlohmann::json::array();
  for (const auto& w : workers)
    workers_json.push_back({{"rank", w.rank}, {"host", w.host}, {"threads", w.threads},
                            {"busy_seconds", w.busy_seconds}, {"idle_seconds", w.idle_seconds},
                            {"partitions", w.partitions}, {"chunks", w.chunks}, {"messages", w.messages},
                            {"copies", w.copies}, {"copies_won", w.copies_won}, {"framework_cpu_seconds", w.framework_cpu_seconds}, {"lost", w.lost},
                            {"executed", w.executed}});
  nlohmann::json failovers_json = nlohmann::json::array();
  for (const auto& f : failovers)
    failovers_json.push_back({{"lost_scheduler", f.lost_scheduler}, {"new_scheduler", f.new_scheduler},
                              {"term", f.term}, {"noticed_at_seconds", f.noticed_at_seconds},
                              {"resumed_at_seconds", f.resumed_at_seconds}, {"checkpoint", f.checkpoint},
                              {"from_checkpoint", f.from_checkpoint}, {"from_workers", f.from_workers},
                              {"adopted_running", f.adopted_running}, {"dropped", f.dropped},
                              {"to_run", f.to_run}, {"rerun", f.rerun}, {"lost_ranks", f.lost_ranks}});
  nlohmann::json rollbacks_json = nlohmann::json::array();
  for (const auto& r : rollbacks)
    rollbacks_json.push_back({{"lost_ranks", r.lost_ranks}, {"ranks_before", r.ranks_before},
                              {"ranks_after", r.ranks_after}, {"noticed_at_seconds", r.noticed_at_seconds},
                              {"resumed_at_seconds", r.resumed_at_seconds}, {"lost_at_step", r.lost_at_step},
                              {"from_step", r.from_step}, {"checkpoint", r.checkpoint}});
  nlohmann::json doc = {{"job", job},
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
          {"scheduler", {{"levels", scheduler_levels}, {"messages", scheduler_messages},
                         {"busy_seconds", scheduler_busy_seconds}}},
          {"framework_cpu_seconds", framework_cpu_seconds},
          {"speculation", {{"enabled", speculation}, {"factor", speculation_factor},
                           {"copies", speculative_copies}, {"won", speculative_won}}},
          {"workers", workers_json},
          {"failovers", failovers_json},
          {"checkpoints", {{"count", checkpoints}, {"seconds", checkpoint_seconds}, {"bytes", checkpoint_bytes},
                           {"restored_from", restored_from}, {"restored_done", restored_done},
                           {"restored_costs", restored_costs}, {"stop_reason", stop_reason}}}};
  if (model == "iterative") {
    nlohmann::json red = nlohmann::json::object();
    for (std::size_t k = 0; k < reduction_names.size() && k < reduction_values.size(); ++k)
      red[reduction_names[k]] = reduction_values[k];
    doc["model"] = model;
    doc["steps"] = steps;
    doc["steps_run"] = steps_run;
    doc["reductions"] = red;
    doc["migrations"] = migrations;
    doc["steps_overlapped"] = steps_overlapped;
    doc["rebalances"] = rebalances;
    doc["imbalance_start"] = imbalance_start;
    doc["imbalance_end"] = imbalance_end;
    doc["state_digest"] = state_digest;
    doc["rollbacks"] = rollbacks_json;
  }
  return doc.dump(2);
}

std::string run_report::to_text() const {
  std::string out;
  if (model == "iterative") {
    out += fmt::format("job {} {} in {:.3f} s: {} partitions, {} steps ({} run now) on {} ranks, coordinator rank {}\n",
                       job, status == run_status::completed ? "completed" : "checkpointed and stopped", wall_seconds,
                       partitions, steps, steps_run, ranks, scheduler.value);
    out += fmt::format("result: {}\n", result_text);
    out += fmt::format("placement: contiguous ranges by measured cost; imbalance (max/mean cost per rank) {:.3f} at "
                       "the start, {:.3f} at the end; {} rebalance{}, {} migration{}; busy imbalance per thread {:.3f}; "
                       "{} partition step{} run while halos were on their way\n",
                       imbalance_start, imbalance_end, rebalances, rebalances == 1 ? "" : "s", migrations,
                       migrations == 1 ? "" : "s", imbalance, steps_overlapped, steps_overlapped == 1 ? "" : "s");
    out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11} {:>11}\n", "rank", "host", "threads", "partitions", "busy s",
                       "idle s");
    for (const auto& w : workers)
      out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11.3f} {:>11.3f}\n", w.rank, w.host, w.threads, w.partitions,
                         w.busy_seconds, w.idle_seconds);
    if (checkpoints > 0 || !restored_from.empty())
      out += fmt::format("checkpoints: {} written, {:.3f} s, {} bytes; restored from: {}{}\n", checkpoints,
                         checkpoint_seconds, checkpoint_bytes, restored_from.empty() ? "-" : restored_from,
                         restored_from.empty() ? "" : fmt::format(" (step {})", restored_done));
    for (const auto& r : rollbacks)
      out += fmt::format("rollback: rank(s) {} lost after step {} (noticed at {:.3f} s); {} of {} ranks went on at "
                         "{:.3f} s from {} (step {}), {} step(s) run again\n",
                         fmt::join(r.lost_ranks, ", "), r.lost_at_step, r.noticed_at_seconds, r.ranks_after,
                         r.ranks_before, r.resumed_at_seconds, r.checkpoint.empty() ? std::string("the start") : r.checkpoint,
                         r.from_step, r.lost_at_step - std::min(r.lost_at_step, r.from_step));
    if (status == run_status::checkpointed)
      out += fmt::format("stopped: {}; relaunch with --restart auto to continue\n", stop_reason);
    return out;
  }
  out += fmt::format("job {} {} in {:.3f} s: {} partitions ({} run now) on {} ranks, policy {}, scheduler rank {}\n",
                     job, status == run_status::completed ? "completed" : "checkpointed and stopped", wall_seconds,
                     partitions, partitions_run, ranks, policy, scheduler.value);
  out += fmt::format("result: {}\n", result_text);
  out += fmt::format("dispatches: {} messages, {} chunks; imbalance (max/mean busy per thread): {:.3f}\n", dispatches,
                     chunks, imbalance);
  double busy = 0;
  for (const auto& w : workers) busy += w.busy_seconds;
  out += fmt::format("Partita's own threads: {:.3f} CPU s on all ranks ({:.2f}% of the kernels' {:.3f} s)\n",
                     framework_cpu_seconds, busy > 0 ? 100.0 * framework_cpu_seconds / busy : 0.0, busy);
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
