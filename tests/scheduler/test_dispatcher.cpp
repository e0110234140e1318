// Scheduler_Dispatcher: the queue, exactly-once commits, requeue on loss, measured chunk floor.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>

#include "chunk_ids.hpp"

namespace {

using partita::dispatcher;
using partita::id_range;
using partita::make_policy;
using partita::partition_id;
using partita::rank_t;

using partita::testing::ids_of;

// Drives a dispatcher like a set of workers would: random worker asks, completes everything it got.
std::vector<std::uint64_t> drain(dispatcher& d, int workers, std::mt19937& rng) {
  std::vector<std::uint64_t> handed;
  std::uniform_int_distribution<int> pick(0, workers - 1);
  int idle_rounds = 0;
  while (!d.finished() && idle_rounds < 1000) {
    const int w = pick(rng);
    auto got = ids_of(d.assign(rank_t{w}, 3));
    idle_rounds = got.empty() ? idle_rounds + 1 : 0;
    for (auto id : got) {
      handed.push_back(id);
      EXPECT_TRUE(d.complete(rank_t{w}, partition_id{id}, 1e-3));
    }
  }
  return handed;
}

class Scheduler_DispatcherPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(Scheduler_DispatcherPolicy, HandsOutEveryPartitionExactlyOnce) {
  for (std::uint64_t n : {0ull, 1ull, 7ull, 1000ull}) {
    dispatcher d(n, {1, 2, 3}, make_policy(GetParam()));
    std::mt19937 rng(42);
    auto handed = drain(d, 3, rng);
    std::sort(handed.begin(), handed.end());
    std::vector<std::uint64_t> expect(n);
    std::iota(expect.begin(), expect.end(), 0);
    EXPECT_EQ(handed, expect) << GetParam() << " with " << n << " partitions";
    EXPECT_TRUE(d.finished());
    EXPECT_EQ(d.done_count(), n);
  }
}

TEST_P(Scheduler_DispatcherPolicy, RequeuesALostWorkersPartitions) {
  dispatcher d(200, {2, 2, 2}, make_policy(GetParam()));
  auto lost = ids_of(d.assign(rank_t{1}, 4));
  ASSERT_FALSE(lost.empty());
  // Worker 1 finishes one partition, then dies.
  EXPECT_TRUE(d.complete(rank_t{1}, partition_id{lost.front()}, 1e-3));
  const auto requeued = d.lose(rank_t{1});
  EXPECT_EQ(requeued, lost.size() - 1);
  EXPECT_TRUE(d.assign(rank_t{1}, 4).empty()) << "a lost worker gets nothing";
  std::mt19937 rng(7);
  std::vector<std::uint64_t> handed;
  int idle = 0;
  while (!d.finished() && idle < 1000) {
    const int w = (rng() % 2) ? 2 : 0;
    auto got = ids_of(d.assign(rank_t{w}, 2));
    idle = got.empty() ? idle + 1 : 0;
    for (auto id : got) {
      handed.push_back(id);
      d.complete(rank_t{w}, partition_id{id}, 1e-3);
    }
  }
  EXPECT_TRUE(d.finished()) << GetParam();
  for (std::size_t i = 1; i < lost.size(); ++i)
    EXPECT_NE(std::find(handed.begin(), handed.end(), lost[i]), handed.end()) << "partition " << lost[i] << " re-run";
}

INSTANTIATE_TEST_SUITE_P(All, Scheduler_DispatcherPolicy,
                         ::testing::Values("static", "dynamic", "guided", "factoring", "adaptive", "cost"));

TEST(Scheduler_Dispatcher, CommitsEachResultExactlyOnce) {
  dispatcher d(10, {1, 1}, make_policy("dynamic"));
  auto got = ids_of(d.assign(rank_t{0}, 1));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(d.complete(rank_t{0}, partition_id{got[0]}, 0.1));
  EXPECT_FALSE(d.complete(rank_t{1}, partition_id{got[0]}, 0.1))
      << "a duplicate (e.g. speculative copy) must be dropped";
  EXPECT_EQ(d.done_count(), 1u);
  EXPECT_THROW(d.complete(rank_t{0}, partition_id{10}, 0.1), partita::error);
}

TEST(Scheduler_Dispatcher, StaticGivesContiguousBlocksByThreadsAndNeverSteals) {
  dispatcher d(100, {1, 3}, make_policy("static"));
  auto a = ids_of(d.assign(rank_t{0}, 10));
  auto b = ids_of(d.assign(rank_t{1}, 10));
  EXPECT_EQ(a.size(), 25u);
  EXPECT_EQ(b.size(), 75u);
  EXPECT_EQ(a.front(), 0u);
  EXPECT_EQ(b.front(), 25u);
  EXPECT_TRUE(d.assign(rank_t{0}, 1).empty()) << "static does not steal";
}

TEST(Scheduler_Dispatcher, CostPolicyRunsLongestFirst) {
  partita::dispatcher_options o;
  o.costs = {1, 5, 3, 9, 2};
  dispatcher d(5, {1}, make_policy("cost"), o);
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 5)), (std::vector<std::uint64_t>{3, 1, 2, 4, 0}));
}

TEST(Scheduler_Dispatcher, RestartSkipsCommittedPartitions) {
  partita::dispatcher_options o;
  for (std::uint64_t i : {0, 1, 2, 5}) o.done.insert(i);
  dispatcher d(10, {1}, make_policy("dynamic", 100), o);
  EXPECT_EQ(d.done_count(), 4u);
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1)), (std::vector<std::uint64_t>{3, 4, 6, 7, 8, 9}));
}

TEST(Scheduler_Dispatcher, AdoptedPartitionsStayWithTheirWorkerUnlessItIsLost) {
  // A failover adopts what the survivors run: those ids are never handed to anyone else while their holder lives,
  // every other one is handed out once, and a lost holder's adopted ids go back to the queue. (Not static: there a
  // worker only gets its own block.)
  for (const char* policy : {"dynamic", "guided", "factoring", "adaptive", "cost"}) {
    partita::dispatcher_options o;
    o.done.insert(partita::id_range{0, 3});
    o.held = {{1, {{2, 6}, {40, 45}}}, {2, {{60, 61}, {41, 42}}}};  // 2 is done; 41 is rank 1's already
    dispatcher d(100, {1, 1, 1}, make_policy(policy), o);
    EXPECT_EQ(d.unassigned(), 100u - 3u - 8u - 1u) << policy;
    EXPECT_EQ(d.unfinished(rank_t{1}), 8u) << policy;
    EXPECT_EQ(d.unfinished(rank_t{2}), 1u) << policy;
    std::vector<std::uint64_t> handed;
    for (int round = 0; round < 1000 && d.unassigned() > 0; ++round)
      for (auto id : ids_of(d.assign(rank_t{0}, 2))) handed.push_back(id);
    std::sort(handed.begin(), handed.end());
    for (std::uint64_t id : {3, 4, 5, 40, 41, 44, 60})
      EXPECT_FALSE(std::binary_search(handed.begin(), handed.end(), id)) << policy << " handed out " << id;
    EXPECT_EQ(handed.size(), 88u) << policy;
    EXPECT_EQ(std::adjacent_find(handed.begin(), handed.end()), handed.end()) << policy << ": an id twice";
    EXPECT_EQ(d.lose(rank_t{1}), 8u) << policy;
    auto again = ids_of(d.assign(rank_t{0}, 20));
    std::sort(again.begin(), again.end());
    EXPECT_EQ(again, (std::vector<std::uint64_t>{3, 4, 5, 40, 41, 42, 43, 44})) << policy;
  }
}

TEST(Scheduler_Dispatcher, ChunksGrowWhenPartitionsAreTinyNextToDispatchCost) {
  dispatcher d(1'000'000, {2, 2}, make_policy("dynamic"));
  EXPECT_EQ(d.min_chunk(), 1u) << "nothing measured yet";
  auto first = ids_of(d.assign(rank_t{0}, 1));
  for (auto id : first) d.complete(rank_t{0}, partition_id{id}, 1e-7);  // 0.1 us partitions
  for (int i = 0; i < 50; ++i) d.note_message_cost(5e-6);               // 5 us per message
  // 2 * P * m / t = 2 * 4 * 5e-6 / 1e-7 = 400
  EXPECT_GE(d.min_chunk(), 300u);
  EXPECT_LE(d.min_chunk(), 500u);
  EXPECT_GE(ids_of(d.assign(rank_t{1}, 1)).size(), 300u);
}

TEST(Scheduler_Dispatcher, ChunksStaySmallWhenOneMessageTakesManyChunks) {
  // Two levels: a node scheduler of 64 threads asks for 64 chunks at a time, so the root's cost per chunk is its
  // cost per message / 64, and the floor it needs shrinks by as much.
  auto floor_with = [](int chunks_per_message) {
    dispatcher d(10'000'000, {64, 64}, make_policy("dynamic"));
    auto first = ids_of(d.assign(rank_t{0}, 1));
    for (auto id : first) d.complete(rank_t{0}, partition_id{id}, 1e-6);  // 1 us partitions
    for (int i = 0; i < 50; ++i) {
      d.assign(rank_t{1}, chunks_per_message);
      d.note_message_cost(20e-6);  // 20 us per message
    }
    return d.min_chunk();
  };
  // 2 * P * m / t = 2 * 128 * 20e-6 / 1e-6 = 5120 with one chunk a message; / 64 = 80 with 64.
  EXPECT_GE(floor_with(1), 4000u);
  EXPECT_LE(floor_with(64), 120u);
  EXPECT_GE(floor_with(64), 60u);
}

TEST(Scheduler_Dispatcher, ChunkFloorIsAtMostHalfAThreadsPartOfWhatIsLeft) {
  // Measured, the floor would be 400 here (as in ChunksGrowWhenPartitionsAreTinyNextToDispatchCost), but the end of
  // the job must stay fine-grained: the floor is at most half of one thread's part of what is left (P = 4: an eighth
  // of it), down to one partition.
  dispatcher d(2'000, {2, 2}, make_policy("dynamic"));
  for (auto id : ids_of(d.assign(rank_t{0}, 1))) d.complete(rank_t{0}, partition_id{id}, 1e-7);
  for (int i = 0; i < 50; ++i) d.note_message_cost(5e-6);
  int chunks = 0;
  while (d.unassigned() > 0) {
    const auto floor = d.min_chunk();
    ASSERT_EQ(floor, std::max<std::uint64_t>(1, d.unassigned() / 8)) << "chunk " << chunks;
    ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1)).size(), floor) << "chunk " << chunks;  // dynamic: the floor
    ++chunks;
  }
  EXPECT_GT(chunks, 40);  // an eighth of what is left each time, then single partitions
}

TEST(Scheduler_Dispatcher, FixedChunkWins) {
  partita::dispatcher_options o;
  o.fixed_chunk = 7;
  dispatcher d(100, {1, 1}, make_policy("dynamic", 7), o);
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1)).size(), 7u);
}

TEST(Scheduler_Dispatcher, DedicatedSchedulerGetsNoWork) {
  dispatcher d(10, {0, 1}, make_policy("adaptive"));
  EXPECT_TRUE(d.assign(rank_t{0}, 4).empty());
  EXPECT_FALSE(d.assign(rank_t{1}, 1).empty());
  EXPECT_THROW(dispatcher(10, {0, 0}, make_policy("adaptive")), partita::error);
}

// Memory grows with the work outstanding: a job of 10^12 partitions is scheduled without anything per partition.
TEST(Scheduler_Dispatcher, AHugeJobNeedsNoMemoryPerPartition) {
  const std::uint64_t n = 1'000'000'000'000;
  dispatcher d(n, {2, 2}, make_policy("adaptive"));
  for (int round = 0; round < 100; ++round)
    for (int w = 0; w < 2; ++w)
      for (const auto& chunk : d.assign(rank_t{w}, 2))
        for (const auto& r : chunk)
          for (auto id = r.begin; id < r.end && id < r.begin + 1000; ++id)
            d.complete(rank_t{w}, partition_id{id}, 1e-6);
  EXPECT_GT(d.done_count(), 0u);
  EXPECT_LT(d.done_set().range_count(), 1000u);
}

// Adaptive weighs a worker's speed against the mean over the measured workers that are not lost.
TEST(Scheduler_Dispatcher, AdaptiveWeighsSpeedAgainstTheMeanOfLiveWorkers) {
  dispatcher d(12'000, {1, 1, 1}, make_policy("adaptive"));
  auto run = [&](int w, double seconds) {
    for (auto id : ids_of(d.assign(rank_t{w}, 1))) d.complete(rank_t{w}, partition_id{id}, seconds);
  };
  auto expected = [&](double weight) {
    return static_cast<std::size_t>(std::ceil(static_cast<double>(d.unassigned()) / 6.0 * weight));
  };
  run(0, 1.0);   // speed 1
  run(1, 0.25);  // speed 4; worker 2 is never measured
  auto size = expected(4.0 / 2.5);
  auto chunk = ids_of(d.assign(rank_t{1}, 1));
  EXPECT_EQ(chunk.size(), size) << "worker 1 against the mean of 1 and 4";
  d.lose(rank_t{1});
  size = expected(1.0);
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1)).size(), size) << "the lost worker's speed no longer counts";
  size = expected(1.0);
  EXPECT_EQ(ids_of(d.assign(rank_t{2}, 1)).size(), size) << "an unmeasured worker gets the plain chunk";
}

// assign() and complete() cost O(1) in the worker count (the simulator drives 10^4-10^5 workers): 10^6 of each
// over 100,000 workers take well under a second here; a sum over the workers per assign would take minutes.
TEST(Scheduler_Dispatcher, AssignCostDoesNotGrowWithTheWorkerCount) {
  // The same 10^5 one-partition assigns over 10^3 and over 10^5 workers. A ratio, not a time: the test also runs in
  // a Debug build under ASan on a loaded machine. An assign that looks at every worker (the mean speed, as before)
  // takes about 100 times longer with 100 times the workers; one that does not, about as long.
  auto seconds_for = [](int workers) {
    constexpr std::uint64_t n = 100'000;
    partita::dispatcher_options o;
    o.max_chunk = 1;  // one partition per assign
    dispatcher d(n, std::vector<int>(static_cast<std::size_t>(workers), 1), make_policy("adaptive"), o);
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t assigns = 0;
    for (std::uint64_t i = 0; !d.finished(); ++i) {
      const int w = static_cast<int>(i % static_cast<std::uint64_t>(workers));
      for (const auto& chunk : d.assign(rank_t{w}, 1)) {
        ++assigns;
        for (const auto& r : chunk)
          for (auto id = r.begin; id < r.end; ++id) d.complete(rank_t{w}, partition_id{id}, 1e-3 * (1 + w % 7));
      }
    }
    EXPECT_EQ(assigns, n);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double few = std::min(seconds_for(1'000), seconds_for(1'000));
  const double many = std::min(seconds_for(100'000), seconds_for(100'000));
  EXPECT_LT(many, 10 * few) << "10^5 assigns: " << few << " s over 10^3 workers, " << many << " s over 10^5";
}

TEST(Scheduler_Dispatcher, TheCostPolicyRefusesJobsPastItsBound) {
  try {
    dispatcher::check_fits(dispatcher::cost_policy_limit + 1, "cost");
    ADD_FAILURE() << "accepted";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("--policy adaptive"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(dispatcher::check_fits(std::uint64_t{1} << 40, "adaptive"));
}

}  // namespace
