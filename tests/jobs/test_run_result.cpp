// Jobs_RunResult: one result type for both job models; a run stopped at a checkpoint hands out no value.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <partita/partita.hpp>

namespace {

partita::run_report report_of(partita::run_status status) {
  partita::run_report r;
  r.job = "j";
  r.status = status;
  r.is_scheduler = true;
  r.stop_reason = status == partita::run_status::checkpointed ? "wall time" : "";
  return r;
}

TEST(Jobs_RunResult, CompletedMapReduceRunHandsOutItsValue) {
  const partita::run_result<std::string> r(report_of(partita::run_status::completed), "forty-two");
  EXPECT_TRUE(r.completed());
  EXPECT_TRUE(r.is_scheduler());
  EXPECT_EQ(r.value(), "forty-two");
}

TEST(Jobs_RunResult, StoppedRunHasNoValueAndSaysHowToFinish) {
  const partita::run_result<int> r(report_of(partita::run_status::checkpointed), 7);
  EXPECT_FALSE(r.completed());
  try {
    (void)r.value();
    FAIL() << "a stopped run handed out its partial value";
  } catch (const partita::job_stopped& e) {
    EXPECT_NE(std::string(e.what()).find("(wall time)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--restart auto"), std::string::npos) << e.what();
  }
}

TEST(Jobs_RunResult, IterativeRunCarriesReductionsAndStatesOnlyOnceCompleted) {
  const partita::reductions last(12, {"residual"}, {0.5});
  const partita::run_result<partita::reductions, double> done(report_of(partita::run_status::completed), last,
                                                              {1.0, 2.0});
  EXPECT_EQ(done.value().steps(), 12u);
  EXPECT_EQ(done.value()["residual"], 0.5);
  EXPECT_EQ(done.states(), (std::vector<double>{1.0, 2.0}));
  const partita::run_result<partita::reductions, double> stopped(report_of(partita::run_status::checkpointed), last,
                                                                 {1.0});
  EXPECT_THROW((void)stopped.value(), partita::job_stopped);
  EXPECT_THROW((void)stopped.states(), partita::job_stopped);
}

TEST(Jobs_RunResult, StatesAJobDidNotKeepAreAUsageErrorThatSaysHowToKeepThem) {
  const partita::reductions last(3, {"residual"}, {0.5});
  const partita::run_result<partita::reductions, double> r(report_of(partita::run_status::completed), last, {}, false);
  EXPECT_EQ(r.value().steps(), 3u);
  try {
    (void)r.states();
    FAIL() << "a job that did not keep its states handed out an empty list";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find(".keep_final_states()"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--output"), std::string::npos) << e.what();
  }
}

TEST(Jobs_RunResult, OnlyOnFinishWithStatesKeepsThem) {
  auto job = partita::iterative_job<double>("j");
  EXPECT_FALSE(job.keeps_final_states());
  job.on_finish([](const partita::reductions&) {});
  EXPECT_FALSE(job.keeps_final_states()) << "an on_finish without states must not gather them";
  job.on_finish([](const partita::reductions&, const std::vector<double>&) {});
  EXPECT_TRUE(job.keeps_final_states());
  EXPECT_FALSE(partita::iterative_job<double>("k").keep_final_states(false).keeps_final_states());
}

}  // namespace
