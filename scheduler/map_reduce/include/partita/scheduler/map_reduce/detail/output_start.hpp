#pragma once
/// The start of a map/reduce job's per-partition output: the scheduler prepares the file, every rank learns where
/// the dataset's bytes are.

#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// Collective over setup.comm, before any partition runs, for a job with an output (map_job_model::has_output): the
/// scheduler rank creates or reopens the file (prepare_output), then every rank gets its verdict and the dataset's
/// offset (open_output). A refusal (another job's file) throws usage_error on every rank; a failure error.
void start_output(const session& s, map_job_model& job, const run_config& config, const job_setup& setup);

}  // namespace partita::detail
