#pragma once
/// Running a job: partita::run(session, job, config).

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce_driver.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// A finished job: its result (on every rank) and the report (timings complete on the scheduler rank).
template <class Result>
struct job_result {
  Result value{};
  run_report report;
};

/// Runs a map/reduce job over every rank of the session and returns its result on every rank.
/// Collective: every rank calls it with an identical job.
///
///     auto r = partita::run(session, job, partita::parse_run_config(argc, argv));
///     if (r.report.is_scheduler) fmt::print("{}\n", r.value);
template <class Result>
job_result<Result> run(session& s, const map_reduce_job<Result>& job, const run_config& config = {}) {
  auto model = job.model();
  job_result<Result> out;
  out.report = run_map_reduce(s, *model, config);
  if (!out.report.result.empty()) out.value = deserialize<Result>(out.report.result);
  return out;
}

}  // namespace partita
