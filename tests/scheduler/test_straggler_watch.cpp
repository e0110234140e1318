// Scheduler_StragglerWatch: which held partitions are overdue and the books of their speculative copies
// (docs/design.md, "Speculative execution"), without a dispatcher: the holdings are a plain record here.
#include <partita/scheduler/map_reduce/detail/straggler_watch.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace {

using partita::id_range;
using partita::id_set;
using partita::rank_t;
using partita::speculation_options;
using partita::detail::held_chunk;
using partita::detail::straggler_watch;
using clk = straggler_watch::clock;

/// A fake clock: `at(s)` is s seconds after an arbitrary origin.
clk::time_point at(double s) {
  return clk::time_point{} + std::chrono::hours(1) +
         std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(s));
}

speculation_options rule(bool on = true) {
  speculation_options o;
  o.enabled = on;
  o.factor = 3;
  o.floor_seconds = 0.1;
  o.min_samples = 5;
  return o;
}

/// Who holds what, as the dispatcher would record it: chunks per worker, oldest first, and the done set.
struct record final : partita::detail::holdings {
  explicit record(std::vector<int> t) : thread_counts(std::move(t)), held(thread_counts.size()) {}
  id_set done_ids;
  std::vector<int> thread_counts;
  std::vector<std::deque<held_chunk>> held;

  const id_set& done() const override { return done_ids; }
  int threads(int h) const override { return thread_counts[static_cast<std::size_t>(h)]; }
  const std::deque<held_chunk>& chunks(int h) override {
    auto& chunks = held[static_cast<std::size_t>(h)];
    partita::detail::prune_done(chunks, done_ids);
    return chunks;
  }
  /// Worker `h` is handed `r` at `t`, behind `ahead` partitions it holds; the watch is told.
  void hand(straggler_watch& watch, int h, id_range r, double t, std::uint64_t ahead = 0) {
    held[static_cast<std::size_t>(h)].push_back(held_chunk{r, at(t), ahead});
    watch.watch(h, held[static_cast<std::size_t>(h)].back(), threads(h), r.begin);
  }
};

std::vector<std::uint64_t> ids(const std::vector<partita::speculative_copy>& copies) {
  std::vector<std::uint64_t> out;
  for (const auto& c : copies) out.push_back(c.id.value);
  return out;
}

void results(straggler_watch& watch, int n, double seconds) {
  for (int i = 0; i < n; ++i) watch.note_result(seconds);
}

/// A watch over workers of `threads` threads: worker 0 is handed `r` at t=0 (behind `ahead`), then 5 results of
/// `seconds` each are measured.
struct scene {
  straggler_watch watch;
  record of;
  scene(std::vector<int> threads, id_range r, double seconds, std::uint64_t ahead = 0, bool on = true)
      : watch(rule(on), threads.size()), of(std::move(threads)) {
    of.hand(watch, 0, r, 0, ahead);
    results(watch, 5, seconds);
  }
  /// The ids copied for worker `w` with `want` idle threads at `t`.
  std::vector<std::uint64_t> copies(int w, std::uint64_t want, double t) {
    return ids(watch.copy_for(w, want, at(t), of));
  }
};

TEST(Scheduler_StragglerWatch, MedianCountsOnceThereAreEnoughSamples) {
  straggler_watch watch(rule(), 1);
  results(watch, 4, 0.01);
  EXPECT_EQ(watch.median_seconds(), 0) << "fewer than min_samples results";
  watch.note_result(0.5);
  EXPECT_FLOAT_EQ(static_cast<float>(watch.median_seconds()), 0.01f);
  results(watch, 2000, 0.02);
  EXPECT_FLOAT_EQ(static_cast<float>(watch.median_seconds()), 0.02f) << "the last 1024 results";
}

TEST(Scheduler_StragglerWatch, NoCopyBeforeThePartitionIsOverdue) {
  // Worker 0 holds partition 0 from t=0; the median is 10 ms: it is overdue after max(0.1 s, 3 x 10 ms).
  scene s({1, 1}, {0, 1}, 0.01);
  EXPECT_TRUE(s.copies(1, 1, 0.05).empty());
  EXPECT_TRUE(s.copies(1, 1, 0.099).empty());
  const auto copies = s.watch.copy_for(1, 1, at(0.11), s.of);
  ASSERT_EQ(ids(copies), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(copies[0].holder, rank_t{0});
  EXPECT_EQ(copies[0].worker, rank_t{1});
  EXPECT_NEAR(copies[0].outstanding_seconds, 0.11, 1e-9);
  EXPECT_EQ(s.watch.copies().size(), 1u);
}

TEST(Scheduler_StragglerWatch, NothingBeforeEnoughResults) {
  straggler_watch watch(rule(), 2);
  record of({1, 1});
  of.hand(watch, 0, {0, 1}, 0);
  results(watch, 4, 0.01);
  EXPECT_TRUE(watch.copy_for(1, 1, at(100), of).empty()) << "4 results of the 5 the rule needs";
  watch.note_result(0.01);
  EXPECT_EQ(ids(watch.copy_for(1, 1, at(100), of)), (std::vector<std::uint64_t>{0}));
}

TEST(Scheduler_StragglerWatch, NeverToItsHolderAndAtMostOneCopy) {
  scene s({2, 1, 1}, {0, 1}, 0.01);
  EXPECT_TRUE(s.copies(0, 1, 5).empty()) << "its own partition";
  EXPECT_EQ(s.copies(2, 4, 5), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(s.copies(1, 1, 6).empty()) << "a second copy of partition 0";
}

TEST(Scheduler_StragglerWatch, PartitionsQueuedBehindOthersGetMoreTime) {
  // One thread runs 0..2 in order; with 50 ms partitions partition k is allowed 3 x (50 ms + k x 50 ms).
  scene s({1, 1}, {0, 3}, 0.05);
  EXPECT_TRUE(s.copies(1, 1, 0.14).empty());
  EXPECT_EQ(s.copies(1, 1, 0.2), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(s.copies(1, 1, 0.25).empty()) << "partition 1 is allowed 0.3 s";
  EXPECT_EQ(s.copies(1, 1, 0.31), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(s.copies(1, 1, 0.4).empty()) << "partition 2 is allowed 0.45 s";
  EXPECT_EQ(s.copies(1, 1, 0.46), (std::vector<std::uint64_t>{2}));
}

TEST(Scheduler_StragglerWatch, WhatWasAheadWaitsOnEveryThread) {
  // A chunk handed behind 4 partitions on 2 threads waits for 2 of them: allowed 3 x (50 ms + 2 x 50 ms) = 0.45 s.
  scene s({2, 1}, {7, 8}, 0.05, 4);
  EXPECT_TRUE(s.copies(1, 1, 0.44).empty());
  EXPECT_EQ(s.copies(1, 1, 0.46), (std::vector<std::uint64_t>{7}));
}

TEST(Scheduler_StragglerWatch, MostOverdueFirstThenTheLowestId) {
  straggler_watch watch(rule(), 4);
  record of({1, 1, 1, 1});
  of.hand(watch, 0, {10, 11}, 0.2);
  of.hand(watch, 1, {20, 21}, 0);  // the longest outstanding
  of.hand(watch, 2, {5, 6}, 0.2);  // as late as 10, a lower id
  results(watch, 5, 0.01);
  EXPECT_EQ(ids(watch.copy_for(3, 2, at(1), of)), (std::vector<std::uint64_t>{20, 5}));
  EXPECT_EQ(ids(watch.copy_for(3, 5, at(1), of)), (std::vector<std::uint64_t>{10})) << "the rest, once";
}

TEST(Scheduler_StragglerWatch, DonePartitionsAreSkippedAndTheRestMoveUp) {
  // Partition 0 of a chunk of three is done: 1 now runs first and is allowed what the first one is.
  scene s({1, 1}, {0, 3}, 0.05);
  s.of.done_ids.insert(std::uint64_t{0});
  EXPECT_EQ(s.copies(1, 1, 0.2), (std::vector<std::uint64_t>{1}));
}

TEST(Scheduler_StragglerWatch, KeysAreMadeAfreshWhenTheMeanFalls) {
  // Keys made while partitions took a second assume half of it: a chunk queued behind two partitions is not looked
  // at before 3 s. Once the mean falls to milliseconds it is overdue after the floor, and must be found.
  straggler_watch watch(rule(), 2);
  record of({1, 1});
  results(watch, 5, 1.0);
  of.hand(watch, 0, {10, 11}, 0, 2);
  results(watch, 1000, 0.001);
  EXPECT_EQ(ids(watch.copy_for(1, 1, at(0.2), of)), (std::vector<std::uint64_t>{10}));
}

TEST(Scheduler_StragglerWatch, SettlingNamesTheOtherRunnerAndCountsAWin) {
  straggler_watch watch(rule(), 3);
  record of({1, 1, 1});
  of.hand(watch, 0, {0, 1}, 0);
  of.hand(watch, 0, {1, 2}, 0, 1);
  results(watch, 5, 0.01);
  ASSERT_EQ(ids(watch.copy_for(1, 1, at(1), of)), (std::vector<std::uint64_t>{0}));
  ASSERT_EQ(ids(watch.copy_for(2, 1, at(1), of)), (std::vector<std::uint64_t>{1}));
  const auto copy_won = watch.settle(1, 0);
  EXPECT_EQ(copy_won.others, (std::array<int, 2>{0, -1}));
  EXPECT_TRUE(copy_won.won);
  const auto original_won = watch.settle(0, 1);
  EXPECT_EQ(original_won.others, (std::array<int, 2>{2, -1}));
  EXPECT_FALSE(original_won.won);
  EXPECT_EQ(watch.copies_won(), 1u);
  EXPECT_FALSE(watch.settle(0, 7).won) << "never copied";
  EXPECT_EQ(watch.settle(0, 7).others, (std::array<int, 2>{-1, -1}));
}

TEST(Scheduler_StragglerWatch, LossesHandThePartitionOnUntilNobodyRunsIt) {
  scene s({1, 1, 1}, {0, 2}, 0.01);
  ASSERT_EQ(s.copies(1, 1, 1), (std::vector<std::uint64_t>{0}));
  EXPECT_FALSE(s.watch.runs_elsewhere(0, 1)) << "never copied: back to the queue";
  EXPECT_TRUE(s.watch.runs_elsewhere(0, 0)) << "the copy carries on as the original";
  const auto settled = s.watch.settle(1, 0);
  EXPECT_TRUE(settled.won) << "a copy that carried on still counts as won";
  EXPECT_EQ(settled.others, (std::array<int, 2>{-1, -1}));

  scene again({1, 1, 1}, {0, 1}, 0.01);
  ASSERT_EQ(again.copies(1, 1, 1), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(again.watch.runs_elsewhere(1, 0)) << "the copy's worker is lost: the original still runs";
  EXPECT_FALSE(again.watch.runs_elsewhere(0, 0)) << "then the original's: nobody runs it";
}

TEST(Scheduler_StragglerWatch, OffOrForgottenWatchesNobody) {
  scene off({1, 1}, {0, 1}, 0.01, 0, false);
  EXPECT_TRUE(off.copies(1, 1, 5).empty()) << "speculation off: holders are not watched";

  scene lost({1, 1}, {0, 1}, 0.01);
  lost.watch.forget(0);
  EXPECT_TRUE(lost.copies(1, 1, 5).empty()) << "a lost worker's partitions are requeued, not copied";
}

}  // namespace
