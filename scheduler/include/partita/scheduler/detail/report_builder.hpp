#pragma once
/// The parts of the end-of-job summary every model shares: a row per rank and the totals over them.

#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// The report of a rank that leaves a job the others go on with (replaced as the scheduler, declared lost while
/// frozen, left out of an in-job rollback): status completed, not the scheduler (so it prints nothing and exits 0),
/// `why` as its result text. Committing and reporting the job is the others' business.
run_report left_job_report(const std::string& job, const std::string& why = "(left the job)");

/// The row of rank `r` with its rank, host and thread count filled in (the model fills the figures).
worker_summary worker_row(const session& s, const job_setup& setup, int r);

/// Adds `rows` (one per rank, busy_seconds filled) to `rep`: idle time per rank from `rep.wall_seconds`,
/// the imbalance (max busy per thread / mean busy per thread over ranks that run kernels), and the totals of
/// partitions, chunks and messages.
void add_worker_rows(run_report& rep, std::vector<worker_summary> rows);

}  // namespace partita::detail
