// Jobs_Registry: the built-in jobs, their parameters, and the typed job builder without MPI.
#include <gtest/gtest.h>

#include <chrono>

#include <oneapi/tbb/task_arena.h>

#include <partita/partita.hpp>

namespace {

TEST(Jobs_Registry, ListsTheFourBuiltInJobsWithDescriptions) {
  const auto& reg = partita::builtin_jobs();
  for (const char* name : {"pi", "mandelbrot", "wordcount", "synthetic"}) {
    const auto* j = reg.find(name);
    ASSERT_NE(j, nullptr) << name;
    EXPECT_FALSE(j->description.empty());
  }
}

TEST(Jobs_Registry, IterativeJobsSayTheirModelAndBuildOnlyAsIterative) {
  const auto& reg = partita::builtin_jobs();
  EXPECT_EQ(reg.find("heat")->model(), partita::model_kind::iterative);
  EXPECT_EQ(reg.find("pagerank")->model(), partita::model_kind::iterative);
  EXPECT_EQ(reg.find("pi")->model(), partita::model_kind::map_reduce);
  EXPECT_STREQ(partita::model_name(reg.find("heat")->model()), "iterative");
  const auto heat = reg.make_iterative("heat", partita::parameters::parse({"blocks_x=3", "blocks_y=2"}));
  EXPECT_EQ(heat->partition_count(), 6u);
  EXPECT_EQ(heat->neighbours(partita::partition_id{4}).size(), 3u);  // up, left, right
  EXPECT_THROW(reg.make("heat", {}), partita::usage_error);
  EXPECT_THROW(reg.make_iterative("pi", {}), partita::usage_error);
  EXPECT_THROW(reg.make_iterative("heat", partita::parameters::parse({"block=0"})), partita::usage_error);
  EXPECT_THROW(reg.make_iterative("pagerank", partita::parameters::parse({"blocks=0"})), partita::usage_error);
}

TEST(Jobs_Registry, BuildGivesTheJobOfItsOwnModel) {
  const auto& reg = partita::builtin_jobs();
  const auto heat = reg.build("heat", partita::parameters::parse({"blocks_x=3", "blocks_y=2"}));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<partita::iterative_job_model>>(heat));
  const auto& iterative = *std::get<std::unique_ptr<partita::iterative_job_model>>(heat);
  EXPECT_EQ(iterative.partition_count(), 6u);
  EXPECT_EQ(iterative.kind(), partita::model_kind::iterative);
  const auto pi = reg.build("pi", partita::parameters::parse({"samples=1000", "partitions=10"}));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<partita::map_job_model>>(pi));
  const partita::job_model& common = *std::get<std::unique_ptr<partita::map_job_model>>(pi);
  EXPECT_EQ(common.name(), "pi");
  EXPECT_EQ(common.partition_count(), 10u);
  EXPECT_EQ(common.params().get_int("samples", 0), 1000);
  EXPECT_EQ(common.kind(), partita::model_kind::map_reduce);
  EXPECT_THROW(reg.build("py", {}), partita::usage_error);
}

TEST(Jobs_Registry, UnknownJobOrParameterNamesTheValidOnes) {
  const auto& reg = partita::builtin_jobs();
  try {
    reg.make("py", {});
    FAIL();
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("pi, mandelbrot"), std::string::npos) << e.what();
  }
  try {
    reg.make("pi", partita::parameters::parse({"sample=10"}));
    FAIL();
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("samples"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reg.make("pi", partita::parameters::parse({"samples=-4"})), partita::usage_error);
  EXPECT_THROW(reg.make("synthetic", partita::parameters::parse({"dist=weird"})), partita::usage_error);
  EXPECT_THROW(reg.make("wordcount", {}), partita::usage_error);
  EXPECT_THROW(reg.make("wordcount", partita::parameters::parse({"dir=/no/such/folder"})), partita::usage_error);
}

TEST(Jobs_Registry, SyntheticCostsFollowTheirDistribution) {
  auto p = partita::parameters::parse({"dist=lognormal", "median_us=1000", "sigma=1.5"});
  std::vector<double> v;
  for (std::uint64_t i = 0; i < 20001; ++i) v.push_back(partita::synthetic_cost_seconds(p, i));
  std::nth_element(v.begin(), v.begin() + 10000, v.end());
  EXPECT_NEAR(v[10000], 1e-3, 1e-4) << "median";
  EXPECT_EQ(partita::synthetic_cost_seconds(p, 5), partita::synthetic_cost_seconds(p, 5));
  auto u = partita::parameters::parse({"dist=uniform", "median_us=100"});
  for (std::uint64_t i = 0; i < 1000; ++i) {
    EXPECT_GE(partita::synthetic_cost_seconds(u, i), 0.0);
    EXPECT_LE(partita::synthetic_cost_seconds(u, i), 200e-6);
  }
}

TEST(Jobs_MapReduceJob, ModelRunsFoldsAndDescribesInIdOrder) {
  auto job = partita::map_reduce_job<std::string>("concat")
                 .partitions({{partita::partition_id{0}, 0, "a"},
                              {partita::partition_id{0}, 0, "b"},
                              {partita::partition_id{0}, 0, "c"}})
                 .kernel([](const partita::partition& p, partita::context&) {
                   return p.payload + std::to_string(p.id.value);
                 })
                 .combine([](std::string& a, std::string&& b) { a += b; });
  auto m = job.model();
  tbb::task_arena arena(1);
  std::atomic<bool> cancel{false};
  std::vector<partita::bytes> out(3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    partita::context ctx(partita::partition_id{i}, partita::step_t{0}, 1, m->params(), arena, cancel);
    m->run(partita::partition_id{i}, ctx, out[i]);
  }
  for (auto& b : out) m->fold(b);
  EXPECT_EQ(m->describe(m->accumulator()), "a0b1c2");
  EXPECT_THROW(partita::map_reduce_job<int>("no-kernel").partitions(1).model(), partita::usage_error);
}

TEST(Jobs_Registry, MandelbrotStopsAPartitionOnceTheJobIsCancelled) {
  // At the end of a job the losing twin of a speculative copy is cancelled: the built-in kernel stops within a row
  // instead of holding the end of the job for the rest of its partition (its result is dropped).
  partita::parameters p;
  p.set("max_iter", "50000");
  p.set("rows", "8");
  auto m = partita::builtin_jobs().make("mandelbrot", p);
  tbb::task_arena arena(1);
  const partita::partition_id middle{m->partition_count() / 2};  // rows through the set: the dearest partition
  std::atomic<bool> cancel{false};
  partita::bytes whole, stopped;
  partita::context run(middle, partita::step_t{0}, 1, m->params(), arena, cancel);
  m->run(middle, run, whole);
  cancel = true;
  partita::context cancelled(middle, partita::step_t{0}, 1, m->params(), arena, cancel);
  const auto start = std::chrono::steady_clock::now();
  m->run(middle, cancelled, stopped);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(stopped.size(), whole.size()) << "the cancelled partition computed its rows all the same";
  EXPECT_LT(took, std::chrono::milliseconds(50));
}

}  // namespace
