#pragma once
/// What one run of a job gave, for both job models: the report, and only once the job completed, its value.

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// The run_result of a job model without per-partition final states (map/reduce).
struct no_states {};

/// What one run of a job gave: the report (timings complete on the scheduler rank) and, only if the job completed,
/// its value (on every rank): a map/reduce job's result, an iterative job's last reductions. An iterative run of a job
/// that keeps its final states also carries them (`State`; on the coordinating rank, in id order). A run stopped at a
/// checkpoint (signal, wall time) has no value: its accumulator is partial, and value() refuses to hand it out.
/// Value type.
///
///     auto r = partita::run(session, job, config);
///     if (r.completed() && r.is_scheduler()) fmt::print("{}\n", r.value());
template <class Value, class State = no_states>
class run_result {
 public:
  /// `states_kept`: false when the job did not keep its final states (states() then says how to ask for them).
  run_result(run_report report, Value value, std::vector<State> states = {}, bool states_kept = true)
      : report_(std::move(report)), value_(std::move(value)), states_(std::move(states)), states_kept_(states_kept) {}

  /// Whether the job completed (false: checkpointed and stopped; relaunch with --restart auto).
  bool completed() const noexcept { return report_.status == run_status::completed; }
  /// The job's value. Throws job_stopped if the run stopped at a checkpoint before it completed.
  const Value& value() const {
    check_completed();
    return value_;
  }
  /// Every partition's final state in id order (on the coordinating rank; empty elsewhere), if the job kept them
  /// (iterative_job::keep_final_states; else throws usage_error saying so). Throws like value() too.
  const std::vector<State>& states() const requires(!std::is_same_v<State, no_states>) {
    check_completed();
    if (!states_kept_)
      throw usage_error("job '" + report_.job +
                        "' did not keep its final states: call .keep_final_states() on the "
                        "job to have them gathered on the coordinating rank, or write them with --output FILE");
    return states_;
  }
  const run_report& report() const noexcept { return report_; }
  /// Whether this rank was the scheduler (the one to print results and summaries on).
  bool is_scheduler() const noexcept { return report_.is_scheduler; }

 private:
  void check_completed() const {
    if (!completed())
      throw job_stopped("job '" + report_.job + "' stopped at a checkpoint before it completed (" +
                        report_.stop_reason + "); it has no result yet: relaunch with --restart auto to finish it");
  }

  run_report report_;
  Value value_;
  std::vector<State> states_;
  bool states_kept_ = true;
};

}  // namespace partita
