#pragma once
/// Running an iterative job: partitions on every rank's TBB threads, halos between them, reductions in id order,
/// rebalancing by measured cost, coordinated checkpoints at step boundaries.

#include <partita/runtime/session.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// Runs `job` over every rank of `s` (collective: every rank calls it with an identical model). Returns when the
/// job is done (model.done() after a step) or stopped at a checkpoint (a signal, the wall time). The coordinating
/// rank (report.is_scheduler) gets the complete report and calls model.conclude(), with every final state only if
/// model.keeps_final_states() (within --final-gather-limit). With --output FILE every rank writes its partitions'
/// final states into FILE collectively when the job completed (a stopped run writes none); a FILE of another job
/// is refused (usage_error) before the first step unless --overwrite-output.
/// Throws usage_error (every rank) for a bad neighbour graph, a halo of the wrong size or map/reduce-only options;
/// kernel_error on the rank whose kernel threw (remote_failure elsewhere); checkpoint_error for an unusable
/// --restart file; error if a peer stays silent past --timeout. A lost rank ends the run (relaunch with
/// --restart auto), except under in-job recovery (`mpirun --enable-recovery`, or --failover): then the survivors
/// agree on who is left, narrow `s` to themselves (session::continue_with) and go on from the last checkpoint in
/// the same call; a rank left out returns a report that is not the scheduler's. docs/design.md, "Iterative jobs"
/// and "In-job rollback".
run_report run_iterative(session& s, iterative_job_model& job, const run_config& config);

}  // namespace partita
