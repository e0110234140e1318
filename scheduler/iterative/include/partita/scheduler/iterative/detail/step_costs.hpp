#pragma once
/// The measured cost of each partition's step in an iterative job, which placement balances: the least of its
/// last few measured step times (docs/design.md, "Iterative jobs").

#include <cstddef>
#include <cstdint>
#include <vector>

namespace partita::detail {

/// Seconds per step, per partition. What a rank loses to being descheduled (a loaded node, a wake-up delay) only
/// ever adds to a measurement, so the least of the last `window` filters it out, and a cost that really changes is
/// followed within a window. Every rank keeps the same (every measurement comes through the step gather). Value type.
class step_costs {
 public:
  static constexpr std::size_t window = 8;

  /// `partitions` partitions, none measured yet (cost 0).
  explicit step_costs(std::uint64_t partitions = 0);
  /// Costs saved in a checkpoint (0: never measured): each counts as the first measurement of its window.
  static step_costs restored(std::vector<double> saved);

  /// Notes that partition `id` took `seconds` in step `step` (0-based): it replaces the measurement `window` steps
  /// before. O(window).
  void record(std::uint64_t id, std::uint64_t step, double seconds);

  /// Seconds per step of each partition, by id (0 until measured).
  const std::vector<double>& per_partition() const noexcept { return cost_; }

 private:
  std::vector<double> cost_;
  std::vector<double> recent_;  // [id * window + step % window], infinity where nothing was measured
};

}  // namespace partita::detail
