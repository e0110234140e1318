#pragma once
/// The rows of the root scheduler's report at the end of a map/reduce job: one per rank, with its trace.

#include <optional>
#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// Adds the row of each rank to `rep` (whose wall_seconds is set): what the root's dispatcher `d` counted, what a
/// node scheduler counted for its ranks and what each rank reported in `stats` (its trace is moved out), and for
/// the root itself its executor `local` (null when dedicated) and `framework_cpu_seconds`. Returns each rank's
/// trace, for write_trace().
std::vector<rank_trace> add_rank_rows(run_report& rep, const session& s, const job_setup& setup, const dispatcher& d,
                                      std::vector<std::optional<worker_stats>>& stats, executor* local,
                                      double framework_cpu_seconds);

}  // namespace partita::detail
