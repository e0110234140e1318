#pragma once
/// Runs a map/reduce job over every rank of a session: election, scheduler or worker loop, result to all.

#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// Runs `job` to completion (or to a checkpointed stop). Collective over the session's communicator:
/// every rank calls it with an identical job. The ranks elect a scheduler; it hands out chunks of partitions,
/// folds results in partition-id order and sends the final accumulator to every rank.
/// Throws kernel_error on the scheduler rank (and remote_failure elsewhere) if a kernel throws; usage_error
/// for a bad configuration (on every rank); error if a peer is lost past the timeout.
run_report run_map_reduce(session& s, map_job_model& job, const run_config& config);

}  // namespace partita
