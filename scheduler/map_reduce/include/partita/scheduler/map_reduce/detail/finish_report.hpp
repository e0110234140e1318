#pragma once
/// The report of a map/reduce rank that did not schedule the job, from the scheduler's finish message.

#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>

namespace partita::detail {

/// What a rank that did not schedule the job knows at its end, from the scheduler's finish message: status,
/// result and its text, and the job's shape.
run_report report_from_finish(finish_msg fin, const map_job_model& job, const run_config& config, rank_t scheduler,
                              int ranks);

}  // namespace partita::detail
