#pragma once
/// Running a job: partita::run(session, job, config) and the job_result it returns.

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/driver.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// What one run of a job gave: the report (timings complete on the scheduler rank) and, only if every partition
/// was committed, the result (on every rank). A run stopped at a checkpoint (signal, wall time) has no value: its
/// accumulator is partial, and value() refuses to hand it out. Value type.
template <class Result>
class job_result {
 public:
  job_result(run_report report, Result value) : report_(std::move(report)), value_(std::move(value)) {}

  /// Whether every partition was committed (false: checkpointed and stopped; relaunch with --restart auto).
  bool completed() const noexcept { return report_.status == run_status::completed; }
  /// The job's result. Throws job_stopped if the run stopped at a checkpoint before it completed.
  const Result& value() const {
    if (!completed())
      throw job_stopped("job '" + report_.job + "' stopped at a checkpoint before it completed (" +
                        report_.stop_reason + "); it has no result yet: relaunch with --restart auto to finish it");
    return value_;
  }
  const run_report& report() const noexcept { return report_; }
  /// Whether this rank was the scheduler (the one to print results and summaries on).
  bool is_scheduler() const noexcept { return report_.is_scheduler; }

 private:
  run_report report_;
  Result value_;
};

/// Runs a map/reduce job over every rank of the session. Collective: every rank calls it with an identical job.
/// Most programs call partita::main or partita::program::run instead, which also turn failures into exit codes.
///
///     auto r = partita::run(session, job, config);
///     if (r.completed() && r.is_scheduler()) fmt::print("{}\n", r.value());
///
/// Throws kernel_error (scheduler rank) / remote_failure (others) if a kernel throws, usage_error for a bad
/// configuration (every rank), checkpoint_error for an unusable --restart file, error if a peer is lost.
template <class Result>
job_result<Result> run(session& s, const map_reduce_job<Result>& job, const run_config& config = {}) {
  auto model = job.model();
  auto report = run_map_reduce(s, *model, config);
  Result value{};
  if (report.status == run_status::completed && !report.result.empty()) value = deserialize<Result>(report.result);
  return job_result<Result>(std::move(report), std::move(value));
}

}  // namespace partita
