#pragma once
/// What a kernel author includes: the session, map/reduce jobs, run(), the run flags.

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/options.hpp>
#include <partita/jobs/partition.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/context.hpp>
