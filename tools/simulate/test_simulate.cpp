// Unit tests of the model's pieces that do not need SimGrid: a rank's threads in simulated time and the
// calibration reader.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <partita/runtime/error.hpp>

#include "calibration.hpp"
#include "rank_threads.hpp"

namespace sim = partita::simulate;

TEST(Simulate_RankThreads, RunsChunksInOrderOnFreeThreadsFifo) {
  const std::vector<float> costs{1, 2, 3, 4, 5};
  sim::rank_threads t(2, costs);
  t.submit({{0, 2}}, 0);  // thread A: 0 (ends 1), 1 (ends 3)
  t.submit({{2, 3}}, 0);  // thread B: 2 (ends 3)
  t.submit({{3, 5}}, 0);  // queued: starts when a thread frees, at 3
  EXPECT_EQ(t.in_flight(), 3);
  EXPECT_DOUBLE_EQ(t.next_finish(), 1);
  std::vector<sim::finished_partition> out;
  t.advance(2.5, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 0u);
  t.advance(3, out);
  ASSERT_EQ(out.size(), 3u);  // 1 and 2 both end at 3
  EXPECT_EQ(t.in_flight(), 1);
  EXPECT_DOUBLE_EQ(t.next_finish(), 7);  // 3 runs 3..7, then 4 runs 7..12
  t.advance(100, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[3].id, 3u);
  EXPECT_EQ(out[4].id, 4u);
  EXPECT_EQ(t.in_flight(), 0);
  EXPECT_DOUBLE_EQ(t.busy_seconds(), 15);
  EXPECT_EQ(t.next_finish(), std::numeric_limits<double>::infinity());
}

TEST(Simulate_RankThreads, ChargesTheExecutorOverheadPerPartition) {
  const std::vector<float> costs{1, 1, 1};
  sim::rank_threads t(1, costs, 0.5);
  t.submit({{0, 3}}, 10);
  std::vector<sim::finished_partition> out;
  t.advance(14.4, out);
  EXPECT_EQ(out.size(), 2u);  // ends at 11.5, 13, 14.5
  t.advance(14.5, out);
  EXPECT_EQ(out.size(), 3u);
}

TEST(Simulate_RankThreads, PartitionsTakenBackAreDroppedUnlessStarted) {
  const std::vector<float> costs(20, 1);
  sim::rank_threads t(1, costs);
  t.submit({{0, 6}}, 0);            // running 0
  t.submit({{6, 8}, {10, 12}}, 0);  // queued
  std::vector<sim::finished_partition> out;
  t.advance(1.5, out);                      // 0 done, 1 runs
  t.take_back({{1, 2}, {4, 7}, {10, 11}});  // 1 has started: it stays
  EXPECT_EQ(t.skipped(), 4u);               // 4, 5, 6, 10
  t.advance(100, out);
  std::vector<std::uint64_t> ids;
  for (const auto& f : out) ids.push_back(f.id);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{0, 1, 2, 3, 7, 11}));
  EXPECT_EQ(t.in_flight(), 0);
  EXPECT_DOUBLE_EQ(t.busy_seconds(), 6);
}

TEST(Simulate_RankThreads, PollIntervalFollowsTheExecutorRule) {
  const std::vector<float> costs(10, 0.001f);
  sim::rank_threads t(1, costs);
  EXPECT_DOUBLE_EQ(t.poll_interval(), 500e-6);  // nothing measured yet
  t.submit({{0, 1}}, 0);
  std::vector<sim::finished_partition> out;
  t.advance(1, out);
  EXPECT_NEAR(t.poll_interval(), 250e-6, 1e-9);  // a quarter of a 1 ms chunk
  t.submit({{1, 10}}, 1);                        // a 9 ms chunk: the moving average moves by 1/8
  t.advance(20, out);
  EXPECT_NEAR(t.poll_interval(), (0.001 + (0.009 - 0.001) / 8) / 4, 1e-9);
}

TEST(Simulate_Calibration, ReadsKnownKeysAndRejectsBadValues) {
  const std::string path = ::testing::TempDir() + "partita_calibration_test.txt";
  {
    std::ofstream f(path);
    f << "# comment\nlatency_s=3e-6\nmessage_s = 1e-5  # trailing\nunknown_key=7\n\n";
  }
  const auto c = sim::read_calibration(path);
  EXPECT_DOUBLE_EQ(c.latency_s, 3e-6);
  EXPECT_DOUBLE_EQ(c.message_s, 1e-5);
  EXPECT_DOUBLE_EQ(c.service(10, 4, 2), 1e-5 + 10 * c.complete_s + 4 * c.result_s + 2 * c.assign_s);
  {
    std::ofstream f(path);
    f << "message_s=fast\n";
  }
  try {
    sim::read_calibration(path);
    FAIL() << "a non-number was accepted";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find(":1: message_s must be a number"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sim::read_calibration(path + ".missing"), partita::usage_error);
  std::remove(path.c_str());
}
