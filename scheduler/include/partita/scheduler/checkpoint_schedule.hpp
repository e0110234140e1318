#pragma once
/// When the scheduler checkpoints: every N results, every T seconds, at the Young/Daly interval clamped to
/// the wall time, on SIGUSR1/SIGTERM, and at the end.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace partita {

struct checkpoint_triggers {
  std::uint64_t every_partitions = 0;  ///< 0: off
  double every_seconds = 0;            ///< 0: off
  bool young_daly = false;
  double mtti_seconds = 24 * 3600.0;   ///< mean time to interrupt, for Young/Daly
  std::optional<double> seconds_left;  ///< wall time left at start, if known
  double first_after_seconds = 10;     ///< Young/Daly: the first checkpoint, which measures the cost
};

/// Decides when to checkpoint. Pure logic over the clock it is given (testable); one per job, used by the
/// scheduler's thread only.
class checkpoint_schedule {
 public:
  using clock = std::chrono::steady_clock;

  checkpoint_schedule(checkpoint_triggers t, clock::time_point start);

  /// Why a checkpoint is due now ("" if none): `committed` results so far, at `now`.
  std::string due(std::uint64_t committed, clock::time_point now) const;

  /// Records a checkpoint that took `cost_seconds` and ended at `now` with `committed` results; recomputes
  /// the Young/Daly interval from the measured cost. Returns a line for the log when the interval changed.
  std::string taken(double cost_seconds, std::uint64_t committed, clock::time_point now);

  /// A restarted job starts with `committed` results already in its checkpoint.
  void resume_from(std::uint64_t committed) noexcept { committed_at_last_ = committed; }

  /// True when the wall time will run out before another checkpoint could be written: stop and requeue.
  bool out_of_time(clock::time_point now) const;

  /// The current interval in seconds (Young/Daly or --checkpoint-every T; 0 when time plays no part).
  double interval_seconds() const noexcept { return interval_; }

 private:
  double left(clock::time_point now) const;

  checkpoint_triggers t_;
  clock::time_point start_;
  clock::time_point last_;
  std::uint64_t committed_at_last_ = 0;
  double interval_ = 0;
  double cost_ = 0;
};

}  // namespace partita
