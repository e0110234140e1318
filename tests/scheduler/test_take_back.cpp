// Scheduler_TakeBack: once the queue is empty, an idle worker takes back the unstarted tail of another worker's
// backlog (docs/design.md, "Taking back a backlog"), and every partition is still committed exactly once, whoever
// runs it and whatever races with the word to the holder.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <random>
#include <set>

#include <partita/scheduler/map_reduce/dispatcher.hpp>

#include "chunk_ids.hpp"

namespace {

using namespace partita;
using partita::testing::ids_of;
using clk = dispatcher::clock;

clk::time_point at(double s) {
  return clk::time_point{} + std::chrono::hours(1) +
         std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(s));
}

std::vector<std::uint64_t> ids_of_ranges(const std::vector<id_range>& ranges) {
  return ids_of(std::vector<std::vector<id_range>>{ranges});
}

/// 20 partitions in chunks of 10 on two one-thread workers: worker 1 ran all of its chunk, worker 0 two of its
/// own; 100 ms each.
struct Scheduler_TakeBack : ::testing::Test {
  dispatcher d{20, {1, 1}, make_policy("dynamic", 10)};
  void SetUp() override {
    ASSERT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0))), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0))).front(), 10u);
    for (std::uint64_t id = 10; id < 20; ++id) ASSERT_TRUE(d.complete(rank_t{1}, partition_id{id}, 0.1));
    for (std::uint64_t id = 0; id < 2; ++id) ASSERT_TRUE(d.complete(rank_t{0}, partition_id{id}, 0.1));
  }
};

TEST_F(Scheduler_TakeBack, AnIdleWorkerTakesTheBackHalfOfWhatWaits) {
  // Worker 0 holds 2..9: one runs, seven wait; the idle worker takes the back half of those, rounded up.
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  const auto told = d.take_backs();
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].holder, rank_t{0});
  EXPECT_EQ(ids_of_ranges(told[0].ids), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  EXPECT_TRUE(d.take_backs().empty());  // once
  EXPECT_EQ(d.unfinished(rank_t{0}), 4u);
  EXPECT_EQ(d.unfinished(rank_t{1}), 4u);
  EXPECT_EQ(d.tally(rank_t{1}).taken, 4u);
  EXPECT_EQ(d.take_back_count(), 1u);
  // Worker 1 has its threads busy now: nothing more for it.
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(0.21)).empty());
  for (std::uint64_t id = 6; id < 10; ++id) EXPECT_TRUE(d.complete(rank_t{1}, partition_id{id}, 0.1));
  for (std::uint64_t id = 2; id < 6; ++id) EXPECT_TRUE(d.complete(rank_t{0}, partition_id{id}, 0.1));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.unfinished(rank_t{0}), 0u);
  EXPECT_EQ(d.unfinished(rank_t{1}), 0u);
}

TEST_F(Scheduler_TakeBack, AHolderThatStartedATakenPartitionCommitsItOnce) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  // Worker 0 ran 2..6 before it heard (its result of 6 comes first); worker 1's 6 is then a duplicate.
  for (std::uint64_t id = 2; id < 7; ++id) EXPECT_TRUE(d.complete(rank_t{0}, partition_id{id}, 0.1));
  EXPECT_EQ(d.unfinished(rank_t{0}), 0u);  // its count let go of 6 when 6 was taken
  EXPECT_EQ(d.unfinished(rank_t{1}), 3u);  // its run of 6 is moot
  EXPECT_FALSE(d.complete(rank_t{1}, partition_id{6}, 0.01));
  for (std::uint64_t id = 7; id < 10; ++id) EXPECT_TRUE(d.complete(rank_t{1}, partition_id{id}, 0.1));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.unfinished(rank_t{1}), 0u);
}

TEST_F(Scheduler_TakeBack, ATakersLossPutsWhatItTookBackInTheQueue) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  EXPECT_EQ(d.lose(rank_t{1}), 4u);  // worker 0 skips them: nobody else runs them
  EXPECT_EQ(d.unassigned(), 4u);
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0.3))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  EXPECT_EQ(d.unfinished(rank_t{0}), 8u);
  for (std::uint64_t id = 2; id < 10; ++id) EXPECT_TRUE(d.complete(rank_t{0}, partition_id{id}, 0.1));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.unfinished(rank_t{0}), 0u);  // counted once for the second hand-out, off once
}

TEST_F(Scheduler_TakeBack, AHoldersLossLeavesWhatWasTakenWithTheTaker) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
  EXPECT_EQ(d.lose(rank_t{0}), 4u);  // 2..5 only
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.3))), (std::vector<std::uint64_t>{2, 3, 4, 5}));
  for (std::uint64_t id = 2; id < 10; ++id) EXPECT_TRUE(d.complete(rank_t{1}, partition_id{id}, 0.1));
  EXPECT_TRUE(d.finished());
}

TEST(Scheduler_TakeBackRules, ABacklogShorterThanTheResultBatchingStaysWhereItIs) {
  dispatcher d{20, {1, 1}, make_policy("dynamic", 10)};
  d.assign(rank_t{0}, 1, at(0));
  d.assign(rank_t{1}, 1, at(0));
  for (std::uint64_t id = 10; id < 20; ++id) d.complete(rank_t{1}, partition_id{id}, 0.005);
  d.complete(rank_t{0}, partition_id{0}, 0.005);
  // 8 held of 5 ms: the back half is 20 ms, less than the default 50 ms (results come up to 20 ms late).
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(0.2)).empty());
  EXPECT_TRUE(d.take_backs().empty());
  dispatcher_options o;
  o.take_back_min_seconds = 0.01;
  dispatcher e{20, {1, 1}, make_policy("dynamic", 10), o};
  e.assign(rank_t{0}, 1, at(0));
  e.assign(rank_t{1}, 1, at(0));
  for (std::uint64_t id = 10; id < 20; ++id) e.complete(rank_t{1}, partition_id{id}, 0.005);
  e.complete(rank_t{0}, partition_id{0}, 0.005);
  EXPECT_EQ(ids_of(e.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{6, 7, 8, 9}));
}

TEST(Scheduler_TakeBackRules, OneQueuedLongPartitionGoesToAnIdleThread) {
  dispatcher d{4, {1, 1}, make_policy("dynamic", 2)};
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0))), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0))), (std::vector<std::uint64_t>{2, 3}));
  d.complete(rank_t{1}, partition_id{2}, 1.0);
  d.complete(rank_t{1}, partition_id{3}, 1.0);
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(2))), (std::vector<std::uint64_t>{1}));  // 0 runs on worker 0
  EXPECT_TRUE(d.assign(rank_t{0}, 1, at(2)).empty());  // worker 0 runs 0; worker 1 holds one, on its one thread
}

TEST(Scheduler_TakeBackRules, ManyThreadsTakeTheirShare) {
  // Worker 1 (3 threads) idle, worker 0 (1 thread) holds 1..8: one runs, seven wait; 3 of the 4 threads, so 6 of
  // the 7 (rounded up).
  dispatcher d{12, {1, 3}, make_policy("dynamic", 9)};
  d.assign(rank_t{0}, 1, at(0));
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0))), (std::vector<std::uint64_t>{9, 10, 11}));
  for (std::uint64_t id = 9; id < 12; ++id) d.complete(rank_t{1}, partition_id{id}, 0.1);
  d.complete(rank_t{0}, partition_id{0}, 0.1);
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 3, at(0.1))), (std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8}));
}

TEST(Scheduler_TakeBackRules, NeitherStaticNorNodeSchedulersNorTheOffSwitch) {
  auto one_behind = [](dispatcher& d) {
    d.assign(rank_t{0}, 1, at(0));
    const auto w1 = ids_of(d.assign(rank_t{1}, 1, at(0)));
    for (auto id : w1) d.complete(rank_t{1}, partition_id{id}, 0.1);
    return d.assign(rank_t{1}, 1, at(1)).empty() && d.take_backs().empty();
  };
  {
    dispatcher d{20, {1, 1}, make_policy("static", 1)};  // the baseline: no balancing at all
    EXPECT_TRUE(one_behind(d));
  }
  {
    dispatcher_options o;
    o.take_back = false;
    dispatcher d{20, {1, 1}, make_policy("dynamic", 10), o};
    EXPECT_TRUE(one_behind(d));
  }
  {
    dispatcher_options o;
    o.splitting = {0};  // worker 0 is a node scheduler: its members hold its pieces, not it
    dispatcher d{20, {1, 1}, make_policy("dynamic", 10), o};
    EXPECT_TRUE(one_behind(d));
  }
}

/// Random runs: workers of 1–3 threads run what they hold in order, `threads` at a time; a take-back's word reaches
/// the holder after a random delay (before any later chunk, as MPI keeps a sender's order), so sometimes it has
/// started or finished a taken partition and runs it; ranks are lost now and then. Every partition is committed
/// exactly once, and the job ends.
TEST(Scheduler_TakeBackRules, RandomRunsCommitEveryPartitionExactlyOnce) {
  std::uint64_t take_backs = 0, raced = 0;  // the runs must exercise what they are about
  for (unsigned seed = 1; seed <= 120; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    const int workers = 2 + static_cast<int>(rng() % 4);
    std::vector<int> threads;
    for (int w = 0; w < workers; ++w) threads.push_back(1 + static_cast<int>(rng() % 3));
    const std::uint64_t n = 50 + rng() % 300;
    dispatcher_options o;
    o.speculation.enabled = seed % 2 == 0;
    o.speculation.min_samples = 1;
    dispatcher d(n, threads, make_policy(seed % 3 == 0 ? "factoring" : "adaptive", 1), o);
    std::vector<std::deque<std::uint64_t>> queue(static_cast<std::size_t>(workers));
    std::vector<std::vector<std::vector<id_range>>> words(static_cast<std::size_t>(workers));  // on their way
    std::vector<bool> lost(static_cast<std::size_t>(workers), false);
    std::multiset<std::uint64_t> committed;
    // The first `threads` of a worker's queue run; a word skips the taken ids behind them.
    auto hear = [&](int h) {
      auto& q = queue[static_cast<std::size_t>(h)];
      for (const auto& ids : std::exchange(words[static_cast<std::size_t>(h)], {})) {
        const auto taken = ids_of_ranges(ids);
        for (std::size_t i = static_cast<std::size_t>(threads[static_cast<std::size_t>(h)]); i < q.size();)
          if (std::find(taken.begin(), taken.end(), q[i]) != taken.end()) q.erase(q.begin() + static_cast<long>(i));
          else ++i;
      }
    };
    double now = 0;
    for (int step = 0; step < 200000 && !d.finished(); ++step) {
      now += 1e-3;
      const int w = static_cast<int>(rng() % static_cast<unsigned>(workers));
      const auto wi = static_cast<std::size_t>(w);
      auto& q = queue[wi];
      if (lost[wi] || (w == 0 && rng() % 4 != 0)) continue;  // worker 0 is slow: a backlog builds up there
      if (rng() % 500 == 0 && std::count(lost.begin(), lost.end(), false) > 1) {
        lost[wi] = true;
        q.clear();
        words[wi].clear();
        d.lose(rank_t{w});
        continue;
      }
      if (rng() % 3 == 0) hear(w);  // its words arrive (late, or not yet)
      if (rng() % 4 == 0 && q.size() < 2 * static_cast<std::size_t>(threads[wi])) {
        hear(w);  // the scheduler's messages to a rank arrive in order: a word before a later chunk
        for (auto id : ids_of(d.assign(rank_t{w}, 1 + static_cast<int>(rng() % 2), at(now)))) q.push_back(id);
        for (auto& t : d.take_backs())
          if (!lost[static_cast<std::size_t>(t.holder.value)])
            words[static_cast<std::size_t>(t.holder.value)].push_back(t.ids);
      } else if (!q.empty()) {  // one of those running ends
        const auto k = rng() % std::min<std::size_t>(q.size(), static_cast<std::size_t>(threads[wi]));
        const auto id = q[k];
        q.erase(q.begin() + static_cast<long>(k));
        const bool taken = d.tally(rank_t{w}).taken > 0;
        if (d.complete(rank_t{w}, partition_id{id}, 1e-2 * (1 + static_cast<double>(rng() % 20)))) committed.insert(id);
        else if (taken) ++raced;  // a taker's run that its holder's beat, or the other way round
      }
    }
    ASSERT_TRUE(d.finished()) << d.done_count() << " of " << n;
    for (int k = 0; k < workers; ++k)  // every count settled: none holds a partition when all are committed
      if (!lost[static_cast<std::size_t>(k)]) {
        EXPECT_EQ(d.unfinished(rank_t{k}), 0u) << "worker " << k;
      }
    EXPECT_EQ(committed.size(), n);
    EXPECT_EQ(std::set<std::uint64_t>(committed.begin(), committed.end()).size(), n);
    take_backs += d.take_back_count();
  }
  std::printf("%llu take-backs, %llu duplicates\n", static_cast<unsigned long long>(take_backs),
              static_cast<unsigned long long>(raced));
  EXPECT_GT(take_backs, 50u);
  EXPECT_GT(raced, 0u);
}

}  // namespace
