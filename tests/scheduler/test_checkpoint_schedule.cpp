// Scheduler_CheckpointSchedule: when checkpoints are due (results, time, Young/Daly, wall time).
#include <gtest/gtest.h>

#include <partita/scheduler/checkpoint_schedule.hpp>

namespace {

using partita::checkpoint_schedule;
using partita::checkpoint_triggers;
using clock_t_ = checkpoint_schedule::clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Scheduler_CheckpointSchedule, NothingConfiguredIsNeverDue) {
  const auto t0 = clock_t_::now();
  checkpoint_schedule s({}, t0);
  EXPECT_EQ(s.due(1'000'000, t0 + seconds(100000)), "");
  EXPECT_FALSE(s.out_of_time(t0 + seconds(100000)));
}

TEST(Scheduler_CheckpointSchedule, EveryNResults) {
  const auto t0 = clock_t_::now();
  checkpoint_triggers t;
  t.every_partitions = 100;
  checkpoint_schedule s(t, t0);
  EXPECT_EQ(s.due(99, t0), "");
  EXPECT_NE(s.due(100, t0), "");
  s.taken(0.01, 100, t0);
  EXPECT_EQ(s.due(150, t0), "");
  EXPECT_NE(s.due(200, t0), "");
}

TEST(Scheduler_CheckpointSchedule, ResumedJobCountsOnlyNewResults) {
  const auto t0 = clock_t_::now();
  checkpoint_triggers t;
  t.every_partitions = 100;
  checkpoint_schedule s(t, t0);
  s.resume_from(5000);
  EXPECT_EQ(s.due(5050, t0), "");
  EXPECT_NE(s.due(5100, t0), "");
}

TEST(Scheduler_CheckpointSchedule, EveryTSeconds) {
  const auto t0 = clock_t_::now();
  checkpoint_triggers t;
  t.every_seconds = 30;
  checkpoint_schedule s(t, t0);
  EXPECT_EQ(s.due(1, t0 + seconds(29)), "");
  EXPECT_NE(s.due(1, t0 + seconds(31)), "");
  s.taken(0.5, 1, t0 + seconds(31));
  EXPECT_EQ(s.due(2, t0 + seconds(60)), "");
  EXPECT_NE(s.due(2, t0 + seconds(62)), "");
}

TEST(Scheduler_CheckpointSchedule, YoungDalyIntervalFollowsTheMeasuredCost) {
  const auto t0 = clock_t_::now();
  checkpoint_triggers t;
  t.young_daly = true;
  t.mtti_seconds = 3600;
  checkpoint_schedule s(t, t0);
  EXPECT_DOUBLE_EQ(s.interval_seconds(), 10.0) << "the first checkpoint measures the cost";
  EXPECT_NE(s.taken(2.0, 10, t0 + seconds(10)), "") << "the new interval is logged";
  // sqrt(2 * 2 * 3600) = 120 s to first order; Daly's correction keeps it near.
  EXPECT_GT(s.interval_seconds(), 100);
  EXPECT_LT(s.interval_seconds(), 140);
  EXPECT_EQ(s.due(11, t0 + seconds(60)), "");
  EXPECT_NE(s.due(11, t0 + seconds(10 + 141)), "");
}

TEST(Scheduler_CheckpointSchedule, TheLastCheckpointLandsBeforeTheWallTime) {
  const auto t0 = clock_t_::now();
  checkpoint_triggers t;
  t.young_daly = true;
  t.mtti_seconds = 24 * 3600;
  t.seconds_left = 60;
  checkpoint_schedule s(t, t0);
  EXPECT_LE(s.interval_seconds(), 30) << "a short allocation checkpoints early";
  s.taken(5.0, 10, t0 + seconds(10));
  EXPECT_LE(s.interval_seconds(), 60 - 10 - 2 * 5.0 + 1e-9) << "clamped to end before the wall time";
  EXPECT_FALSE(s.out_of_time(t0 + seconds(40)));
  EXPECT_TRUE(s.out_of_time(t0 + seconds(50))) << "10 s left < twice the 5 s cost plus margin";
  EXPECT_NE(s.due(11, t0 + seconds(50)), "") << "take the last checkpoint while it fits";
}

}  // namespace
