#pragma once
/// A user's own program that behaves like `partita run`: the same flags, the same one-line messages and the same
/// exit codes (0 done, 1 failed, 2 usage error, 75 checkpointed and stopped: relaunch with --restart auto).

#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <partita/jobs/conclude_run.hpp>
#include <partita/jobs/iterative_job.hpp>
#include <partita/jobs/options.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita {

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
    return run_and_conclude(job, [&](const auto& r) { on_result(r.value()); });
  }

  /// Runs the iterative `job` on every rank (collective). On the coordinating rank, once the job completed, calls
  /// `on_result(const partita::reductions&)`, or `on_result(const partita::reductions&, const std::vector<State>&
  /// final_states)` (states in partition-id order), which keeps the final states: they are gathered on that rank
  /// (at scale, write them with --output FILE and take the first form). A stopped run never reaches it. Returns
  /// the exit code for main(), like the map/reduce overload.
  template <class State, class OnResult>
  int run(const iterative_job<State>& job, OnResult&& on_result) {
    if constexpr (std::is_invocable_v<OnResult&, const reductions&, const std::vector<State>&>) {
      auto keeping = job;
      keeping.keep_final_states();
      return run_and_conclude(keeping, [&](const auto& r) { on_result(r.value(), r.states()); });
    } else {
      return run_and_conclude(job, [&](const auto& r) { on_result(r.value()); });
    }
  }

 private:
  /// Runs `job` and concludes the run like every entry point does (conclude_run); `deliver(result)` hands a
  /// completed result to the user's on_result.
  template <class Job, class Deliver>
  int run_and_conclude(const Job& job, Deliver deliver) {
    std::optional<decltype(partita::run(session_, job, parsed_.config))> r;
    return conclude_run(
        session_, {name_, parsed_.config, stderr},
        [&]() -> const run_report& { return r.emplace(partita::run(session_, job, parsed_.config)).report(); },
        [&] { deliver(*r); });
  }

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
///     int main(int argc, char** argv) {
///       return partita::main(argc, argv, job, [](double x) { std::printf("%g\n", x); });
///     }
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
