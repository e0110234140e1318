#pragma once
/// When an iterative job moves partitions between ranks, and where to: the decision at a step boundary from the
/// measured costs, without MPI (every rank takes the same one from the same gathered inputs).

#include <cstdint>
#include <optional>
#include <span>

#include <partita/scheduler/iterative/detail/placement.hpp>

namespace partita::detail {

/// A move the rebalancer decided: the placement to go to, how many partitions change rank, and the imbalance
/// (placement_imbalance) before and after as the measured costs predict it. Value type.
struct rebalance_plan {
  placement next;
  std::uint64_t moved = 0;
  double imbalance_now = 1;
  double imbalance_then = 1;
};

/// The rebalancing rule of one run (--rebalance-every, --imbalance-threshold) and what it decided so far. Value type.
class rebalancer {
 public:
  /// `every_steps`: rebalance at every multiple of it (0: never on a count); `threshold`: rebalance when the
  /// imbalance is above it (0: off), looked at no more often than every 10 steps.
  rebalancer(std::uint64_t every_steps, double threshold) : every_steps_(every_steps), threshold_(threshold) {}

  /// The move to make after `steps` steps from `place` given the measured `cost` per partition and `threads` per
  /// rank, or nullopt to stay: only for a clear gain, and on the threshold alone only if the step time saved over
  /// the next 20 steps pays for the move. O(partitions + ranks log ranks).
  std::optional<rebalance_plan> due(const placement& place, std::span<const double> cost, std::span<const int> threads,
                                    std::uint64_t steps) const;
  /// Notes that `plan` was carried out after `steps` steps.
  void done(const rebalance_plan& plan, std::uint64_t steps);

  std::uint64_t migrations() const noexcept { return migrations_; }  ///< partitions moved so far
  std::uint64_t rebalances() const noexcept { return rebalances_; }  ///< moves made so far

 private:
  std::uint64_t every_steps_;
  double threshold_;
  std::uint64_t last_ = 0;  // the step of the last move
  std::uint64_t migrations_ = 0, rebalances_ = 0;
};

}  // namespace partita::detail
