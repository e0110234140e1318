// The Young/Daly checkpoint interval and its clamps.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <partita/checkpoint/interval.hpp>

using partita::young_daly_interval;

TEST(Checkpoint_Interval, FollowsDalyAndIsCloseToYoungForCheapCheckpoints) {
  const double c = 10, m = 24 * 3600;
  const auto i = young_daly_interval(c, m, std::nullopt);
  const double young = std::sqrt(2 * c * m);
  const double x = c / (2 * m);
  EXPECT_NEAR(i.seconds, young * (1 + std::sqrt(x) / 3 + x / 9) - c, 1e-9);
  EXPECT_NEAR(i.seconds / young, 1.0, 0.01);
  EXPECT_NE(i.reason.find("Daly"), std::string::npos) << i.reason;
}

TEST(Checkpoint_Interval, ExpensiveCheckpointsUseTheMtti) {
  const auto i = young_daly_interval(5000, 2000, std::nullopt);
  EXPECT_DOUBLE_EQ(i.seconds, 2000);
}

TEST(Checkpoint_Interval, ClampsToBounds) {
  auto i = young_daly_interval(0.001, 60, std::nullopt);  // ~0.35 s: too often
  EXPECT_DOUBLE_EQ(i.seconds, 10);
  EXPECT_NE(i.reason.find("lower bound"), std::string::npos) << i.reason;
  i = young_daly_interval(100, 1e9, std::nullopt);  // ~5 days
  EXPECT_DOUBLE_EQ(i.seconds, 86400);
  EXPECT_NE(i.reason.find("upper bound"), std::string::npos) << i.reason;
  i = young_daly_interval(2, 3600, std::nullopt, {.min_seconds = 200, .max_seconds = 300});
  EXPECT_DOUBLE_EQ(i.seconds, 200);
}

TEST(Checkpoint_Interval, LastCheckpointEndsBeforeTheWallTime) {
  const double c = 30, m = 24 * 3600;
  const auto free_run = young_daly_interval(c, m, std::nullopt).seconds;  // ~2270 s
  auto i = young_daly_interval(c, m, 1000.0);
  EXPECT_DOUBLE_EQ(i.seconds, 1000 - 2 * c);
  EXPECT_LT(i.seconds + c, 1000.0);
  EXPECT_NE(i.reason.find("wall time"), std::string::npos) << i.reason;
  i = young_daly_interval(c, m, 1e6);  // plenty left: no change
  EXPECT_DOUBLE_EQ(i.seconds, free_run);
  i = young_daly_interval(c, m, 50.0);  // not even room for one more
  EXPECT_DOUBLE_EQ(i.seconds, 0);
  EXPECT_NE(i.reason.find("checkpoint now"), std::string::npos) << i.reason;
  i = young_daly_interval(c, m, -5.0);
  EXPECT_DOUBLE_EQ(i.seconds, 0);
}

TEST(Checkpoint_Interval, NonsenseInputsFallBackToABoundAndSaySo) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto i = young_daly_interval(10, inf, std::nullopt);
  EXPECT_DOUBLE_EQ(i.seconds, 86400);
  i = young_daly_interval(nan, 3600, std::nullopt);
  EXPECT_DOUBLE_EQ(i.seconds, 86400);
  EXPECT_NE(i.reason.find("unknown"), std::string::npos);
  i = young_daly_interval(10, 0, std::nullopt);
  EXPECT_DOUBLE_EQ(i.seconds, 10);
  i = young_daly_interval(10, -1, 5.0);
  EXPECT_DOUBLE_EQ(i.seconds, 0);
  EXPECT_TRUE(std::isfinite(young_daly_interval(nan, nan, nan).seconds));
}
