#pragma once
/// The refusal of a map/reduce restart whose declared input changed since its checkpoint.

#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// When `config` restarts the job (--restart FILE, or auto: the newest of the job in --checkpoint-dir) and that
/// checkpoint was made from another version of one of the job's inputs (its "<name>.identity" parameters), throws
/// usage_error naming the input and the fix. Local: every rank reads the same file and reaches the same verdict,
/// before any rank waits on another. Does nothing for a job without inputs or a run without --restart.
void refuse_changed_input(const map_job_model& job, const run_config& config);

}  // namespace partita::detail
