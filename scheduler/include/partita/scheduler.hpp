#pragma once
/// Everything the scheduler layer offers.

#include <partita/scheduler/context.hpp>
#include <partita/scheduler/dispatcher.hpp>
#include <partita/scheduler/executor.hpp>
#include <partita/scheduler/job_model.hpp>
#include <partita/scheduler/map_reduce_driver.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/policy.hpp>
#include <partita/scheduler/random_stream.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>
