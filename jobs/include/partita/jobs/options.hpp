#pragma once
/// The command-line flags every job understands (policy, threads, seed, outputs, …), for the partita CLI
/// and for standalone programs alike.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita {

/// Adds the run flags to a CLI11 app; values land in `config`.
void add_run_options(CLI::App& app, run_config& config);

/// Adds `--param key=value` (repeatable) to a CLI11 app; items land in `items` (see parameters::parse).
void add_param_option(CLI::App& app, std::vector<std::string>& items);

/// For a program's own main(): parses the run flags from argv. On --help prints the flags and exits 0;
/// on a bad flag prints a one-line error with the fix on the first rank only and exits 2.
/// Call it before constructing the session, so a typo costs no MPI start-up.
/// With `params`, `--param key=value` is accepted too and parsed into it.
run_config parse_run_config(int argc, char** argv, const std::string& description = "a Partita job",
                            parameters* params = nullptr);

/// Exit code of a job that checkpointed and stopped on a signal: relaunch it with --restart auto.
inline constexpr int exit_checkpointed = 75;  // EX_TEMPFAIL
/// Exit code of a usage error (bad flag, unknown job, bad parameter).
inline constexpr int exit_usage = 2;

}  // namespace partita
