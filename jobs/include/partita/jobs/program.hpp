#pragma once
/// A user's own program that behaves like `partita run`: the same flags, the same one-line messages and the same
/// exit codes (0 done, 1 failed, 2 usage error, 75 checkpointed and stopped: relaunch with --restart auto).

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <partita/jobs/iterative_job.hpp>
#include <partita/jobs/options.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita {

/// The one exit path of every Partita program (the CLI's too): maps the exception being handled to its exit code
/// and prints its one line, unless the scheduler rank already logged it. usage_error: "<program>: error: …" on
/// rank 0, exit 2; job_stopped: exit 75; a failure already reported (a kernel that threw, an aborted job): exit 1
/// silently; anything else: "<program>: error on rank R: …", exit 1. Call it inside a catch block. Never throws.
int exit_code_of_current_exception(std::string_view program, rank_t rank) noexcept;

/// What the CLI and a program do on the scheduler rank once a run returns: the summary text to `summary_to`
/// (unless --quiet), --summary-json, and for a stopped run a line saying how to finish it. Returns the exit code
/// (0 completed, 75 checkpointed and stopped). Throws error if the summary cannot be written.
int conclude_run(const run_report& report, const run_config& config, std::FILE* summary_to);

/// The flags, the session and the exit path of a user's own program. Constructing it parses the run flags and
/// `--param key=value` (a bad flag: one line on the first rank and exit 2, before MPI starts; --help: exit 0),
/// then starts the session. Words after "--" are the program's own (args()). Non-copyable, non-movable.
///
///     partita::program prog(argc, argv, "histogram of random walks");
///     auto job = make_job(prog.params().get_int("walks", 2000));
///     return prog.run(job, [](const histogram& h) { print(h); });
class program {
 public:
  program(int& argc, char**& argv, std::string description = "a Partita job");
  program(const program&) = delete;
  program& operator=(const program&) = delete;

  const run_config& config() const noexcept { return parsed_.config; }
  const parameters& params() const noexcept { return parsed_.params; }
  /// The words after "--" on the command line.
  const std::vector<std::string>& args() const noexcept { return parsed_.args; }
  partita::session& session() noexcept { return session_; }

  /// Runs `job` on every rank (collective). On the scheduler rank, once every partition is committed, calls
  /// `on_result(const Result&)`: a stopped run never reaches it. Returns the exit code for main(); failures,
  /// including an exception from `on_result`, become their one line and exit code (exit_code_of_current_exception).
  template <class Result, class OnResult>
  int run(const map_reduce_job<Result>& job, OnResult&& on_result) {
    int code = 0;
    try {
      const auto r = partita::run(session_, job, parsed_.config);
      if (!r.is_scheduler()) {
        code = r.completed() ? 0 : exit_checkpointed;
      } else {
        code = conclude_run(r.report(), parsed_.config, stderr);
        if (code == 0) on_result(r.value());
        std::fflush(stdout);
        record_exit_status(code);  // the job's own word for the launcher (PARTITA_STATUS_FILE)
      }
    } catch (...) {
      code = exit_code_of_current_exception(name_, session_.rank());
    }
    session_.set_exit_code(code);
    return code;
  }

  /// Runs the iterative `job` on every rank (collective). On the coordinating rank, once the job completed, calls
  /// `on_result(const partita::reductions&, const std::vector<State>& final_states)` (states in partition-id order).
  /// A stopped run never reaches it. Returns the exit code for main(), like the map/reduce overload.
  template <class State, class OnResult>
  int run(const iterative_job<State>& job, OnResult&& on_result) {
    try {
      const auto r = partita::run(session_, job, parsed_.config);
      if (!r.is_scheduler()) return r.completed() ? 0 : exit_checkpointed;
      const int code = conclude_run(r.report(), parsed_.config, stderr);
      if (code == 0) on_result(r.value(), r.states());
      std::fflush(stdout);
      return code;
    } catch (...) {
      return exit_code_of_current_exception(name_, session_.rank());
    }
  }

 private:
  struct parsed {
    run_config config;
    parameters params;
    std::vector<std::string> args;
  };
  static parsed parse(int argc, char** argv, const std::string& description);

  std::string name_;
  parsed parsed_;
  partita::session session_;
};

/// The whole main() of a program with one job: parses the flags, runs `job` on every rank, calls `on_result` with
/// the result on one rank when the job completed, and returns the exit code.
///
///     int main(int argc, char** argv) { return partita::main(argc, argv, job, [](double x) { std::printf("%g\n", x); }); }
template <class Result, class OnResult>
int main(int argc, char** argv, const map_reduce_job<Result>& job, OnResult&& on_result) {
  program prog(argc, argv, "job '" + job.name() + "'");
  return prog.run(job, std::forward<OnResult>(on_result));
}

/// The whole main() of a program with one iterative job (see program::run for `on_result`).
template <class State, class OnResult>
int main(int argc, char** argv, const iterative_job<State>& job, OnResult&& on_result) {
  program prog(argc, argv, "job '" + job.name() + "'");
  return prog.run(job, std::forward<OnResult>(on_result));
}

}  // namespace partita
