// Scheduler_StepCosts: a partition's cost is the least of its last measured step times, without MPI.
#include <gtest/gtest.h>

#include <partita/scheduler/iterative/detail/step_costs.hpp>

namespace {
using partita::detail::step_costs;

TEST(Scheduler_StepCosts, UnmeasuredCostsAreZero) {
  const step_costs c(3);
  EXPECT_EQ(c.per_partition(), (std::vector<double>{0, 0, 0}));
}

TEST(Scheduler_StepCosts, TheLeastOfTheWindowFiltersADelay) {
  step_costs c(2);
  c.record(0, 0, 1.0);
  c.record(0, 1, 5.0);  // descheduled: only ever adds
  EXPECT_EQ(c.per_partition()[0], 1.0);
  c.record(1, 0, 2.0);
  EXPECT_EQ(c.per_partition()[1], 2.0);
}

TEST(Scheduler_StepCosts, ARealChangeIsFollowedWithinAWindow) {
  step_costs c(1);
  c.record(0, 0, 1.0);
  for (std::uint64_t s = 1; s < step_costs::window; ++s) c.record(0, s, 3.0);
  EXPECT_EQ(c.per_partition()[0], 1.0);  // step 0 is still in the window
  c.record(0, step_costs::window, 3.0);  // replaces step 0
  EXPECT_EQ(c.per_partition()[0], 3.0);
}

TEST(Scheduler_StepCosts, RestoredCostsCountAsTheFirstMeasurement) {
  auto c = step_costs::restored({2.0, 0.0});
  EXPECT_EQ(c.per_partition(), (std::vector<double>{2.0, 0.0}));
  c.record(0, 3, 4.0);
  EXPECT_EQ(c.per_partition()[0], 2.0);
  c.record(1, 3, 4.0);  // a cost never measured does not hold on to 0
  EXPECT_EQ(c.per_partition()[1], 4.0);
  c.record(0, 8, 4.0);  // step 8 lands in the restored cost's slot
  EXPECT_EQ(c.per_partition()[0], 4.0);
}

}  // namespace
