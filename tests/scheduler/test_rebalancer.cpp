// Scheduler_Rebalancer: when an iterative job moves partitions, decided from measured costs without MPI.
#include <gtest/gtest.h>

#include <partita/scheduler/iterative/detail/rebalancer.hpp>

namespace {
using namespace partita::detail;

std::vector<double> skewed() {  // the first quarter of 64 partitions costs 8x: an even split is far off
  std::vector<double> cost(64, 1e-3);
  for (int i = 0; i < 16; ++i) cost[static_cast<std::size_t>(i)] = 8e-3;
  return cost;
}

TEST(Scheduler_Rebalancer, MovesOnTheThresholdForAClearGain) {
  const rebalancer r(0, 1.1);
  const std::vector<int> threads(4, 1);
  const auto plan = r.due(even_placement(64, 4), skewed(), threads, 10);
  ASSERT_TRUE(plan);
  EXPECT_GT(plan->imbalance_now, 2.0);
  EXPECT_LT(plan->imbalance_then, 1.1);
  EXPECT_GT(plan->moved, 0u);
  EXPECT_EQ(plan->next, balanced_placement(skewed(), threads));
}

TEST(Scheduler_Rebalancer, LooksAtTheThresholdEveryTenSteps) {
  rebalancer r(0, 1.1);
  const std::vector<int> threads(4, 1);
  const auto plan = r.due(even_placement(64, 4), skewed(), threads, 10);
  ASSERT_TRUE(plan);
  r.done(*plan, 10);
  EXPECT_EQ(r.rebalances(), 1u);
  EXPECT_EQ(r.migrations(), plan->moved);
  EXPECT_FALSE(r.due(even_placement(64, 4), skewed(), threads, 19));
  EXPECT_TRUE(r.due(even_placement(64, 4), skewed(), threads, 20));
}

TEST(Scheduler_Rebalancer, StaysWhenBalancedOrWhenTheMoveDoesNotPay) {
  const std::vector<int> threads(4, 1);
  EXPECT_FALSE(rebalancer(0, 1.1).due(even_placement(64, 4), std::vector<double>(64, 1e-3), threads, 10));
  // Microsecond steps: 20 steps of the time saved do not pay for moving the partitions.
  auto tiny = skewed();
  for (auto& c : tiny) c *= 1e-3;
  EXPECT_FALSE(rebalancer(0, 1.1).due(even_placement(64, 4), tiny, threads, 10));
  // Unless the count says so: --rebalance-every moves for any clear gain.
  EXPECT_TRUE(rebalancer(5, 0).due(even_placement(64, 4), tiny, threads, 10));
  EXPECT_FALSE(rebalancer(5, 0).due(even_placement(64, 4), tiny, threads, 11));
}

}  // namespace
