// Scheduler_Speculation: copies of overdue partitions for idle workers (docs/design.md, "Speculative execution"),
// driven by a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <set>

#include <partita/scheduler/map_reduce/dispatcher.hpp>

#include "chunk_ids.hpp"

namespace {

using partita::dispatcher;
using partita::id_range;
using partita::make_policy;
using partita::partition_id;
using partita::rank_t;
using clk = dispatcher::clock;

/// A fake clock: `at(s)` is s seconds after an arbitrary origin.
clk::time_point at(double s) {
  return clk::time_point{} + std::chrono::hours(1) +
         std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(s));
}

using partita::testing::ids_of;

partita::dispatcher_options speculating(bool on = true) {
  partita::dispatcher_options o;
  o.speculation.enabled = on;
  o.speculation.factor = 3;
  o.speculation.floor_seconds = 0.1;
  o.speculation.min_samples = 5;
  o.take_back = false;  // the copies' rule alone (test_take_back.cpp: backlogs taken back before any copy)
  return o;
}

/// 8 partitions, chunks of one. Worker 0 (2 threads) takes partition 0 at t=0 and sits on it; workers 1 and 2
/// run partitions 1..7 in 10 ms each, so by t=0.04 the queue is empty and the median is 10 ms: partition 0
/// is overdue after max(0.1 s, 3 x 10 ms) = 0.1 s.
struct Scheduler_SpeculationOfAStraggler : ::testing::Test {
  dispatcher d{8, {2, 1, 1}, make_policy("dynamic", 1), speculating()};
  void SetUp() override {
    ASSERT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0))), (std::vector<std::uint64_t>{0}));
    double t = 0;
    for (int w = 1; d.unassigned() > 0; w = 3 - w) {
      auto got = ids_of(d.assign(rank_t{w}, 1, at(t)));
      ASSERT_EQ(got.size(), 1u);
      t += 0.005;
      ASSERT_TRUE(d.complete(rank_t{w}, partition_id{got[0]}, 0.01));
    }
    ASSERT_EQ(d.done_count(), 7u);
    ASSERT_TRUE(d.copies_made().empty());
  }
};

TEST_F(Scheduler_SpeculationOfAStraggler, NoCopyBeforeThePartitionIsOverdue) {
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(0.05)).empty());
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(0.099)).empty());
  EXPECT_TRUE(d.copies_made().empty());
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.11))), (std::vector<std::uint64_t>{0}));
  ASSERT_EQ(d.copies_made().size(), 1u);
  EXPECT_EQ(d.copies_made()[0].holder, rank_t{0});
  EXPECT_EQ(d.copies_made()[0].worker, rank_t{1});
  EXPECT_EQ(d.tally(rank_t{1}).copies, 1u);
}

TEST_F(Scheduler_SpeculationOfAStraggler, NeverToItsHolderAndAtMostOneCopy) {
  EXPECT_TRUE(d.assign(rank_t{0}, 1, at(5)).empty()) << "worker 0 has an idle thread, but partition 0 is its own";
  EXPECT_EQ(ids_of(d.assign(rank_t{2}, 4, at(5))), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(6)).empty()) << "a second copy of partition 0";
  EXPECT_EQ(d.copies_made().size(), 1u);
  EXPECT_EQ(d.unassigned(), 0u);
}

TEST_F(Scheduler_SpeculationOfAStraggler, CopyFinishingFirstIsCommittedTheOriginalDropped) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(d.complete(rank_t{1}, partition_id{0}, 0.01));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.copies_won(), 1u);
  EXPECT_EQ(d.tally(rank_t{1}).copies_won, 1u);
  EXPECT_EQ(d.unfinished(rank_t{0}), 0u) << "the original's partition is settled by the copy";
  EXPECT_EQ(d.unfinished(rank_t{1}), 0u);
  EXPECT_FALSE(d.complete(rank_t{0}, partition_id{0}, 0.5)) << "the original's late result must be dropped";
  EXPECT_EQ(d.done_count(), 8u);
  EXPECT_EQ(d.tally(rank_t{0}).partitions, 0u);
}

TEST_F(Scheduler_SpeculationOfAStraggler, OriginalFinishingFirstIsCommittedTheCopyDropped) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(d.complete(rank_t{0}, partition_id{0}, 0.25));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.copies_won(), 0u);
  EXPECT_EQ(d.unfinished(rank_t{1}), 0u) << "the copy's worker must not count the settled partition";
  EXPECT_FALSE(d.complete(rank_t{1}, partition_id{0}, 0.01)) << "the copy's late result must be dropped";
  EXPECT_EQ(d.copies_won(), 0u);
  EXPECT_EQ(d.done_count(), 8u);
}

TEST_F(Scheduler_SpeculationOfAStraggler, LosingTheOriginalAfterTheCopyWonRequeuesNothing) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  ASSERT_TRUE(d.complete(rank_t{1}, partition_id{0}, 0.01));
  EXPECT_EQ(d.lose(rank_t{0}), 0u);
  EXPECT_EQ(d.unassigned(), 0u);
  EXPECT_TRUE(d.finished());
  EXPECT_TRUE(d.assign(rank_t{2}, 1, at(1)).empty()) << "nothing may be handed out again";
}

TEST_F(Scheduler_SpeculationOfAStraggler, LosingTheCopysWorkerLeavesTheOriginalInPlace) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(d.lose(rank_t{1}), 0u) << "partition 0 still runs on its holder: nothing to requeue";
  EXPECT_EQ(d.unassigned(), 0u);
  EXPECT_TRUE(d.assign(rank_t{2}, 1, at(0.3)).empty()) << "still at most one copy per partition";
  EXPECT_TRUE(d.complete(rank_t{0}, partition_id{0}, 0.3));
  EXPECT_TRUE(d.finished());
}

TEST_F(Scheduler_SpeculationOfAStraggler, LosingTheOriginalWhileTheCopyRunsKeepsTheCopy) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(d.lose(rank_t{0}), 0u) << "the copy carries on as the original";
  EXPECT_EQ(d.unassigned(), 0u);
  EXPECT_TRUE(d.assign(rank_t{2}, 1, at(5)).empty());
  EXPECT_TRUE(d.complete(rank_t{1}, partition_id{0}, 0.01));
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(d.copies_won(), 1u);
}

TEST_F(Scheduler_SpeculationOfAStraggler, LosingBothRequeuesOnce) {
  ASSERT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(d.lose(rank_t{0}), 0u);
  EXPECT_EQ(d.lose(rank_t{1}), 1u) << "the last worker running partition 0 is gone: it goes back to the queue";
  EXPECT_EQ(d.unassigned(), 1u);
  EXPECT_EQ(ids_of(d.assign(rank_t{2}, 1, at(0.3))), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(d.complete(rank_t{2}, partition_id{0}, 0.01));
  EXPECT_TRUE(d.finished());
}

TEST(Scheduler_Speculation, OffMeansNoCopies) {
  dispatcher d(8, {2, 1, 1}, make_policy("dynamic", 1), speculating(false));
  d.assign(rank_t{0}, 1, at(0));
  for (int w = 1; d.unassigned() > 0; w = 3 - w)
    for (auto id : ids_of(d.assign(rank_t{w}, 1, at(0)))) d.complete(rank_t{w}, partition_id{id}, 0.01);
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(100)).empty());
  EXPECT_TRUE(d.copies_made().empty());
}

TEST(Scheduler_Speculation, NoCopyWhileTheQueueHasWork) {
  dispatcher d(100, {1, 1}, make_policy("dynamic", 1), speculating());
  ASSERT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0))).size(), 1u);
  for (int i = 0; i < 10; ++i)
    for (auto id : ids_of(d.assign(rank_t{1}, 1, at(0.01 * i)))) d.complete(rank_t{1}, partition_id{id}, 0.01);
  const auto got = ids_of(d.assign(rank_t{1}, 1, at(50)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0], 0u);
  EXPECT_TRUE(d.copies_made().empty()) << "partition 0 is overdue, but unassigned work comes first";
}

/// Four workers of one thread, chunks of 3 partitions of 50 ms: worker 0 holds 0..2 (run one after another),
/// workers 1 and 2 finished theirs, nothing is left to hand out.
dispatcher three_queued_on_worker_0() {
  dispatcher d(9, {1, 1, 1, 1}, make_policy("dynamic", 3), speculating());
  EXPECT_EQ(ids_of(d.assign(rank_t{0}, 1, at(0))), (std::vector<std::uint64_t>{0, 1, 2}));
  for (int w : {1, 2})
    for (auto id : ids_of(d.assign(rank_t{w}, 1, at(0)))) d.complete(rank_t{w}, partition_id{id}, 0.05);
  return d;
}

TEST(Scheduler_Speculation, PartitionsQueuedBehindOthersGetMoreTime) {
  // Worker 0 (1 thread) gets partitions 0..2 in one chunk: they run one after another, so with 50 ms
  // partitions partition k is allowed 3 x (50 ms + k x 50 ms).
  auto d = three_queued_on_worker_0();
  ASSERT_EQ(d.unassigned(), 0u);
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(0.14)).empty());
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(0.2))), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(d.assign(rank_t{2}, 1, at(0.25)).empty()) << "partition 1 is allowed 0.3 s";
  EXPECT_EQ(ids_of(d.assign(rank_t{2}, 1, at(0.31))), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(d.assign(rank_t{3}, 1, at(0.4)).empty()) << "partition 2 is allowed 0.45 s";
  EXPECT_EQ(ids_of(d.assign(rank_t{3}, 1, at(0.46))), (std::vector<std::uint64_t>{2}));
}

// Parked workers ask one after another at the same moment (the scheduler's list of overdue partitions is made
// once for them): each gets a different copy, most overdue first, and what they got no longer counts.
TEST(Scheduler_Speculation, WorkersAskingAtTheSameMomentGetDistinctCopies) {
  auto d = three_queued_on_worker_0();
  ASSERT_EQ(d.unassigned(), 0u);
  EXPECT_TRUE(d.assign(rank_t{0}, 1, at(1)).empty()) << "its own partitions";
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 1, at(1))), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(ids_of(d.assign(rank_t{2}, 1, at(1))), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(ids_of(d.assign(rank_t{3}, 1, at(1))), (std::vector<std::uint64_t>{2}));
  EXPECT_TRUE(d.complete(rank_t{1}, partition_id{0}, 0.05));
  EXPECT_TRUE(d.assign(rank_t{1}, 1, at(1)).empty()) << "0 is done, 1 and 2 have their copy";
  EXPECT_EQ(d.copies_made().size(), 3u);
}

TEST(Scheduler_Speculation, CopiesGoToIdleThreadsOnly) {
  dispatcher d(8, {1, 2, 1}, make_policy("dynamic", 1), speculating());
  d.assign(rank_t{0}, 1, at(0));  // partition 0, straggling
  // Worker 1 runs 1..7 and keeps the last one (7) unfinished: one of its two threads is busy.
  std::uint64_t last = 0;
  while (d.unassigned() > 0)
    for (auto id : ids_of(d.assign(rank_t{1}, 1, at(0)))) {
      if (d.unassigned() == 0) last = id;
      else d.complete(rank_t{1}, partition_id{id}, 0.01);
    }
  ASSERT_EQ(last, 7u);
  ASSERT_EQ(d.done_count(), 6u);
  EXPECT_EQ(ids_of(d.assign(rank_t{1}, 3, at(0.2))), (std::vector<std::uint64_t>{0})) << "one idle thread, one copy";
  EXPECT_EQ(d.unfinished(rank_t{1}), 2u);
}

TEST(Scheduler_Speculation, RandomRunsCommitEveryPartitionExactlyOnce) {
  // Workers ask, finish in random order and die at random; worker 0 is 20x slower than the rest, so copies
  // are made. Every partition must be committed exactly once and nothing stays counted as unfinished.
  std::size_t copies = 0;
  for (const char* policy : {"dynamic", "adaptive", "cost"}) {
    for (unsigned seed = 1; seed <= 20; ++seed) {
      std::mt19937 rng(seed);
      const int workers = 4;
      dispatcher d(200, {1, 2, 1, 1}, make_policy(policy), speculating());
      std::vector<std::vector<std::uint64_t>> holding(workers);
      std::vector<bool> dead(workers, false);
      std::vector<int> commits(200, 0);
      double t = 0;
      for (int step = 0; step < 200000 && !d.finished(); ++step) {
        t += 0.001;
        const int w = static_cast<int>(rng() % workers);
        if (dead[static_cast<std::size_t>(w)]) continue;
        auto& mine = holding[static_cast<std::size_t>(w)];
        if (seed % 4 == 0 && step == 300 && w != 0) {  // a worker dies mid-run (never the last fast one)
          d.lose(rank_t{w});
          dead[static_cast<std::size_t>(w)] = true;
          mine.clear();
          continue;
        }
        if (mine.empty() || rng() % 3 == 0) {
          for (auto id : ids_of(d.assign(rank_t{w}, 2, at(t)))) mine.push_back(id);
        } else if (w != 0 || rng() % 20 == 0) {
          const auto k = rng() % mine.size();
          const auto id = mine[k];
          mine.erase(mine.begin() + static_cast<long>(k));
          if (d.complete(rank_t{w}, partition_id{id}, w == 0 ? 0.02 : 0.001)) ++commits[id];
        }
      }
      ASSERT_TRUE(d.finished()) << policy << " seed " << seed;
      for (std::uint64_t id = 0; id < 200; ++id) ASSERT_EQ(commits[id], 1) << "partition " << id;
      for (int w = 0; w < workers; ++w) EXPECT_EQ(d.unfinished(rank_t{w}), 0u) << "worker " << w;
      EXPECT_LE(d.copies_won(), d.copies_made().size());
      copies += d.copies_made().size();
    }
  }
  EXPECT_GT(copies, 0u) << "the slow worker's partitions should have been copied";
}

/// The rule of docs/design.md, "Speculative execution", spelled out by brute force over everything handed out: what
/// the dispatcher must copy for worker `w` asking for `chunks` at `now`. Fed the same calls as the dispatcher.
struct speculation_rule {
  struct chunk {
    id_range range;
    double since;
    std::uint64_t ahead;
  };
  std::vector<int> threads;
  std::vector<std::vector<chunk>> held;
  std::vector<bool> lost;
  std::set<std::uint64_t> done, copied;
  std::vector<float> samples;  // the last 1024
  std::uint64_t sample_count = 0;
  double sample_sum = 0;

  explicit speculation_rule(std::vector<int> t) : threads(t), held(t.size()), lost(t.size(), false) {}

  /// What `d` handed to `w` at `t`; `unfinished` is d.unfinished(w) before the call.
  void handed(int w, const std::vector<std::vector<id_range>>& chunks, double t, std::uint64_t unfinished,
              bool copies) {
    for (const auto& c : chunks)
      for (const auto& r : c) {
        held[static_cast<std::size_t>(w)].push_back(chunk{r, t, unfinished});
        unfinished += r.size();
        if (copies) copied.insert(r.begin);
      }
  }
  void completed(std::uint64_t id, double seconds) {
    if (!done.insert(id).second) return;
    if (samples.size() < 1024) samples.push_back(static_cast<float>(seconds));
    else samples[sample_count % 1024] = static_cast<float>(seconds);
    ++sample_count;
    sample_sum += seconds;
  }
  void lose(int w) {
    lost[static_cast<std::size_t>(w)] = true;
    held[static_cast<std::size_t>(w)].clear();
  }

  std::vector<std::uint64_t> copies_for(int w, int chunks, double now, std::uint64_t unfinished) const {
    const auto idle = unfinished >= static_cast<std::uint64_t>(threads[static_cast<std::size_t>(w)])
                          ? 0
                          : static_cast<std::uint64_t>(threads[static_cast<std::size_t>(w)]) - unfinished;
    const auto want = std::min<std::uint64_t>(idle, static_cast<std::uint64_t>(chunks));
    if (want == 0 || sample_count < 5) return {};
    auto sorted = samples;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2), sorted.end());
    const double median = sorted[sorted.size() / 2];
    const double mean = sample_sum / static_cast<double>(sample_count);
    if (median <= 0) return {};
    struct candidate {
      double overdue;
      std::uint64_t id;
    };
    std::vector<candidate> all;
    for (std::size_t h = 0; h < held.size(); ++h) {
      if (lost[h] || static_cast<int>(h) == w) continue;
      bool front = true;  // the first chunk with a partition not done runs from its first such partition
      for (const auto& c : held[h]) {
        auto begin = c.range.begin;
        if (front) {
          while (begin < c.range.end && done.count(begin)) ++begin;
          if (begin == c.range.end) continue;
          front = false;
        }
        const double outstanding = now - c.since;
        for (auto id = begin; id < c.range.end; ++id) {
          if (done.count(id) || copied.count(id)) continue;
          const double before = static_cast<double>(c.ahead) / std::max(1, threads[h]) +
                                static_cast<double>(id - begin);
          const double allowed = std::max(0.1, 3.0 * (median + before * mean));
          if (outstanding > 0.1 && outstanding > allowed) all.push_back({outstanding / allowed, id});
        }
      }
    }
    std::sort(all.begin(), all.end(), [](const candidate& a, const candidate& b) {
      return a.overdue != b.overdue ? a.overdue > b.overdue : a.id < b.id;
    });
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < all.size() && out.size() < want; ++i) out.push_back(all[i].id);
    return out;
  }
};

/// Many idle workers ask at the same moments, between results and after copies: each must get exactly the copies the
/// rule gives over everything held (distinct, most overdue first), however the dispatcher finds them. `seconds`
/// draws a result's partition time given how many results came before. Counts the requests compared and copies.
void askers_get_the_rules_copies(unsigned seeds, const std::function<double(std::mt19937&, std::uint64_t)>& seconds_of,
                                 std::size_t& compared, std::size_t& copies) {
  for (unsigned seed = 1; seed <= seeds; ++seed) {
    std::mt19937 rng(seed);
    const std::vector<int> threads{1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 4, 1};
    const int workers = static_cast<int>(threads.size());
    const char* policy = seed % 3 == 0 ? "adaptive" : "dynamic";
    dispatcher d(300, threads, make_policy(policy, seed % 3 == 0 ? 0 : 1 + seed % 4), speculating());
    speculation_rule rule(threads);
    std::vector<std::vector<std::uint64_t>> running(static_cast<std::size_t>(workers));
    double t = 0;
    for (int step = 0; step < 100000 && !d.finished(); ++step) {
      if (rng() % 4 == 0) t += 0.001 * static_cast<double>(rng() % 40);  // else at the same moment as before
      const int w = static_cast<int>(rng() % static_cast<unsigned>(workers));
      if (rule.lost[static_cast<std::size_t>(w)]) continue;
      auto& mine = running[static_cast<std::size_t>(w)];
      if (seed % 5 == 0 && step == 500 && w > 1) {
        d.lose(rank_t{w});
        rule.lose(w);
        mine.clear();
        continue;
      }
      if (mine.empty() || rng() % 3 == 0) {
        const int chunks = 1 + static_cast<int>(rng() % 3);
        const bool from_queue = d.unassigned() > 0;
        const auto unfinished = d.unfinished(rank_t{w});
        const auto expected = from_queue ? std::vector<std::uint64_t>{} : rule.copies_for(w, chunks, t, unfinished);
        const auto got = d.assign(rank_t{w}, chunks, at(t));
        if (!from_queue) {
          ASSERT_EQ(ids_of(got), expected) << "seed " << seed << " step " << step << " worker " << w;
          ++compared;
          copies += expected.size();
        }
        rule.handed(w, got, t, unfinished, !from_queue);
        for (auto id : ids_of(got)) mine.push_back(id);
      } else if (w % 4 != 0 || rng() % 30 == 0) {  // workers 0, 4 and 8 are slow
        const auto k = rng() % mine.size();
        const auto id = mine[k];
        mine.erase(mine.begin() + static_cast<long>(k));
        const double seconds = seconds_of(rng, rule.sample_count);
        d.complete(rank_t{w}, partition_id{id}, seconds);
        rule.completed(id, seconds);
      }
    }
    ASSERT_TRUE(d.finished()) << "seed " << seed;
  }
}

TEST(Scheduler_Speculation, AskersGetTheMostOverdueOfEverythingHeld) {
  std::size_t copies = 0, compared = 0;
  askers_get_the_rules_copies(
      30, [](std::mt19937& rng, std::uint64_t) { return 0.005 + 0.001 * static_cast<double>(rng() % 20); }, compared,
      copies);
  EXPECT_GT(compared, 1000u);
  EXPECT_GT(copies, 100u);
}

// The search orders holders by keys that assume a mean partition time no larger than the mean (docs/design.md,
// "Speculative execution"): when the mean falls far (long partitions first, then short ones) the keys are made
// afresh, and when it rises they are early until met. The copies stay the rule's.
TEST(Scheduler_Speculation, AskersGetTheRulesCopiesWhenTheMeanFallsOrRises) {
  std::size_t copies = 0, compared = 0;
  askers_get_the_rules_copies(
      30,
      [](std::mt19937& rng, std::uint64_t before) {
        return before < 30 ? 0.2 + 0.01 * static_cast<double>(rng() % 20)
                           : 0.001 + 0.0001 * static_cast<double>(rng() % 20);
      },
      compared, copies);
  askers_get_the_rules_copies(
      30,
      [](std::mt19937& rng, std::uint64_t before) {
        return before < 100 ? 0.001 + 0.0001 * static_cast<double>(rng() % 20)
                            : 0.05 + 0.01 * static_cast<double>(rng() % 20);
      },
      compared, copies);
  EXPECT_GT(compared, 1000u);
  EXPECT_GT(copies, 100u);
}

// Looking for stragglers costs what it hands out, not the held chunks of every worker: the same requests of idle
// workers at the end of a job (nothing overdue yet, asked 100 times at each of 900 moments; then copies for all) over
// 10^3 and over 10^5 holders. A search that scans every held chunk at each moment takes about 100 times longer with
// 100 times the holders.
TEST(Scheduler_Speculation, LookingForStragglersCostDoesNotGrowWithTheWorkerCount) {
  auto seconds_for = [](int workers) {
    constexpr int askers = 100;  // workers 0..99 finish at once and ask again and again
    const auto n = static_cast<std::uint64_t>(workers);
    dispatcher d(n, std::vector<int>(static_cast<std::size_t>(workers), 1), make_policy("dynamic", 1), speculating());
    for (int w = 0; w < workers; ++w) EXPECT_EQ(ids_of(d.assign(rank_t{w}, 1, at(0))).size(), 1u);
    for (int w = 0; w < askers; ++w)
      EXPECT_TRUE(d.complete(rank_t{w}, partition_id{static_cast<std::uint64_t>(w)}, 0.01));
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t nothing = 0;
    for (int round = 0; round < 9; ++round)  // at 0.01 ... 0.09 s: nothing is overdue before 0.1 s
      for (int w = 0; w < askers; ++w)
        for (int again = 0; again < 100; ++again)
          nothing += d.assign(rank_t{w}, 1, at(0.01 * (round + 1) + 1e-6 * w)).empty();
    std::vector<std::uint64_t> copied;
    for (int w = 0; w < askers; ++w)  // every holder's partition is overdue now, the lowest id first (equally late)
      for (auto id : ids_of(d.assign(rank_t{w}, 1, at(0.2 + 1e-6 * w)))) copied.push_back(id);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(nothing, 900u * askers);
    std::vector<std::uint64_t> expected(askers);
    for (int i = 0; i < askers; ++i) expected[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(askers + i);
    EXPECT_EQ(copied, expected);
    return took;
  };
  const double few = std::min(seconds_for(1'000), seconds_for(1'000));
  const double many = std::min(seconds_for(100'000), seconds_for(100'000));
  RecordProperty("seconds_over_1000_holders", std::to_string(few));
  RecordProperty("seconds_over_100000_holders", std::to_string(many));
  EXPECT_LT(many, 10 * few) << few << " s over 10^3 holders, " << many << " s over 10^5";
}

// The end of a job at 10^5 ranks: thousands of node schedulers' requests parked, then answered one after another
// (serve_parked) with nothing committed in between. The first searches alone, the second makes a list the rest
// share: two searches for overdue partitions instead of one each (each walked the holders, and looked at every
// chunk of each holder it met): the model of 10^5 ranks with 100 ms partitions spent over 20 minutes there. The copies
// are the same as searches of their own would give: each asker gets the next most overdue partitions, never its own.
TEST(Scheduler_Speculation, RequestsAnsweredAtOneMomentShareASearch) {
  constexpr int workers = 2001, holders = 1000, threads = 4;
  dispatcher d(static_cast<std::uint64_t>(workers) * threads, std::vector<int>(workers, threads),
               make_policy("dynamic", 1), speculating());
  // Holders are handed their partitions at staggered times (the earliest the most overdue later); askers finish
  // theirs at once.
  for (int w = 0; w < workers; ++w)
    EXPECT_EQ(ids_of(d.assign(rank_t{w}, threads, at(w < holders ? 0.001 * w : 1.0))).size(), 4u);
  for (int w = holders; w < workers; ++w)
    for (auto id = static_cast<std::uint64_t>(w) * threads; id < static_cast<std::uint64_t>(w + 1) * threads; ++id)
      EXPECT_TRUE(d.complete(rank_t{w}, partition_id{id}, 0.05));
  const auto before = d.speculation_searches();
  std::vector<std::uint64_t> copied;
  for (int w = holders; w < workers; ++w)  // all at the same moment: 2 s, when every holder is overdue
    for (auto id : ids_of(d.assign(rank_t{w}, threads, at(2.0)))) copied.push_back(id);
  EXPECT_EQ(d.speculation_searches() - before, 2u);
  // The first 1000 askers took 4 each: the 4000 held partitions, earliest handed first, each once; the last found
  // none left.
  ASSERT_EQ(copied.size(), static_cast<std::size_t>(holders) * threads);
  auto sorted = copied;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_LT(copied.front(), 4u);  // the first asker got the most overdue: the first holder's
  // A moment later the last asker, still idle, searches again (the list is only shared for a moment).
  EXPECT_TRUE(d.assign(rank_t{workers - 1}, threads, at(2.5)).empty());
  EXPECT_EQ(d.speculation_searches() - before, 3u);
}

}  // namespace
