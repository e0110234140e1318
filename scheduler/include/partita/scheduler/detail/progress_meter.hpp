#pragma once
/// Progress of a running job on the scheduler rank: a live line on a terminal, a log line every few seconds
/// otherwise (Slurm output files).

#include <cstdint>
#include <string>

#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

/// Counts units of work done (partitions, or steps of an iterative job) towards a total and shows the rate and
/// the ETA. Single-threaded; cheap to call on every round of a loop (it prints at most every 0.2 s on a terminal,
/// every `interval` seconds otherwise). Non-copyable only by convention (it prints).
class progress_meter {
 public:
  /// `unit` names what is counted ("partitions", "steps"); `already` is what an earlier run did (restart).
  progress_meter(std::string unit, std::uint64_t total, std::uint64_t already, double interval, bool quiet);

  /// Shows `done` of the total, with `extra` appended (e.g. "residual 1.2e-5"), if it is time to (or `force`).
  void update(std::uint64_t done, const std::string& extra = {}, bool force = false);
  /// The same at `now` (a loop that read the clock for its round already).
  void update(std::uint64_t done, clock::time_point now);
  /// Ends the live line (a newline on a terminal).
  void finish();

 private:
  void show(std::uint64_t done, clock::time_point now, const std::string& extra, bool force);

  std::string unit_;
  std::uint64_t total_, start_done_;
  double interval_;
  bool quiet_, tty_, shown_ = false;
  clock::time_point start_, last_;
};

/// Whether the person watching sees a terminal (this process's stderr, or under mpirun the launcher's).
bool watched_on_terminal();

}  // namespace partita::detail
