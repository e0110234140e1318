#pragma once
/// Running a map/reduce job: partita::run(session, job, config) and the run_result it returns.

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run_result.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/driver.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// Runs a map/reduce job over every rank of the session. Collective: every rank calls it with an identical job.
/// Most programs call partita::main or partita::program::run instead, which also turn failures into exit codes.
///
///     auto r = partita::run(session, job, config);
///     if (r.completed() && r.is_scheduler()) fmt::print("{}\n", r.value());
///
/// Throws kernel_error (scheduler rank) / remote_failure (others) if a kernel throws, usage_error for a bad
/// configuration (every rank), checkpoint_error for an unusable --restart file, error if a peer is lost.
template <class Result>
run_result<Result> run(session& s, const map_reduce_job<Result>& job, const run_config& config = {}) {
  auto model = job.model();
  auto report = run_map_reduce(s, *model, config);
  Result value{};
  if (report.status == run_status::completed && !report.result.empty()) value = deserialize<Result>(report.result);
  return run_result<Result>(std::move(report), std::move(value));
}

}  // namespace partita
