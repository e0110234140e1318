#pragma once
/// Everything the scheduler layer offers: the job machinery and both job models (the layer's umbrella, the one
/// header here that may include a model).

#include <partita/scheduler/context.hpp>
#include <partita/scheduler/iterative/driver.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/driver.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/random_stream.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>
