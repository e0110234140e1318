#pragma once
/// Parsing the command-line flags every job understands (policy, threads, seed, outputs, …) in a program's
/// own main(), and the exit codes every Partita program shares. Free of the CLI parser (cli_options.hpp has it).

#include <string>

#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita {

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
/// Exit code of a job that failed (a kernel threw, a rank was lost past recovery, a checkpoint was unusable).
inline constexpr int exit_failure = 1;

}  // namespace partita
