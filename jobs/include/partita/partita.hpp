#pragma once
/// What a kernel author includes: map/reduce and iterative jobs, partita::main / partita::program (flags, session, exit
/// codes), partita::run, the session. It does not pull in the command-line parser or the JSON library.

#include <partita/jobs/iterative_job.hpp>
#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/options.hpp>
#include <partita/jobs/partition.hpp>
#include <partita/jobs/program.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/context.hpp>
