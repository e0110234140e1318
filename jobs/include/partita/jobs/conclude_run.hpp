#pragma once
/// The end of every run: one function that runs a job on this rank and concludes it (summary, exit code, the
/// launcher's status file, the session's exit code), called by the CLI and by partita::program for both models.

#include <cstdio>
#include <functional>
#include <string_view>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// The one exit path of every Partita program (the CLI's too): maps the exception being handled to its exit code
/// and prints its one line, unless the scheduler rank already logged it. usage_error: "<program>: error: …" on
/// rank 0, exit 2; job_stopped: exit 75; a failure already reported (a kernel that threw, an aborted job): exit 1
/// silently; anything else: "<program>: error on rank R: …", exit 1. Call it inside a catch block. Never throws.
int exit_code_of_current_exception(std::string_view program, rank_t rank) noexcept;

/// Who concludes a run, and where its summary goes.
struct conclusion {
  std::string_view program;  ///< the program's name, first word of its one-line messages ("partita")
  const run_config& config;  ///< --quiet and --summary-json are read from it
  std::FILE* summary_to;     ///< the summary text (the CLI: stdout; a user's program: stderr)
};

/// Runs a job on this rank and concludes it: the one place every entry point (the `partita` CLI, and
/// partita::program and partita::main for both job models) ends a run. `run` runs the job (collective) and returns
/// its report. On the scheduler rank: the summary text (unless --quiet), --summary-json, for a stopped run a line
/// saying how to finish it, then `on_completed` only if the job completed, then the exit code written to the
/// launcher's status file (PARTITA_STATUS_FILE). On every rank the exit code is given to the session (so that
/// `mpirun --enable-recovery` sees a failure) and returned: 0 completed, 75 checkpointed and stopped, 1 failed, 2
/// usage error. An exception from `run` or `on_completed` becomes its one line and exit code
/// (exit_code_of_current_exception). Never throws.
///
///     return conclude_run(session, {"partita", config, stdout}, [&]() -> const run_report& { ... },
///                         [&] { print(result); });
int conclude_run(session& s, const conclusion& how, const std::function<const run_report&()>& run,
                 const std::function<void()>& on_completed) noexcept;

}  // namespace partita
