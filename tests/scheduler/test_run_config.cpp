// Scheduler_RunConfig: the configuration in parts, and each model refusing the other model's options in one place.
#include <gtest/gtest.h>

#include <string>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/run_config.hpp>

namespace {

using partita::model_kind;
using partita::run_config;
using partita::usage_error;
using partita::detail::check_run_config;

// The usage error `config` gets for `model`, or "" if it is accepted.
std::string refusal(const run_config& config, model_kind model) {
  try {
    check_run_config(config, model);
    return "";
  } catch (const usage_error& e) {
    return e.what();
  }
}

TEST(Scheduler_RunConfig, PartsAreViewsOfTheWhole) {
  run_config c;
  c.policy = "dynamic";
  c.timeout_seconds = 7;
  c.keep = 5;
  const partita::dispatch_options& d = c;
  const partita::liveness_options& l = c;
  const partita::checkpoint_options& k = c;
  EXPECT_EQ(d.policy, "dynamic");
  EXPECT_EQ(l.timeout_seconds, 7);
  EXPECT_EQ(k.keep, 5);
  EXPECT_NE(d, partita::dispatch_options{});
  EXPECT_EQ(static_cast<const partita::iterative_options&>(c), partita::iterative_options{});
}

TEST(Scheduler_RunConfig, DefaultsSuitBothModels) {
  EXPECT_EQ(refusal(run_config{}, model_kind::map_reduce), "");
  EXPECT_EQ(refusal(run_config{}, model_kind::iterative), "");
}

TEST(Scheduler_RunConfig, AnIterativeJobRefusesEveryDispatchOptionByItsFlag) {
  const auto refused = [](auto set, const std::string& flag) {
    run_config c;
    set(c);
    const auto why = refusal(c, model_kind::iterative);
    EXPECT_EQ(why.rfind(flag + " applies to map/reduce jobs only", 0), 0u) << flag << ": " << why;
    EXPECT_EQ(refusal(c, model_kind::map_reduce), "") << flag;
  };
  refused([](run_config& c) { c.policy = "dynamic"; }, "--policy");
  refused([](run_config& c) { c.chunk = 4; }, "--chunk");
  refused([](run_config& c) { c.prefetch = 5; }, "--prefetch");
  refused([](run_config& c) { c.max_chunks_per_message = 2; }, "--max-chunks-per-message");
  refused([](run_config& c) { c.scheduler_runs_partitions = false; }, "--dedicated-scheduler");
  refused([](run_config& c) { c.speculate = false; }, "--speculate/--speculation-factor");
  refused([](run_config& c) { c.speculation_factor = 2; }, "--speculate/--speculation-factor");
  refused([](run_config& c) { c.scheduler_levels = 2; }, "--scheduler-levels");
  refused([](run_config& c) { c.ranks_per_node = 3; }, "--ranks-per-node");
}

TEST(Scheduler_RunConfig, AMapReduceJobRefusesTheRebalancingOptions) {
  run_config c;
  c.rebalance_every_steps = 10;
  EXPECT_EQ(refusal(c, model_kind::map_reduce).rfind("--rebalance-every applies to iterative jobs only", 0), 0u);
  EXPECT_EQ(refusal(c, model_kind::iterative), "");
  c = {};
  c.imbalance_threshold = 1.5;
  EXPECT_EQ(refusal(c, model_kind::map_reduce).rfind("--imbalance-threshold applies to iterative jobs only", 0), 0u);
  EXPECT_EQ(refusal(c, model_kind::iterative), "");
}

TEST(Scheduler_RunConfig, BadValuesAreRefusedByTheModelThatReadsThem) {
  run_config c;
  c.imbalance_threshold = -1;
  EXPECT_NE(refusal(c, model_kind::iterative).find("--imbalance-threshold must be 0 (off) or more"), std::string::npos);
  c = {};
  c.prefetch = -1;
  EXPECT_EQ(refusal(c, model_kind::map_reduce), "--prefetch must be 0 or more");
  c = {};
  c.scheduler_levels = 3;
  EXPECT_NE(refusal(c, model_kind::map_reduce).find("--scheduler-levels must be 1 or 2"), std::string::npos);
}

TEST(Scheduler_RunConfig, CheckpointFlagsNeedADirectoryInEitherModel) {
  for (auto model : {model_kind::map_reduce, model_kind::iterative}) {
    run_config c;
    c.restart = "auto";
    EXPECT_NE(refusal(c, model).find("--restart auto needs --checkpoint-dir"), std::string::npos);
    c = {};
    c.checkpoint_every_seconds = 5;
    EXPECT_NE(refusal(c, model).find("need --checkpoint-dir"), std::string::npos);
  }
}

}  // namespace
