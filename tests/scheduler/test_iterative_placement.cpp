// Scheduler_IterativePlacement / Scheduler_IterativeState: placement by measured cost and the saved state of an
// iterative job, without MPI.
#include <gtest/gtest.h>

#include <partita/scheduler/iterative/detail/placement.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace {
using namespace partita::detail;

TEST(Scheduler_IterativePlacement, EvenRangesCoverEveryIdOnce) {
  const auto p = even_placement(10, 4);
  EXPECT_EQ(p.starts, (std::vector<std::uint64_t>{0, 3, 6, 8, 10}));
  EXPECT_EQ(p.owner(0), 0);
  EXPECT_EQ(p.owner(5), 1);
  EXPECT_EQ(p.owner(9), 3);
  EXPECT_EQ(even_placement(2, 4).starts, (std::vector<std::uint64_t>{0, 1, 2, 2, 2}));
}

TEST(Scheduler_IterativePlacement, SkewedCostsConvergeUnderTenPercentImbalance) {
  // The first quarter of 64 partitions costs 8x: an even split puts all of it on rank 0.
  std::vector<double> cost(64, 1.0);
  for (int i = 0; i < 16; ++i) cost[static_cast<std::size_t>(i)] = 8.0;
  const std::vector<int> threads(4, 1);
  const auto even = even_placement(64, 4);
  EXPECT_GT(placement_imbalance(even, cost, threads), 2.0);
  const auto balanced = balanced_placement(cost, threads);
  EXPECT_LT(placement_imbalance(balanced, cost, threads), 1.1);
  EXPECT_EQ(balanced.starts.front(), 0u);
  EXPECT_EQ(balanced.starts.back(), 64u);
  EXPECT_TRUE(std::is_sorted(balanced.starts.begin(), balanced.starts.end()));
}

TEST(Scheduler_IterativePlacement, UnknownCostsFallBackToEvenRanges) {
  const std::vector<double> cost(12, 0.0);
  const std::vector<int> threads(3, 2);
  EXPECT_EQ(balanced_placement(cost, threads), even_placement(12, 3));
}

TEST(Scheduler_IterativeState, ImageRoundTrip) {
  iterative_state s;
  s.steps = 42;
  s.partition_count = 3;
  s.reductions = {1.5, -2};
  s.cost = {0.1, 0.2, 0.3};
  s.run_seconds = 7;
  auto img = s.to_image();
  EXPECT_EQ(img.meta.model, "iterative");
  add_partition(img, 1, 42,
                {partita::state_array{"u", partita::bytes(16), true},
                 partita::state_array{"x", partita::bytes(3), false}});
  const auto back = iterative_state::from_image(img, "f.h5", 2);
  EXPECT_EQ(back.steps, 42u);
  EXPECT_EQ(back.reductions, s.reductions);
  EXPECT_EQ(back.cost, s.cost);
  EXPECT_EQ(back.run_seconds, 7);
  const auto arrays = arrays_of(img, 1);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_TRUE(arrays[0].doubles);
  EXPECT_FALSE(arrays[1].doubles);
  EXPECT_THROW(iterative_state::from_image(img, "f.h5", 3), partita::checkpoint_error);
}

TEST(Scheduler_IterativeState, ArraysEncodeAndDecode) {
  const std::vector<partita::state_array> a = {{"u", partita::bytes(24, std::byte{7}), true}, {"s", {}, false}};
  partita::bytes buf;
  encode_arrays(buf, a);
  std::size_t pos = 0;
  EXPECT_EQ(decode_arrays(buf, pos), a);
  EXPECT_EQ(pos, buf.size());
  buf.resize(buf.size() - 30);
  pos = 0;
  EXPECT_THROW(decode_arrays(buf, pos), partita::error);
}

}  // namespace
