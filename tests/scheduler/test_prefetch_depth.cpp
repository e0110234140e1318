// Scheduler_PrefetchDepth: a worker keeps threads + prefetch chunks in flight, and more while its chunks are shorter
// than the round trip to its scheduler; within a bound, and robust to a request answered late.
#include <partita/scheduler/map_reduce/detail/prefetch_depth.hpp>

#include <gtest/gtest.h>

namespace {

using partita::detail::prefetch_depth;

/// A request of one chunk every `gap` seconds, each answered `rtt` later, `n` times.
void round_trips(prefetch_depth& d, double rtt, int n, double start = 0, double gap = 1) {
  for (int i = 0; i < n; ++i) {
    const double at = start + gap * i;
    d.asked(at, 1);
    d.answered(at + rtt, 1);
  }
}

TEST(Scheduler_PrefetchDepth, ThreadsPlusPrefetchUntilMeasured) {
  prefetch_depth d(4, 2);
  EXPECT_EQ(d.target(0), 6);
  EXPECT_EQ(d.target(1e-6), 6) << "no round trip measured yet";
  d.asked(0, 3);
  EXPECT_EQ(d.target(1e-6), 6) << "asked, not answered";
  d.answered(10e-6, 3);
  round_trips(d, 10e-6, prefetch_depth::window - 2, 1);
  EXPECT_EQ(d.target(1e-6), 6) << "fewer answers than a window: a short job keeps the base depth";
  round_trips(d, 10e-6, 1, 100);
  EXPECT_EQ(d.target(10e-6), 8) << "4 threads, 10 us round trip, 10 us chunks: 4 more";
  EXPECT_EQ(d.target(5e-6), 12) << "5 us chunks: 8 more";
  round_trips(d, 100e-6, 2 * prefetch_depth::window, 200);
  EXPECT_EQ(d.target(20e-6), 24) << "100 us round trip, 20 us chunks: 20 more, but at most 4 x 6 in flight";
  EXPECT_EQ(d.target(1e-6), 200) << "1 us chunks: 400 more, but at most 50 us of work per thread";
}

TEST(Scheduler_PrefetchDepth, LongChunksKeepTheBaseDepth) {
  prefetch_depth d(1, 2);
  round_trips(d, 50e-6, 10);
  EXPECT_NEAR(d.round_trip(), 50e-6, 1e-9);
  EXPECT_EQ(d.target(10e-3), 3) << "a 10 ms chunk outlasts a 50 us round trip";
  EXPECT_EQ(d.target(50e-6), 3) << "one chunk per round trip: the base covers it";
}

TEST(Scheduler_PrefetchDepth, ShortChunksQueueWhatTheThreadsRunDuringARoundTrip) {
  prefetch_depth d(2, 1);
  round_trips(d, 10e-6, 20);
  // 2 threads, 10 us round trip, 2 us chunks: 10 chunks run meanwhile, beyond the 2 running.
  EXPECT_EQ(d.target(2e-6), 12);
  EXPECT_EQ(d.max_target(), 12);
  EXPECT_EQ(d.target(4e-6), 7);
  EXPECT_EQ(d.target(1e-9), d.max_target(1e-9)) << "bounded";
  EXPECT_EQ(d.max_target(1e-9), prefetch_depth::tiny_max_factor * 3) << "however short the chunks";
}

TEST(Scheduler_PrefetchDepth, TinyChunksMayQueueAFewMicrosecondsOfWorkBeyondFourTimesTheBase) {
  // One partition per message: four times threads + prefetch chunks of a fraction of a microsecond are gone in a
  // microsecond or two, far less than a process waits for the core on an oversubscribed node.
  prefetch_depth d(1, 2);
  EXPECT_EQ(d.max_target(0), 12) << "chunk time not measured";
  EXPECT_EQ(d.max_target(1e-3), 12) << "long chunks: four times the base";
  EXPECT_EQ(d.max_target(5e-6), 12) << "10 chunks make 50 us: still four times the base";
  EXPECT_EQ(d.max_target(1e-6), 50) << "50 us of work";
  EXPECT_EQ(d.max_target(0.25e-6), 192) << "200 chunks make 50 us, but at most 64 x 3";
  prefetch_depth two(2, 1);
  EXPECT_EQ(two.max_target(1e-6), 100) << "50 us of work per thread";
  EXPECT_EQ(d.max_target(4e-6), 12) << "12.5 chunks make 50 us: four times the base";
  round_trips(d, 100e-6, 20);
  EXPECT_EQ(d.target(1e-6), 50) << "100 us round trip, 1 us chunks: 100 more wanted, 50 us of work allowed";
  prefetch_depth e(1, 2);
  round_trips(e, 10e-6, 20);
  EXPECT_EQ(e.target(0.5e-6), 21) << "10 us round trip, 0.5 us chunks: 20 more, under the bound of 100";
}

TEST(Scheduler_PrefetchDepth, TheLeastRecentRoundTripAndItFollowsAChange) {
  prefetch_depth d(1, 2);
  round_trips(d, 10e-6, 20);
  EXPECT_NEAR(d.round_trip(), 10e-6, 1e-12);
  round_trips(d, 20e-6, prefetch_depth::window, 100);
  EXPECT_NEAR(d.round_trip(), 10e-6, 1e-12) << "the window before still counts";
  round_trips(d, 20e-6, 2 * prefetch_depth::window, 200);
  EXPECT_NEAR(d.round_trip(), 20e-6, 1e-12) << "a slower network is followed within two windows";
  round_trips(d, 5e-6, 1, 300);
  EXPECT_NEAR(d.round_trip(), 5e-6, 1e-12) << "a faster one at once";
}

TEST(Scheduler_PrefetchDepth, AnswersThatWaitedForWorkDoNotDeepenTheQueue) {
  // A request parked while the queue was empty, or waiting at a saturated scheduler, comes back late: that wait is
  // not latency a deeper queue could hide, and a worker that took it for one would hoard chunks.
  prefetch_depth d(1, 2);
  round_trips(d, 10e-6, 20);
  for (int i = 0; i < 3 * prefetch_depth::window; ++i) {
    d.asked(50 + i, 1);
    d.answered(50 + i + (i % 4 == 0 ? 10e-6 : 5e-3), 1);  // most answers waited 5 ms for work
  }
  EXPECT_NEAR(d.round_trip(), 10e-6, 1e-12);
  EXPECT_EQ(d.target(1e-3), 3);
}

TEST(Scheduler_PrefetchDepth, AnswersMatchRequestsInOrderAndPartAnswersSampleOnce) {
  prefetch_depth d(1, 0);
  d.asked(0, 2);    // answered in two parts: 1 us (sampled), then 100 s later (not a new sample)
  d.asked(0.5, 1);  // answered together with the rest of the first
  d.answered(1e-6, 1);
  EXPECT_NEAR(d.round_trip(), 1e-6, 1e-12);
  d.answered(0.5 + 2e-6, 2);  // the first's second chunk, and the second request: 2 us after it left
  EXPECT_NEAR(d.round_trip(), 1e-6, 1e-12);
  prefetch_depth e(1, 0);
  e.asked(0, 2);
  e.asked(0.5, 1);
  e.answered(3e-6, 1);        // the first request: a 3 us sample
  e.answered(0.5 + 2e-6, 2);  // the rest of the first (no sample) and the second: a 2 us sample
  EXPECT_NEAR(e.round_trip(), 2e-6, 1e-12);
  e.answered(10, 5);  // more than was asked (nothing outstanding): ignored
  EXPECT_NEAR(e.round_trip(), 2e-6, 1e-12);
}

TEST(Scheduler_PrefetchDepth, ForgottenRequestsAreNotSampled) {
  prefetch_depth d(1, 2);
  round_trips(d, 10e-6, 5);
  d.asked(10, 4);
  d.forget();  // a new scheduler: the old one's answers never come
  d.asked(20, 1);
  d.answered(20 + 10e-6, 1);
  EXPECT_NEAR(d.round_trip(), 10e-6, 1e-12);
}

}  // namespace
