// Scheduler_TwoLevel: the topology of two-level scheduling, a node scheduler's pool, and the dispatcher taking a
// rank whose node scheduler was lost as a direct worker (all MPI-free).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/scheduler_tree.hpp>
#include <partita/scheduler/map_reduce/detail/node_pool.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>

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

TEST(Scheduler_TwoLevel, SplitChunkMakesEvenPiecesInIdOrder) {
  using detail::split_chunk;
  using chunks = std::vector<std::vector<id_range>>;
  EXPECT_EQ(split_chunk({{0, 8}}, 4), (chunks{{{0, 2}}, {{2, 4}}, {{4, 6}}, {{6, 8}}}));
  // Sizes differ by at most one, the larger first; a piece may span a hole.
  EXPECT_EQ(split_chunk({{0, 2}, {10, 13}, {20, 22}}, 3), (chunks{{{0, 2}, {10, 11}}, {{11, 13}}, {{20, 22}}}));
  // Fewer ids than pieces: one id each; an empty chunk (or empty ranges) gives none; 0 pieces is one.
  EXPECT_EQ(split_chunk({{5, 6}, {9, 9}, {7, 8}}, 32), (chunks{{{5, 6}}, {{7, 8}}}));
  EXPECT_TRUE(split_chunk({}, 4).empty());
  EXPECT_TRUE(split_chunk({{3, 3}}, 4).empty());
  EXPECT_EQ(split_chunk({{0, 5}}, 0), (chunks{{{0, 5}}}));
}

TEST(Scheduler_TwoLevel, PoolSplitsChunksAndHandsOutPiecesInOrder) {
  node_pool p(0, 0, {{1, 1}, {2, 1}});  // two threads: a chunk from the root is two pieces
  EXPECT_EQ(p.pieces(), 2u);
  p.add({{{0, 4}}, {{4, 8}}, {{8, 9}, {12, 14}}}, 0);
  EXPECT_EQ(p.queued(), 6u);
  EXPECT_EQ(p.take(1, 2), (std::vector<node_pool::chunk>{{{0, 2}}, {{2, 4}}}));
  EXPECT_EQ(p.outstanding(1), 4u);
  EXPECT_EQ(ids_of(p.take(2, 5)), (std::vector<std::uint64_t>{4, 5, 6, 7, 8, 12, 13}));
  EXPECT_TRUE(p.take(2, 1).empty());
  EXPECT_EQ(p.tally(1).chunks, 2u);
  EXPECT_EQ(p.tally(1).messages, 1u);
  EXPECT_EQ(p.tally(2).chunks, 4u);
  EXPECT_THROW(p.take(3, 1), error);  // not one of its ranks
}

TEST(Scheduler_TwoLevel, LostRankRequeuesExactlyItsUnfinishedIds) {
  node_pool p(0, 0, {{1, 1}, {2, 1}});
  p.add({{{0, 10}}, {{10, 20}}}, 0);  // pieces [0,5) [5,10) [10,15) [15,20)
  p.take(1, 2);
  for (std::uint64_t id : {0, 3, 4, 9}) p.complete(1, id);
  EXPECT_EQ(p.outstanding(1), 6u);
  EXPECT_EQ(p.tally(1).partitions, 4u);
  EXPECT_EQ(p.lose(1), 6u);
  EXPECT_EQ(p.lose(1), 0u);           // once
  EXPECT_TRUE(p.take(1, 1).empty());  // a lost rank gets nothing
  // Its ids come back first, in order, then the rest of the pool.
  EXPECT_EQ(ids_of(p.take(2, 10)),
            (std::vector<std::uint64_t>{1, 2, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(p.tally(1).lost, 1u);
}

TEST(Scheduler_TwoLevel, PoolServesFirstSharesBeforePrefetch) {
  // Node scheduler 0 with 1 thread; members 1 (2 threads) and 2 (1 thread): 4 threads, 3 ranks served.
  node_pool p(0, 1, {{1, 2}, {2, 1}});
  // Empty pool: it asks the root for what its ranks wait for plus two pieces per thread of the node (14), in
  // chunks of one piece per thread (4).
  p.ask(1, 5);
  EXPECT_EQ(p.pieces(), 4u);
  EXPECT_EQ(p.to_ask(1), 4u);
  EXPECT_EQ(p.asked_of_root(), 16u);
  EXPECT_EQ(p.to_ask(1), 0u);  // asked already: covered
  EXPECT_TRUE(p.serve_waiting().empty());
  std::vector<node_pool::chunk> chunks;
  for (std::uint64_t i = 0; i < 6; ++i) chunks.push_back({{i, i + 1}});
  p.add(chunks, 4);  // single ids stay whole
  EXPECT_EQ(p.asked_of_root(), 0u);
  // Rank 1 asked for 5 but gets its first share (2) only: what is left (4) is the reserve (one chunk per rank
  // served) and rank 2's first share.
  auto g = p.serve_waiting();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].rank, 1);
  EXPECT_EQ(g[0].chunks.size(), 2u);
  EXPECT_EQ(p.waiting(1), 3u);
  EXPECT_EQ(p.queued(), 4u);
  // Its own thread may take what is beyond rank 2's first share, not that share.
  EXPECT_EQ(p.take_own(5).size(), 3u);
  EXPECT_TRUE(p.take_own(1).empty());
  p.ask(2, 3);
  g = p.serve_waiting();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].rank, 2);
  EXPECT_EQ(ids_of(g[0].chunks), (std::vector<std::uint64_t>{5}));
  // A lost member waits for nothing and its ids come back first (one chunk per range it held).
  EXPECT_EQ(p.lose(1), 2u);
  EXPECT_EQ(p.waiting(1), 0u);
  EXPECT_EQ(p.queued(), 2u);
  EXPECT_EQ(ids_of(p.serve_waiting()[0].chunks), (std::vector<std::uint64_t>{0}));
}

TEST(Scheduler_TwoLevel, PrefetchComesFromTheBackOfThePool) {
  // The root's first chunk for a node is large (one thread's share per piece), later ones small: a member's first
  // piece is the oldest, what it queues behind it the newest.
  node_pool p(0, 0, {{1, 1}, {2, 1}});
  p.add({{{0, 200}}, {{200, 204}}, {{204, 208}}}, 0);
  p.ask(1, 3);
  auto g = p.serve_waiting();
  ASSERT_EQ(g.size(), 1u);
  ASSERT_EQ(g[0].chunks.size(), 3u);  // its share, then 2 beyond the reserve (2) and rank 2's first share (1)
  EXPECT_EQ(g[0].chunks[0], (std::vector<id_range>{{0, 100}}));
  EXPECT_EQ(g[0].chunks[1], (std::vector<id_range>{{206, 208}}));
  EXPECT_EQ(g[0].chunks[2], (std::vector<id_range>{{204, 206}}));
  EXPECT_EQ(p.tally(1).messages, 1u);
  p.ask(2, 1);
  EXPECT_EQ(ids_of(p.serve_waiting()[0].chunks).front(), 100u);  // the other large piece was kept for it
}

TEST(Scheduler_TwoLevel, ResultsWaitLessOnlyOnceTheRootIsDry) {
  node_pool p(0, 1, {{1, 1}});
  const double age = 0.5, worker_age = detail::result_batch_age_seconds;
  p.ask(1, 1);
  EXPECT_EQ(p.to_ask(0), 3u);  // what rank 1 waits for and two pieces per thread of the node: 5 pieces, 2 a chunk
  EXPECT_EQ(p.result_wait(age), age);  // the pool is empty, but the root may just be slow: results keep their age
  p.add({{{0, 1}}, {{1, 2}}}, 3);
  EXPECT_EQ(p.serve_waiting().size(), 1u);
  EXPECT_EQ(p.take_own(1).size(), 1u);
  p.add({}, 0);                               // the root's queue is empty
  EXPECT_EQ(p.result_wait(age), worker_age);  // rank 1 and its own thread still run a partition each
  p.complete(1, 0);
  EXPECT_EQ(p.result_wait(age), worker_age);
  p.complete(0, 1);
  EXPECT_EQ(p.result_wait(age), 0.0);  // nothing of the node's is unfinished: the root may wait for these
  p.add({{{7, 8}}}, 0);                // a speculative copy: the end of the job waits for its result
  EXPECT_EQ(p.take_own(1).size(), 1u);
  EXPECT_EQ(p.result_wait(age), worker_age);
  // The age results may wait grows with the node count, from a worker's to at most a second.
  EXPECT_EQ(detail::node_result_age_seconds(2), detail::result_batch_age_seconds);
  EXPECT_GT(detail::node_result_age_seconds(313), 0.3);
  EXPECT_EQ(detail::node_result_age_seconds(100000), 1.0);
}

TEST(Scheduler_TwoLevel, NodesAskForMoreAtOnceWhenThereAreThousands) {
  // Two pieces per thread of the node beyond what its ranks wait for, four from 512 node schedulers on (the root's
  // messages are its load there).
  EXPECT_EQ(detail::node_batch_pieces_per_thread(1), 2u);
  EXPECT_EQ(detail::node_batch_pieces_per_thread(511), 2u);
  EXPECT_EQ(detail::node_batch_pieces_per_thread(512), 4u);
  EXPECT_EQ(detail::node_batch_pieces_per_thread(3125), 4u);
  for (const int nodes : {313, 3125}) {
    SCOPED_TRACE(nodes);
    node_pool p(0, 1, {{1, 1}, {2, 1}}, nodes);  // 3 threads, 3 ranks served
    p.ask(1, 3);
    // What rank 1 waits for and two (four) pieces per thread: 3 + 2 x 3 = 9 pieces, or 3 + 4 x 3 = 15, 3 a chunk.
    EXPECT_EQ(p.to_ask(0), nodes < 512 ? 3u : 5u);
  }
}

TEST(Scheduler_TwoLevel, NodeChunksAreTheOneThreadChunksInARow) {
  // Node scheduler 1 (4 threads) splits its chunks; rank 2 (2 threads) and the root (1) do not. A chunk for the node
  // holds exactly what four one-thread chunks asked for one after another would: the same sizes (guided ones shrink
  // with what remains), the same ids, the same chunk floor, and so the same tail.
  for (const char* name : {"static", "dynamic", "guided", "factoring", "adaptive", "cost"}) {
    SCOPED_TRACE(name);
    dispatcher_options split, flat;
    split.splitting = {1};
    split.take_back = flat.take_back = false;  // a node's backlog is never taken back (it splits): sizes only here
    dispatcher a(1000, {1, 4, 2}, make_policy(name, 3), split);
    dispatcher b(1000, {1, 4, 2}, make_policy(name, 3), flat);
    for (int round = 0; round < 1000 && !(a.finished() && b.finished()); ++round) {
      const auto node_a = a.assign(rank_t{1}, 2), node_b = b.assign(rank_t{1}, 8);
      EXPECT_LE(node_a.size(), 2u);
      ASSERT_EQ(ids_of(node_a), ids_of(node_b));
      for (int w : {0, 2}) {
        const auto got_a = a.assign(rank_t{w}, 1 + round % 3), got_b = b.assign(rank_t{w}, 1 + round % 3);
        ASSERT_EQ(got_a, got_b);
        for (auto id : ids_of(got_a)) {
          EXPECT_TRUE(a.complete(rank_t{w}, partition_id{id}, 2e-3));
          EXPECT_TRUE(b.complete(rank_t{w}, partition_id{id}, 2e-3));
        }
      }
      for (auto id : ids_of(node_a)) {
        const double seconds = 1e-3 * (1 + static_cast<double>(id % 7));
        EXPECT_TRUE(a.complete(rank_t{1}, partition_id{id}, seconds));
        EXPECT_TRUE(b.complete(rank_t{1}, partition_id{id}, seconds));
      }
      a.note_message_cost(2e-5);
      b.note_message_cost(2e-5);
      ASSERT_EQ(a.min_chunk(), b.min_chunk());
    }
    EXPECT_TRUE(a.finished());
    EXPECT_LT(a.tally(rank_t{1}).chunks, b.tally(rank_t{1}).chunks);
  }
}

TEST(Scheduler_TwoLevel, SplittingWorkerGetsSpeculativeCopiesPerPiece) {
  // Rank 2 (one thread) holds everything and is slow; node scheduler 1 (4 idle threads) asks for one chunk: it may
  // take a copy for each of its threads, not one copy for the chunk.
  dispatcher_options o;
  o.splitting = {1};
  o.speculation.enabled = true;
  o.speculation.min_samples = 5;
  dispatcher d(20, {0, 4, 1}, make_policy("dynamic", 1), o);
  const auto t0 = dispatcher::clock::time_point{} + std::chrono::seconds(1);
  ASSERT_EQ(ids_of(d.assign(rank_t{2}, 20, t0)).size(), 20u);
  for (std::uint64_t id = 0; id < 5; ++id) ASSERT_TRUE(d.complete(rank_t{2}, partition_id{id}, 0.01));
  const auto copies = d.assign(rank_t{1}, 1, t0 + std::chrono::seconds(10));
  ASSERT_EQ(copies.size(), 4u);
  for (const auto& c : copies) EXPECT_EQ(ids_of({c}).size(), 1u);
  EXPECT_EQ(d.copies_made().size(), 4u);
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

// A node with two one-thread members; member 1 holds the whole pool (ids 0..19), member 2 asks and finds it empty.
node_pool pool_held_by_one(std::uint64_t nanos_per_partition) {
  node_pool p(0, 0, {{1, 1}, {2, 1}});
  p.enable_take_back(0.05);
  p.add({{{0, 20}}}, 1);
  EXPECT_EQ(p.take(1, 2).size(), 2u);
  p.complete(1, 0, nanos_per_partition);
  p.ask(2, 1);
  EXPECT_TRUE(p.serve_waiting().empty());
  return p;
}

TEST(Scheduler_TwoLevel, IdleMemberTakesBackTheBackOfAnothersQueue) {
  auto p = pool_held_by_one(20'000'000);  // 20 ms a partition
  EXPECT_TRUE(p.take_backs(0).empty());   // the root still has work: it asks the root instead
  p.add({}, 0);                           // the root's queue ran dry
  auto g = p.take_backs(0);
  ASSERT_EQ(g.size(), 1u);
  // 19 unfinished, 18 queued beyond its one thread: the taker's share is half, rounded up, from the back.
  EXPECT_EQ(g[0].holder, 1);
  EXPECT_EQ(g[0].taker, 2);
  EXPECT_EQ(g[0].ids, (std::vector<id_range>{{11, 20}}));
  EXPECT_EQ(p.outstanding(1), 10u);
  EXPECT_EQ(p.outstanding(2), 9u);
  EXPECT_EQ(p.waiting(2), 0u);  // answered
  EXPECT_EQ(p.tally(2).taken, 9u);
  EXPECT_EQ(p.tally(2).chunks, 1u);
  EXPECT_TRUE(p.take_backs(0).empty());  // nobody waits now
  // The holder had started 19 already: its result counts for it, the taker still holds 19 until it reports.
  p.complete(1, 19, 20'000'000);
  EXPECT_EQ(p.outstanding(1), 10u);
  p.complete(2, 19, 20'000'000);
  EXPECT_EQ(p.outstanding(2), 8u);
  // A lost taker's ids go back to the pool; the holder skipped them.
  EXPECT_EQ(p.lose(2), 8u);
  EXPECT_EQ(p.queued(), 1u);
  EXPECT_EQ(ids_of(p.take(1, 1)), (std::vector<std::uint64_t>{11, 12, 13, 14, 15, 16, 17, 18}));
}

TEST(Scheduler_TwoLevel, NodeTakeBackNeedsAMeasuredBacklogWorthIt) {
  auto quick = pool_held_by_one(1'000'000);  // 9 partitions of 1 ms: below the 50 ms floor
  quick.add({}, 0);
  EXPECT_TRUE(quick.take_backs(0).empty());
  auto unmeasured = pool_held_by_one(0);  // no time reported yet
  unmeasured.add({}, 0);
  EXPECT_TRUE(unmeasured.take_backs(0).empty());
  node_pool off(0, 0, {{1, 1}, {2, 1}});  // enable_take_back() not called (--no-take-back, static)
  off.add({{{0, 20}}}, 1);
  off.take(1, 2);
  off.complete(1, 0, 20'000'000);
  off.ask(2, 1);
  off.add({}, 0);
  EXPECT_TRUE(off.take_backs(0).empty());
}

TEST(Scheduler_TwoLevel, NodeSchedulersOwnThreadsTakeBackInProportion) {
  node_pool p(0, 2, {{1, 1}});  // its own two threads, one member of one thread
  p.enable_take_back(0.05);
  p.add({{{0, 30}}}, 1);  // three pieces of 10
  EXPECT_EQ(p.take(1, 3).size(), 3u);
  p.complete(1, 0, 20'000'000);
  p.add({}, 0);
  EXPECT_TRUE(p.take_backs(0).empty());  // no idle thread of its own
  auto g = p.take_backs(2);
  ASSERT_EQ(g.size(), 1u);
  // 29 unfinished, 28 queued: two threads take 2/3 of them, rounded up (19), from the back.
  EXPECT_EQ(g[0].taker, 0);
  EXPECT_EQ(g[0].ids, (std::vector<id_range>{{11, 30}}));
  EXPECT_EQ(p.outstanding(0), 19u);
  EXPECT_EQ(p.outstanding(1), 10u);
}

// Random nodes: members and own threads of random counts and speeds run what they are given (skipping what was
// taken back before they started it, as the executor does); every id is reported, and every count settles.
TEST(Scheduler_TwoLevel, NodeTakeBackRandomRunsReportEveryIdAndSettle) {
  std::mt19937_64 rng(7);
  std::uint64_t take_backs = 0, twins = 0;
  for (int run = 0; run < 60; ++run) {
    const int members = 1 + static_cast<int>(rng() % 4), own = static_cast<int>(rng() % 3);
    std::vector<detail::node_member> ms;
    for (int m = 1; m <= members; ++m) ms.push_back({m, 1 + static_cast<int>(rng() % 3)});
    node_pool p(0, own, ms, 1);
    p.enable_take_back(0.05);
    const std::uint64_t n = 40 + rng() % 200;
    p.add({{{0, n / 2}}, {{n / 2, n}}}, 2);
    p.add({}, 0);  // the root is dry from the start: everything is in the pool
    struct rank_run {
      int threads;
      std::uint64_t nanos;              // its time per partition
      std::deque<std::uint64_t> queue;  // ids given, in order
      std::set<std::uint64_t> skipped;  // taken back before it started them
    };
    std::map<int, rank_run> ranks;
    for (const auto& m : ms) ranks[m.rank] = {m.threads, (1 + rng() % 8) * 10'000'000, {}, {}};
    if (own > 0) ranks[0] = {own, (1 + rng() % 8) * 10'000'000, {}, {}};
    std::map<std::uint64_t, int> reported;
    auto give = [&](int r, const std::vector<node_pool::chunk>& chunks) {
      for (const auto& c : chunks)
        for (const auto& range : c)
          for (auto id = range.begin; id < range.end; ++id) ranks[r].queue.push_back(id);
    };
    for (int round = 0; round < 100000 && reported.size() < n; ++round) {
      // A member asks for what its threads lack and does not ask again until answered (as a worker does).
      for (const auto& m : ms)
        if (const auto have = ranks[m.rank].queue.size() + p.waiting(m.rank); have < std::size_t(m.threads))
          p.ask(m.rank, static_cast<std::uint32_t>(std::size_t(m.threads) - have));
      for (auto& g : p.serve_waiting()) give(g.rank, g.chunks);
      auto own_free = [&] {
        return own > 0 ? static_cast<std::uint32_t>(own - std::min<std::size_t>(own, ranks[0].queue.size())) : 0u;
      };
      if (own > 0) give(0, p.take_own(own_free()));
      for (auto& g : p.take_backs(own_free())) {
        ++take_backs;
        // The holder skips those it has not started (those beyond its running threads).
        auto& h = ranks[g.holder];
        for (const auto& range : g.ids)
          for (auto id = range.begin; id < range.end; ++id) {
            const auto it = std::find(h.queue.begin(), h.queue.end(), id);
            if (it != h.queue.end() && it - h.queue.begin() >= h.threads) h.skipped.insert(id);
          }
        give(g.taker, {g.ids});
      }
      // One rank, drawn by speed, finishes its oldest partition.
      std::vector<int> busy;
      for (auto& [r, rr] : ranks) {
        while (!rr.queue.empty() && rr.skipped.count(rr.queue.front())) {
          rr.skipped.erase(rr.queue.front());
          rr.queue.pop_front();
        }
        if (!rr.queue.empty()) busy.push_back(r);
      }
      if (busy.empty()) continue;
      const int r = busy[rng() % busy.size()];
      auto& rr = ranks[r];
      if (rng() % 80 >= 80 / (rr.nanos / 10'000'000)) continue;  // slower ranks finish less often
      const auto id = rr.queue.front();
      rr.queue.pop_front();
      twins += reported[id]++ > 0;
      p.complete(r, id, rr.nanos);
    }
    ASSERT_EQ(reported.size(), n) << "run " << run;
    for (const auto& [r, rr] : ranks) EXPECT_EQ(p.outstanding(r), 0u) << "run " << run << " rank " << r;
  }
  EXPECT_GT(take_backs, 20u);
  RecordProperty("take_backs", static_cast<int>(take_backs));
  RecordProperty("twins", static_cast<int>(twins));
}

TEST(Scheduler_TwoLevel, RelayedStatsRoundTrip) {
  detail::worker_stats s{2.5, 7, 3, {{1, 0, 10, 20}}, 5, 1, {7, 3, 2, 1}, 0, {}, {4096, 2, 0.5}};
  auto t = detail::decode_stats(detail::encode_stats(s));
  EXPECT_EQ(t.output.bytes, 4096u);
  EXPECT_EQ(t.output.partitions, 2u);
  EXPECT_EQ(t.origin, 5);
  EXPECT_EQ(t.has_tally, 1);
  EXPECT_EQ(t.tally.chunks, 3u);
  EXPECT_EQ(t.tally.lost, 1u);
  EXPECT_EQ(t.tally.taken, 0u);
  s.tally.taken = 4;
  EXPECT_EQ(detail::decode_stats(detail::encode_stats(s)).tally.taken, 4u);
  auto bytes = detail::encode_stats(s);
  // The lost flag out of range (the count taken back, the input's reads and the output's writes follow it).
  bytes[bytes.size() - sizeof(input_stats) - sizeof(output_stats) - sizeof(std::uint64_t) - 1] = std::byte{7};
  EXPECT_THROW(detail::decode_stats(bytes), error);
  bytes.pop_back();
  EXPECT_THROW(detail::decode_stats(bytes), error);
}

}  // namespace
