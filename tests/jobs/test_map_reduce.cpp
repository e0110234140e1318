// Jobs_MapReduce: map/reduce jobs end to end over real ranks (run at 1, 2, 3 and 4 ranks).
#include <gtest/gtest.h>
#include <mpi.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <partita/partita.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

#include "mpi_test_env.hpp"

namespace {

using partita::testing::test_session;

// Terms of wildly different magnitude and sign: their floating-point sum depends on the order of additions.
double term(std::uint64_t id) {
  const double sign = (id % 3 == 0) ? -1.0 : 1.0;
  return sign * std::ldexp(1.0 + static_cast<double>(id % 7) / 7.0, static_cast<int>((id * 37) % 60) - 30);
}

partita::map_reduce_job<double> fp_job(std::uint64_t n) {
  return partita::map_reduce_job<double>("fp-sum")
      .partitions(n)
      .kernel([](const partita::partition& p, partita::context& ctx) {
        // Mix in the partition's random stream too: placement must not change it.
        return term(p.id.value) + ctx.rng().uniform() * 1e-3;
      })
      .combine([](double& a, double&& b) { a += b; });
}

/// The job's value computed serially in the fold's documented shape (docs/design.md, "Folding aligned id blocks"):
/// left to right within aligned blocks of B partitions, B the largest power of two whose fourth power is at most n,
/// then the blocks' sums left to right.
double serial_reference(std::uint64_t n, std::uint64_t seed) {
  std::uint64_t block = 1;
  while (block < 4096 && (2 * block) * (2 * block) * (2 * block) * (2 * block) <= n) block *= 2;
  double acc = 0, in_block = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    partita::random_stream rng(seed, partita::partition_id{i}, partita::step_t{0});
    const double v = term(i) + rng.uniform() * 1e-3;
    in_block = i % block == 0 ? v : in_block + v;
    if ((i + 1) % block == 0 || i + 1 == n) acc = i < block ? in_block : acc + in_block;
  }
  return acc;
}

std::uint64_t bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

bool same_on_every_rank(std::uint64_t v) {
  std::uint64_t lo = 0, hi = 0;
  MPI_Allreduce(&v, &lo, 1, MPI_UINT64_T, MPI_MIN, test_session().comm());
  MPI_Allreduce(&v, &hi, 1, MPI_UINT64_T, MPI_MAX, test_session().comm());
  return lo == hi;
}

partita::run_config quiet_config(const std::string& policy) {
  partita::run_config c;
  c.policy = policy;
  c.quiet = true;
  c.threads = 2;
  c.seed = 99;
  c.timeout_seconds = 30;
  return c;
}

TEST(Jobs_MapReduce, TheFloatingPointSumReallyDependsOnOrder) {
  // Guards the next test: if reordering did not change the bits, bitwise equality would prove nothing.
  double fwd = 0, rev = 0;
  for (std::uint64_t i = 0; i < 3000; ++i) fwd += term(i);
  for (std::uint64_t i = 3000; i-- > 0;) rev += term(i);
  EXPECT_NE(bits(fwd), bits(rev));
}

TEST(Jobs_MapReduce, FloatingPointResultIsBitwiseIdenticalUnderEveryPolicy) {
  const std::uint64_t n = 3000;
  const double expect = serial_reference(n, 99);
  for (const auto& policy : partita::policy_names()) {
    auto r = partita::run(test_session(), fp_job(n), quiet_config(policy));
    EXPECT_EQ(bits(r.value()), bits(expect)) << "policy " << policy << " at " << test_session().size() << " ranks";
    EXPECT_TRUE(same_on_every_rank(bits(r.value()))) << policy;
    EXPECT_EQ(r.report().status, partita::run_status::completed);
  }
}

TEST(Jobs_MapReduce, TinyChunksOnePerMessageGiveTheSameBits) {
  auto c = quiet_config("dynamic");
  c.chunk = 1;
  c.max_chunks_per_message = 1;
  c.prefetch = 4;
  auto r = partita::run(test_session(), fp_job(500), c);
  EXPECT_EQ(bits(r.value()), bits(serial_reference(500, 99)));
}

TEST(Jobs_MapReduce, OnePerMessageToADedicatedSchedulerGivesTheSameBits) {
  // Every partition travels through a request and an assign; answers to a worker's burst of requests go out as
  // one assign (the scheduler's reply batching), which must neither lose nor repeat a chunk.
  if (test_session().size() < 2) GTEST_SKIP() << "needs two ranks";
  auto c = quiet_config("dynamic");
  c.chunk = 1;
  c.max_chunks_per_message = 1;
  c.prefetch = 8;
  c.scheduler_runs_partitions = false;
  c.speculate = false;  // a copy of a partition held long on a loaded machine would count twice below
  auto r = partita::run(test_session(), fp_job(3000), c);
  EXPECT_EQ(bits(r.value()), bits(serial_reference(3000, 99)));
  if (r.report().is_scheduler) {
    std::uint64_t ran = 0;
    for (const auto& w : r.report().workers) ran += w.partitions;
    EXPECT_EQ(ran, 3000u) << "a chunk was lost or run twice";
    EXPECT_EQ(r.report().chunks, 3000u) << "one partition per chunk";
  }
}

TEST(Jobs_MapReduce, DedicatedSchedulerRunsNothingItself) {
  if (test_session().size() < 2) GTEST_SKIP() << "needs two ranks";
  auto c = quiet_config("adaptive");
  c.scheduler_runs_partitions = false;
  auto r = partita::run(test_session(), fp_job(400), c);
  EXPECT_EQ(bits(r.value()), bits(serial_reference(400, 99)));
  if (r.report().is_scheduler) {
    for (const auto& w : r.report().workers) {
      if (w.rank == r.report().scheduler.value) {
        EXPECT_EQ(w.partitions, 0u);
      }
    }
  }
}

TEST(Jobs_MapReduce, EveryPartitionIsCommittedOnceAndCounted) {
  auto r = partita::run(test_session(), fp_job(1234), quiet_config("guided"));
  if (r.report().is_scheduler) {
    std::uint64_t sum = 0;
    for (const auto& w : r.report().workers) sum += w.partitions;
    EXPECT_EQ(sum, 1234u);
    EXPECT_EQ(r.report().partitions_run, 1234u);
    EXPECT_GE(r.report().dispatches, 1u);
  }
}

TEST(Jobs_MapReduce, ZeroPartitionsGiveTheDefaultResult) {
  auto r = partita::run(test_session(), fp_job(0), quiet_config("adaptive"));
  EXPECT_EQ(r.value(), 0.0);
}

TEST(Jobs_MapReduce, KernelsMayUseDeterministicTbbReductionsInside) {
  auto job = partita::map_reduce_job<double>("tbb-inside")
                 .partitions(40)
                 .kernel([](const partita::partition& p, partita::context&) {
                   return tbb::parallel_deterministic_reduce(
                       tbb::blocked_range<int>(0, 10000, 100), 0.0,
                       [&](const tbb::blocked_range<int>& r, double acc) {
                         for (int i = r.begin(); i < r.end(); ++i)
                           acc += 1.0 / (i + 1.0 + static_cast<double>(p.id.value));
                         return acc;
                       },
                       std::plus<>());
                 })
                 .combine([](double& a, double&& b) { a += b; });
  auto r1 = partita::run(test_session(), job, quiet_config("dynamic"));
  auto r2 = partita::run(test_session(), job, quiet_config("static"));
  EXPECT_EQ(bits(r1.value()), bits(r2.value()));
  EXPECT_TRUE(same_on_every_rank(bits(r1.value())));
}

TEST(Jobs_MapReduce, AThrowingKernelFailsTheJobEverywhereNamingJobPartitionAndMessage) {
  auto job = partita::map_reduce_job<int>("boom")
                 .partitions(200)
                 .kernel([](const partita::partition& p, partita::context&) {
                   if (p.id.value == 123) throw std::runtime_error("bad input in row 123");
                   return 1;
                 })
                 .combine([](int& a, int&& b) { a += b; });
  int scheduler_saw = 0, others_saw = 0;
  try {
    partita::run(test_session(), job, quiet_config("dynamic"));
    ADD_FAILURE() << "the job should have failed";
  } catch (const partita::kernel_error& e) {
    scheduler_saw = 1;
    const std::string what = e.what();
    EXPECT_NE(what.find("boom"), std::string::npos) << what;
    EXPECT_NE(what.find("123"), std::string::npos) << what;
    EXPECT_NE(what.find("bad input in row 123"), std::string::npos) << what;
  } catch (const partita::remote_failure&) {
    others_saw = 1;
  }
  int kernel_errors = 0, remote = 0;
  MPI_Allreduce(&scheduler_saw, &kernel_errors, 1, MPI_INT, MPI_SUM, test_session().comm());
  MPI_Allreduce(&others_saw, &remote, 1, MPI_INT, MPI_SUM, test_session().comm());
  EXPECT_EQ(kernel_errors, 1) << "exactly one rank (the scheduler) reports the kernel error";
  EXPECT_EQ(remote, test_session().size() - 1);
  // The ranks are still in step: another job runs fine afterwards.
  auto r = partita::run(test_session(), fp_job(100), quiet_config("adaptive"));
  EXPECT_EQ(bits(r.value()), bits(serial_reference(100, 99)));
}

TEST(Jobs_MapReduce, SummaryJsonAndTraceHaveTheirStructure) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("partita-trace-" + std::to_string(getppid()));
  fs::create_directories(dir);
  auto c = quiet_config("adaptive");
  c.trace = dir / "trace.json";
  auto r = partita::run(test_session(), fp_job(300), c);
  if (r.report().is_scheduler) {
    std::ifstream in(*c.trace);
    auto doc = nlohmann::json::parse(in);
    ASSERT_TRUE(doc.contains("traceEvents"));
    std::set<std::uint64_t> ids;
    std::set<std::pair<int, int>> tracks;
    int names = 0;
    for (const auto& e : doc["traceEvents"]) {
      ASSERT_TRUE(e.contains("ph") && e.contains("pid"));
      if (e["ph"] == "X" && e["cat"] == "partition") {
        ids.insert(e["args"]["id"].get<std::uint64_t>());
        tracks.insert({e["pid"].get<int>(), e["tid"].get<int>()});
        EXPECT_GE(e["dur"].get<double>(), 0.0);
        EXPECT_GE(e["ts"].get<double>(), 0.0);
      }
      if (e["ph"] == "M" && e["name"] == "process_name") ++names;
    }
    EXPECT_EQ(ids.size(), 300u) << "one slice per partition";
    EXPECT_GE(tracks.size(), 1u);
    EXPECT_EQ(names, test_session().size()) << "one named process per rank";
    auto j = nlohmann::json::parse(r.report().to_json());
    EXPECT_EQ(j["result"], r.report().result_text);
    EXPECT_EQ(j["workers"].size(), static_cast<std::size_t>(test_session().size()));
    EXPECT_EQ(j["partitions"], 300);
    fs::remove_all(dir);
  }
}

TEST(Jobs_MapReduce, BadPolicyIsAUsageErrorOnEveryRank) {
  auto c = quiet_config("fastest");
  EXPECT_THROW(partita::run(test_session(), fp_job(10), c), partita::usage_error);
}

}  // namespace
