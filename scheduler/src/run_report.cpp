#include <partita/scheduler/run_report.hpp>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace partita {

namespace {

const char* status_word(run_status s) { return s == run_status::completed ? "completed" : "checkpointed"; }
const char* status_phrase(run_status s) {
  return s == run_status::completed ? "completed" : "checkpointed and stopped";
}

/// The workers' rows; a map/reduce run's also say what each rank read of the job's declared input.
nlohmann::json workers_json(const std::vector<worker_summary>& workers, model_kind model) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : workers) {
    out.push_back({{"rank", w.rank},
                   {"host", w.host},
                   {"threads", w.threads},
                   {"busy_seconds", w.busy_seconds},
                   {"idle_seconds", w.idle_seconds},
                   {"partitions", w.partitions},
                   {"chunks", w.chunks},
                   {"messages", w.messages},
                   {"copies", w.copies},
                   {"copies_won", w.copies_won},
                   {"taken_back", w.taken_back},
                   {"framework_cpu_seconds", w.framework_cpu_seconds},
                   {"lost", w.lost},
                   {"executed", w.executed}});
    if (model == model_kind::map_reduce)
      out.back()["input"] = {{"bytes", w.input.bytes},
                             {"partitions", w.input.partitions},
                             {"seconds", w.input.seconds},
                             {"read_ahead_hits", w.input.hits}};
    if (model == model_kind::map_reduce)
      out.back()["output"] = {{"bytes", w.output.bytes},
                              {"partitions", w.output.partitions},
                              {"seconds", w.output.seconds},
                              {"direct_bytes", w.output.direct_bytes}};
  }
  return out;
}

nlohmann::json failovers_json(const std::vector<failover_summary>& failovers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : failovers)
    out.push_back({{"lost_scheduler", f.lost_scheduler},
                   {"new_scheduler", f.new_scheduler},
                   {"term", f.term},
                   {"noticed_at_seconds", f.noticed_at_seconds},
                   {"resumed_at_seconds", f.resumed_at_seconds},
                   {"checkpoint", f.checkpoint},
                   {"from_checkpoint", f.from_checkpoint},
                   {"from_workers", f.from_workers},
                   {"adopted_running", f.adopted_running},
                   {"dropped", f.dropped},
                   {"to_run", f.to_run},
                   {"rerun", f.rerun},
                   {"lost_ranks", f.lost_ranks}});
  return out;
}

nlohmann::json rollbacks_json(const std::vector<rollback_summary>& rollbacks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rollbacks)
    out.push_back({{"lost_ranks", r.lost_ranks},
                   {"ranks_before", r.ranks_before},
                   {"ranks_after", r.ranks_after},
                   {"noticed_at_seconds", r.noticed_at_seconds},
                   {"resumed_at_seconds", r.resumed_at_seconds},
                   {"lost_at_step", r.lost_at_step},
                   {"from_step", r.from_step},
                   {"checkpoint", r.checkpoint}});
  return out;
}

/// The keys only an iterative summary has, added to `doc`.
void add_iterative_json(nlohmann::json& doc, const iterative_figures& it) {
  nlohmann::json red = nlohmann::json::object();
  for (std::size_t k = 0; k < it.reduction_names.size() && k < it.reduction_values.size(); ++k)
    red[it.reduction_names[k]] = it.reduction_values[k];
  doc["model"] = model_name(model_kind::iterative);
  doc["steps"] = it.steps;
  doc["steps_run"] = it.steps_run;
  doc["reductions"] = red;
  doc["migrations"] = it.migrations;
  doc["steps_overlapped"] = it.steps_overlapped;
  doc["rebalances"] = it.rebalances;
  doc["imbalance_start"] = it.imbalance_start;
  doc["imbalance_end"] = it.imbalance_end;
  doc["state_digest"] = it.state_digest;
  doc["rollbacks"] = rollbacks_json(it.rollbacks);
  if (!it.step_imbalance.empty()) {
    doc["step_imbalance"] = it.step_imbalance;
    doc["step_imbalance_stride"] = it.step_imbalance_stride;
  }
  if (!it.output_file.empty())
    doc["output"] = {{"file", it.output_file}, {"bytes", it.output_bytes}, {"seconds", it.output_seconds}};
}

// The progress line over the run and the run's events (docs/summary-json.md): left out when empty.
void add_timeline_json(nlohmann::json& doc, const std::vector<progress_sample>& progress,
                       const std::vector<run_event>& events) {
  if (!progress.empty()) {
    auto& out = doc["progress"] = nlohmann::json::array();
    for (const auto& p : progress) out.push_back({p.at_seconds, p.done, p.eta_seconds});
  }
  if (!events.empty()) {
    auto& out = doc["events"] = nlohmann::json::array();
    for (const auto& e : events)
      out.push_back(
          {{"kind", e.kind}, {"at_seconds", e.at_seconds}, {"seconds", e.seconds}, {"text", e.text}, {"step", e.step}});
  }
}

/// The first line of a summary: the job, how it ended, and the model's own counts.
std::string headline(const run_report& r) {
  if (r.model == model_kind::iterative)
    return fmt::format("job {} {} in {:.3f} s: {} partitions, {} steps ({} run now) on {} ranks, coordinator rank {}\n",
                       r.job, status_phrase(r.status), r.wall_seconds, r.partitions, r.iterative.steps,
                       r.iterative.steps_run, r.ranks, r.scheduler.value);
  return fmt::format("job {} {} in {:.3f} s: {} partitions ({} run now) on {} ranks, policy {}, scheduler rank {}\n",
                     r.job, status_phrase(r.status), r.wall_seconds, r.partitions, r.partitions_run, r.ranks, r.policy,
                     r.scheduler.value);
}

/// The lines after the result of an iterative summary: placement, workers, checkpoints, rollbacks.
std::string iterative_details(const run_report& r) {
  const auto& it = r.iterative;
  std::string out;
  out += fmt::format("placement: contiguous ranges by measured cost; imbalance (max/mean cost per rank) {:.3f} at "
                     "the start, {:.3f} at the end; {} rebalance{}, {} migration{}; busy imbalance per thread {:.3f}; "
                     "{} partition step{} run while halos were on their way\n",
                     it.imbalance_start, it.imbalance_end, it.rebalances, it.rebalances == 1 ? "" : "s", it.migrations,
                     it.migrations == 1 ? "" : "s", r.imbalance, it.steps_overlapped,
                     it.steps_overlapped == 1 ? "" : "s");
  out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11} {:>11}\n", "rank", "host", "threads", "partitions", "busy s",
                     "idle s");
  for (const auto& w : r.workers)
    out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11.3f} {:>11.3f}\n", w.rank, w.host, w.threads, w.partitions,
                       w.busy_seconds, w.idle_seconds);
  if (r.checkpoints > 0 || !r.restored_from.empty())
    out += fmt::format("checkpoints: {} written, {:.3f} s, {} bytes; restored from: {}{}\n", r.checkpoints,
                       r.checkpoint_seconds, r.checkpoint_bytes, r.restored_from.empty() ? "-" : r.restored_from,
                       r.restored_from.empty() ? "" : fmt::format(" (step {})", r.restored_done));
  if (!it.output_file.empty())
    out += fmt::format("output: {} ({} bytes, {:.3f} s)\n", it.output_file, it.output_bytes, it.output_seconds);
  for (const auto& b : it.rollbacks)
    out += fmt::format("rollback: rank(s) {} lost after step {} (noticed at {:.3f} s); {} of {} ranks went on at "
                       "{:.3f} s from {} (step {}), {} step(s) run again\n",
                       fmt::join(b.lost_ranks, ", "), b.lost_at_step, b.noticed_at_seconds, b.ranks_after,
                       b.ranks_before, b.resumed_at_seconds,
                       b.checkpoint.empty() ? std::string("the start") : b.checkpoint, b.from_step,
                       b.lost_at_step - std::min(b.lost_at_step, b.from_step));
  return out;
}

/// MB/s of a reader's or writer's figures (0 when it spent no time).
template <class Stats>
double rate(const Stats& s) {
  return s.seconds > 0 ? static_cast<double>(s.bytes) / s.seconds / 1e6 : 0.0;
}

/// The data path's reads, in total and per rank ("" when the job declared no input).
std::string input_lines(const std::vector<worker_summary>& workers) {
  input_stats all;
  for (const auto& w : workers) {
    all.bytes += w.input.bytes;
    all.partitions += w.input.partitions;
    all.seconds += w.input.seconds;
    all.hits += w.input.hits;
  }
  if (all.partitions == 0) return {};
  std::string out = fmt::format("input: {:.1f} MB read in {} blocks, {:.3f} s in reads ({:.0f} MB/s per reader), {} "
                                "read-ahead hit{}\n",
                                static_cast<double>(all.bytes) / 1e6, all.partitions, all.seconds, rate(all), all.hits,
                                all.hits == 1 ? "" : "s");
  out += fmt::format("{:>6} {:>14} {:>8} {:>10} {:>10} {:>6}\n", "rank", "input bytes", "blocks", "read s", "MB/s",
                     "hits");
  for (const auto& w : workers)
    out += fmt::format("{:>6} {:>14} {:>8} {:>10.3f} {:>10.0f} {:>6}\n", w.rank, w.input.bytes, w.input.partitions,
                       w.input.seconds, rate(w.input), w.input.hits);
  return out;
}

/// The data path's writes of a per-partition output, in total and per rank ("" when the job declared none).
std::string output_lines(const std::vector<worker_summary>& workers) {
  output_stats all;
  for (const auto& w : workers) {
    all.bytes += w.output.bytes;
    all.partitions += w.output.partitions;
    all.seconds += w.output.seconds;
    all.direct_bytes += w.output.direct_bytes;
  }
  if (all.partitions == 0) return {};
  std::string out = fmt::format(
      "output: {:.1f} MB written in {} blocks ({:.1f} MB with O_DIRECT), {:.3f} s in writes ({:.0f} MB/s "
      "per writer)\n",
      static_cast<double>(all.bytes) / 1e6, all.partitions, static_cast<double>(all.direct_bytes) / 1e6, all.seconds,
      rate(all));
  out += fmt::format("{:>6} {:>14} {:>8} {:>10} {:>10}\n", "rank", "output bytes", "blocks", "write s", "MB/s");
  for (const auto& w : workers)
    out += fmt::format("{:>6} {:>14} {:>8} {:>10.3f} {:>10.0f}\n", w.rank, w.output.bytes, w.output.partitions,
                       w.output.seconds, rate(w.output));
  return out;
}

/// The lines after the result of a map/reduce summary: dispatches, speculation, workers, checkpoints, failovers.
std::string map_reduce_details(const run_report& r) {
  const auto& mr = r.map_reduce;
  std::string out;
  out += fmt::format("dispatches: {} messages, {} chunks; imbalance (max/mean busy per thread): {:.3f}\n", r.dispatches,
                     r.chunks, r.imbalance);
  double busy = 0;
  for (const auto& w : r.workers) busy += w.busy_seconds;
  out += fmt::format("Partita's own threads: {:.3f} CPU s on all ranks ({:.2f}% of the kernels' {:.3f} s)\n",
                     r.framework_cpu_seconds, busy > 0 ? 100.0 * r.framework_cpu_seconds / busy : 0.0, busy);
  if (mr.speculation)
    out += fmt::format("speculation: {} cop{} of straggling partitions, {} won (after {:g}x the expected time)\n",
                       mr.speculative_copies, mr.speculative_copies == 1 ? "y" : "ies", mr.speculative_won,
                       mr.speculation_factor);
  if (mr.take_backs > 0)
    out += fmt::format("take-back: {} partition{} moved from busy ranks to idle ones in {} take-back{}\n",
                       mr.taken_back, mr.taken_back == 1 ? "" : "s", mr.take_backs, mr.take_backs == 1 ? "" : "s");
  // With two levels node schedulers take back among their ranks too; the rows count both.
  std::uint64_t taken = 0;
  for (const auto& w : r.workers) taken += w.taken_back;
  if (taken > mr.taken_back)
    out += fmt::format("take-back inside nodes: {} partition{} moved between ranks of a node by its node scheduler\n",
                       taken - mr.taken_back, taken - mr.taken_back == 1 ? "" : "s");
  out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11} {:>11} {:>8}\n", "rank", "host", "threads", "partitions",
                     "busy s", "idle s", "chunks");
  for (const auto& w : r.workers)
    out += fmt::format("{:>6} {:>20} {:>7} {:>11} {:>11.3f} {:>11.3f} {:>8}{}\n", w.rank, w.host, w.threads,
                       w.partitions, w.busy_seconds, w.idle_seconds, w.chunks, w.lost ? "  LOST" : "");
  out += input_lines(r.workers);
  out += output_lines(r.workers);
  if (r.checkpoints > 0 || !r.restored_from.empty())
    out += fmt::format("checkpoints: {} written, {:.3f} s ({:.2f}% of wall time), {} bytes; restored from: {}\n",
                       r.checkpoints, r.checkpoint_seconds,
                       r.wall_seconds > 0 ? 100.0 * r.checkpoint_seconds / r.wall_seconds : 0.0, r.checkpoint_bytes,
                       r.restored_from.empty() ? "-" : r.restored_from);
  for (const auto& f : mr.failovers)
    out += fmt::format(
        "failover: scheduler rank {} lost (noticed at {:.3f} s); rank {} took over (term {}) and went on "
        "at {:.3f} s from {} ({} partitions) + {} results held by workers + {} running there; {} left, "
        "{} of them run again{}\n",
        f.lost_scheduler, f.noticed_at_seconds, f.new_scheduler, f.term, f.resumed_at_seconds,
        f.checkpoint.empty() ? std::string("no checkpoint") : f.checkpoint, f.from_checkpoint, f.from_workers,
        f.adopted_running, f.to_run, f.rerun,
        f.dropped > 0 ? fmt::format(" ({} dropped by --failover-memory)", f.dropped) : std::string());
  return out;
}

}  // namespace

std::string run_report::to_json() const {
  nlohmann::json doc = {{"job", job},
                        {"policy", policy},
                        {"status", status_word(status)},
                        {"result", result_text},
                        {"ranks", ranks},
                        {"scheduler_rank", scheduler.value},
                        {"partitions", partitions},
                        {"partitions_run", partitions_run},
                        {"wall_seconds", wall_seconds},
                        {"imbalance", imbalance},
                        {"dispatches", dispatches},
                        {"chunks", chunks},
                        {"scheduler",
                         {{"levels", map_reduce.scheduler_levels},
                          {"messages", map_reduce.scheduler_messages},
                          {"busy_seconds", map_reduce.scheduler_busy_seconds}}},
                        {"framework_cpu_seconds", framework_cpu_seconds},
                        {"speculation",
                         {{"enabled", map_reduce.speculation},
                          {"factor", map_reduce.speculation_factor},
                          {"copies", map_reduce.speculative_copies},
                          {"won", map_reduce.speculative_won}}},
                        {"workers", workers_json(workers, model)},
                        {"failovers", failovers_json(map_reduce.failovers)},
                        {"checkpoints",
                         {{"count", checkpoints},
                          {"seconds", checkpoint_seconds},
                          {"bytes", checkpoint_bytes},
                          {"restored_from", restored_from},
                          {"restored_done", restored_done},
                          {"restored_costs", map_reduce.restored_costs},
                          {"stop_reason", stop_reason}}}};
  if (model == model_kind::iterative) add_iterative_json(doc, iterative);
  if (model ==
      model_kind::map_reduce) {  // the fold over aligned id blocks (docs/design.md, "Folding aligned id blocks")
    auto& sched = doc["scheduler"];
    sched["fold_block"] = map_reduce.fold_block;
    sched["blocks_committed"] = map_reduce.blocks_committed;
    sched["block_commits"] = map_reduce.block_commits;
    sched["results_committed"] = map_reduce.results_committed;
    doc["take_back"] = {{"count", map_reduce.take_backs}, {"partitions", map_reduce.taken_back}};
  }
  doc["summary_version"] = summary_version;
  add_timeline_json(doc, progress, events);
  return doc.dump(2);
}

std::string run_report::to_text() const {
  std::string out = headline(*this);
  out += fmt::format("result: {}\n", result_text);
  out += model == model_kind::iterative ? iterative_details(*this) : map_reduce_details(*this);
  if (status == run_status::checkpointed)
    out += fmt::format("stopped: {}; relaunch with --restart auto to continue\n", stop_reason);
  return out;
}

}  // namespace partita
