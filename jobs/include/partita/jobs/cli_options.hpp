#pragma once
/// The run flags as CLI11 options, for programs that build their own command line (the partita CLI does).
/// Kernel authors do not need this header: partita::program and parse_run_config parse the flags for them.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include <partita/scheduler/run_config.hpp>

namespace partita {

/// Adds the run flags to a CLI11 app; values land in `config`.
void add_run_options(CLI::App& app, run_config& config);

/// Adds `--param key=value` (repeatable) to a CLI11 app; items land in `items` (see parameters::parse).
void add_param_option(CLI::App& app, std::vector<std::string>& items);

}  // namespace partita
