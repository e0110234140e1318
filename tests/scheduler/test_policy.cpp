// Scheduler_Policy: chunk sizes of each policy follow their definitions.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

namespace {

partita::chunk_request req(std::uint64_t remaining, int threads) {
  partita::chunk_request r;
  r.remaining = remaining;
  r.total = 1000;
  r.total_threads = threads;
  return r;
}

TEST(Scheduler_Policy, UnknownNameIsAUsageErrorListingThePolicies) {
  try {
    partita::make_policy("fastest");
    FAIL() << "no error";
  } catch (const partita::usage_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("fastest"), std::string::npos);
    for (const auto& n : partita::policy_names()) EXPECT_NE(what.find(n), std::string::npos) << n;
  }
}

TEST(Scheduler_Policy, GuidedIsRemainingOverThreads) {
  auto p = partita::make_policy("guided");
  EXPECT_EQ(p->chunk_size(req(1000, 4)), 250u);
  EXPECT_EQ(p->chunk_size(req(10, 4)), 3u);
  EXPECT_EQ(p->chunk_size(req(1, 4)), 1u);
}

TEST(Scheduler_Policy, FactoringHandsOutBatchesOfPEqualChunks) {
  auto p = partita::make_policy("factoring");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p->chunk_size(req(1000 - 125 * static_cast<std::uint64_t>(i), 4)), 125u);
  EXPECT_EQ(p->chunk_size(req(500, 4)), 63u) << "next batch: half of 500 over 4";
}

TEST(Scheduler_Policy, AdaptiveScalesByMeasuredSpeed) {
  auto p = partita::make_policy("adaptive");
  auto r = req(800, 4);
  EXPECT_EQ(p->chunk_size(r), 100u) << "unmeasured: plain factoring";
  r.worker_speed = 2.0;
  r.mean_speed = 1.0;
  EXPECT_EQ(p->chunk_size(r), 200u) << "twice as fast, twice the chunk";
  r.worker_speed = 0.5;
  EXPECT_EQ(p->chunk_size(r), 50u);
}

TEST(Scheduler_Policy, MinChunkIsAFloorForEveryPolicy) {
  for (const auto& name : partita::policy_names()) {
    if (name == "static") continue;
    auto p = partita::make_policy(name);
    auto r = req(10, 4);
    r.min_chunk = 9;
    EXPECT_GE(p->chunk_size(r), 9u) << name;
  }
}

}  // namespace

namespace {

TEST(Scheduler_Policy, AWorkerHoldingItsShareGetsOnlyTheFloor) {
  // Prefetched chunks must not be the largest ones: beyond its threads' share a worker gets min_chunk.
  for (const char* name : {"guided", "factoring", "adaptive"}) {
    auto p = partita::make_policy(name);
    auto r = req(1000, 4);
    r.worker_threads = 1;
    const auto first = p->chunk_size(r);
    EXPECT_GT(first, 1u) << name;
    r.worker_unfinished = first;  // it holds its one thread's share now
    r.min_chunk = 2;
    EXPECT_EQ(p->chunk_size(r), 2u) << name << ": the prefetched chunk is the floor";
  }
}

TEST(Scheduler_Policy, ChunkTopsUpAPartlyHeldShare) {
  auto p = partita::make_policy("guided");
  auto r = req(1000, 4);  // guided: 250 per thread
  r.worker_threads = 2;   // share 500
  r.worker_unfinished = 400;
  EXPECT_EQ(p->chunk_size(r), 100u) << "only the rest of its share";
}

}  // namespace
