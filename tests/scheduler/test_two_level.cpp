// Scheduler_TwoLevel: the topology of two-level scheduling, a node scheduler's pool, and the dispatcher taking a
// rank whose node scheduler was lost as a direct worker (all MPI-free).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/node_pool.hpp>
#include <partita/scheduler/detail/protocol.hpp>
#include <partita/scheduler/detail/scheduler_tree.hpp>
#include <partita/scheduler/dispatcher.hpp>

#include "chunk_ids.hpp"

namespace {

using namespace partita;
using partita::detail::node_pool;
using partita::detail::scheduler_tree;
using partita::testing::ids_of;

TEST(Scheduler_TwoLevel, LevelsFollowTheRankCountUnlessForced) {
  EXPECT_EQ(detail::scheduler_levels_for(4, 0), 1);
  EXPECT_EQ(detail::scheduler_levels_for(detail::two_level_default_ranks - 1, 0), 1);
  EXPECT_EQ(detail::scheduler_levels_for(detail::two_level_default_ranks, 0), 2);
  EXPECT_EQ(detail::scheduler_levels_for(4, 2), 2);
  EXPECT_EQ(detail::scheduler_levels_for(1000, 1), 1);
  EXPECT_EQ(detail::nodes_every(7, 3), (std::vector<int>{0, 0, 0, 1, 1, 1, 2}));
  EXPECT_THROW(detail::nodes_every(4, 0), usage_error);
}

TEST(Scheduler_TwoLevel, OneNodeSchedulerPerNodeButTheRoots) {
  // 9 ranks, 3 per node; the root is rank 4 (node 1).
  const auto t = scheduler_tree::by_node(detail::nodes_every(9, 3), rank_t{4});
  EXPECT_EQ(t.levels, 2);
  EXPECT_EQ(t.node_scheduler_count(), 2);
  EXPECT_EQ(t.boss, (std::vector<int>{4, 0, 0, 4, 4, 4, 4, 6, 6}));
  EXPECT_TRUE(t.is_node_scheduler(0));
  EXPECT_TRUE(t.is_node_scheduler(6));
  EXPECT_FALSE(t.is_node_scheduler(4));
  EXPECT_FALSE(t.is_node_scheduler(3));
  EXPECT_EQ(t.members[0], (std::vector<int>{1, 2}));
  EXPECT_EQ(t.members[6], (std::vector<int>{7, 8}));
  for (int r : {0, 3, 5, 6}) EXPECT_TRUE(t.reports_to_root(r)) << r;
  for (int r : {1, 2, 4, 7, 8}) EXPECT_FALSE(t.reports_to_root(r)) << r;
  // The root sees a node scheduler as one worker with its node's threads.
  EXPECT_EQ(t.root_view({2, 2, 2, 1, 0, 1, 3, 1, 1}), (std::vector<int>{6, 0, 0, 1, 0, 1, 5, 0, 0}));
}

TEST(Scheduler_TwoLevel, SingleRankNodesAndOneNodeStayFlat) {
  auto t = scheduler_tree::by_node({0, 1, 2, 3}, rank_t{0});  // one rank per node: nothing to gain
  EXPECT_EQ(t.levels, 1);
  EXPECT_EQ(t.boss, (std::vector<int>{0, 0, 0, 0}));
  t = scheduler_tree::by_node({0, 0, 0}, rank_t{1});  // everyone on the root's node
  EXPECT_EQ(t.levels, 1);
  EXPECT_EQ(t.node_scheduler_count(), 0);
  const auto f = scheduler_tree::flat(3, rank_t{2});
  EXPECT_EQ(f.root_view({1, 2, 3}), (std::vector<int>{1, 2, 3}));
}

TEST(Scheduler_TwoLevel, PoolHandsOutWholeChunksInOrder) {
  node_pool p({1, 2});
  p.add({{{0, 4}}, {{4, 8}}, {{8, 9}, {12, 14}}});
  EXPECT_EQ(p.queued(), 3u);
  EXPECT_EQ(ids_of(p.take(1, 2)), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(p.outstanding(1), 8u);
  EXPECT_EQ(ids_of(p.take(2, 5)), (std::vector<std::uint64_t>{8, 12, 13}));
  EXPECT_TRUE(p.take(2, 1).empty());
  EXPECT_EQ(p.tally(1).chunks, 2u);
  EXPECT_EQ(p.tally(1).messages, 1u);
  EXPECT_THROW(p.take(3, 1), error);  // not one of its ranks
}

TEST(Scheduler_TwoLevel, LostRankRequeuesExactlyItsUnfinishedIds) {
  node_pool p({1, 2});
  p.add({{{0, 10}}, {{10, 20}}});
  p.take(1, 1);
  for (std::uint64_t id : {0, 3, 4, 9}) p.complete(1, id);
  EXPECT_EQ(p.outstanding(1), 6u);
  EXPECT_EQ(p.tally(1).partitions, 4u);
  EXPECT_EQ(p.lose(1), 6u);
  EXPECT_EQ(p.lose(1), 0u);  // once
  EXPECT_TRUE(p.take(1, 1).empty());  // a lost rank gets nothing
  // Its ids come back first, in order, then the rest of the pool.
  EXPECT_EQ(ids_of(p.take(2, 10)), (std::vector<std::uint64_t>{1, 2, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(p.tally(1).lost, 1u);
}

TEST(Scheduler_TwoLevel, DispatcherAdoptsARankOfALostNode) {
  // Root 0 (1 thread), node scheduler 1 serving rank 2: the root sees workers {1, 2 + 1, 0}.
  const auto t = scheduler_tree::by_node({0, 1, 1}, rank_t{0});
  dispatcher d(100, t.root_view({1, 1, 1}), make_policy("dynamic", 10));
  EXPECT_TRUE(d.assign(rank_t{2}, 1).empty());  // a member is not the root's worker
  auto held = ids_of(d.assign(rank_t{1}, 4));
  ASSERT_EQ(held.size(), 40u);
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_TRUE(d.complete(rank_t{1}, partition_id{held[i]}, 1e-3));
  EXPECT_EQ(d.lose(rank_t{1}), 35u);
  EXPECT_FALSE(d.adopt(rank_t{1}, 1));  // a lost worker stays lost
  EXPECT_FALSE(d.adopt(rank_t{0}, 5));  // a worker with threads keeps them
  EXPECT_TRUE(d.adopt(rank_t{2}, 1));
  EXPECT_FALSE(d.adopt(rank_t{2}, 1));
  // The adopted rank's results of chunks its node scheduler gave it count once, and nothing is handed twice.
  EXPECT_TRUE(d.complete(rank_t{2}, partition_id{held[5]}, 1e-3));
  std::set<std::uint64_t> done(held.begin(), held.begin() + 6);
  for (int round = 0; round < 100 && !d.finished(); ++round)
    for (int w : {0, 2})
      for (auto id : ids_of(d.assign(rank_t{w}, 2))) {
        EXPECT_TRUE(done.insert(id).second) << id;
        EXPECT_TRUE(d.complete(rank_t{w}, partition_id{id}, 1e-3));
      }
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.unassigned(), 0u);
  EXPECT_EQ(done.size(), 100u);
}

TEST(Scheduler_TwoLevel, RelayedStatsRoundTrip) {
  detail::worker_stats s{2.5, 7, 3, {{1, 0, 10, 20}}, 5, 1, {7, 3, 2, 1}};
  auto t = detail::decode_stats(detail::encode_stats(s));
  EXPECT_EQ(t.origin, 5);
  EXPECT_EQ(t.has_tally, 1);
  EXPECT_EQ(t.tally.chunks, 3u);
  EXPECT_EQ(t.tally.lost, 1u);
  auto bytes = detail::encode_stats(s);
  bytes.back() = std::byte{7};  // lost flag out of range
  EXPECT_THROW(detail::decode_stats(bytes), error);
  bytes.pop_back();
  EXPECT_THROW(detail::decode_stats(bytes), error);
}

}  // namespace
