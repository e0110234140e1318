#pragma once
/// Progress of a running job on the scheduler rank: a live line on a terminal, a log line every few seconds
/// otherwise (Slurm output files).

#include <cstdint>
#include <string>
#include <vector>

#include <partita/scheduler/detail/slurm_comment.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// What the progress line says of the work: seconds since the meter started, units per second in this run, and
/// seconds left at that rate (< 0: unknown). The live metrics read the same figures (metrics_publisher).
struct progress_figures {
  double elapsed_seconds = 0;
  double rate_per_second = 0;
  double eta_seconds = -1;
};

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
  /// The rate and the ETA of `done` at `now`, as the line shows them. Pure.
  progress_figures figures(std::uint64_t done, clock::time_point now) const;
  /// The figures over the run, quiet or not: a sample every 0.25 s at first, thinned to every other one (and the
  /// period doubled) whenever 1024 are kept, plus the last update forced. For the summary (`partita report`).
  const std::vector<progress_sample>& samples() const noexcept { return samples_; }
  /// Samples are timed from `t0` (the job's start, as the trace and the summary's events), not from the meter's.
  void time_samples_from(clock::time_point t0) noexcept { origin_ = t0; }
  std::uint64_t total() const noexcept { return total_; }
  const std::string& unit() const noexcept { return unit_; }

 private:
  void show(std::uint64_t done, clock::time_point now, const std::string& extra, bool force);
  void sample(std::uint64_t done, clock::time_point now, bool force);

  std::string unit_;
  std::uint64_t total_, start_done_;
  double interval_;
  bool quiet_, tty_, shown_ = false;
  clock::time_point start_, last_;
  std::vector<progress_sample> samples_;
  double sample_period_ = 0.25;
  clock::time_point next_sample_, origin_;
  slurm_comment comment_;  // under Slurm: the line in the job's comment too, every 60 s and at the end
};

/// Whether the person watching sees a terminal (this process's stderr, or under mpirun the launcher's).
bool watched_on_terminal();

}  // namespace partita::detail
