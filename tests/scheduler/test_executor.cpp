// Scheduler_Executor: chunks run on the arena; results reach the comm thread while a long chunk still runs.
#include <gtest/gtest.h>

#include <oneapi/tbb/parallel_for.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <partita/scheduler/map_reduce/executor.hpp>

namespace {

using namespace partita;
using namespace std::chrono_literals;

/// A model whose partitions sleep `nap` (1 ms) and return their id; throws on partition `bad`. With `inner` > 0 a
/// partition instead runs a tbb::parallel_for of `inner` naps inside the arena (context.hpp allows it, as
/// examples/histogram.cpp does) and returns its id plus the sum of the loop's indices.
class sleepy_model final : public map_job_model {
 public:
  explicit sleepy_model(std::uint64_t n, std::uint64_t bad = ~0ull, std::chrono::microseconds nap = 1ms,
                        std::uint64_t inner = 0)
      : n_(n), bad_(bad), nap_(nap), inner_(inner) {}
  const std::string& name() const override { return name_; }
  std::uint64_t partition_count() const override { return n_; }
  double cost_hint(partition_id) const override { return 0; }
  const parameters& params() const override { return params_; }
  void run(partition_id id, context&, bytes& out) override {
    if (id.value == bad_) throw std::runtime_error("bad partition");
    std::atomic<std::uint64_t> sum{0};
    if (inner_ > 0) {
      tbb::parallel_for(std::uint64_t{0}, inner_, [&](std::uint64_t i) {
        std::this_thread::sleep_for(nap_);
        sum += i;
      });
    } else if (nap_.count() > 0) {
      std::this_thread::sleep_for(nap_);
    }
    serialize_into(out, id.value + sum.load());
  }
  void fold(std::span<const std::byte>) override {}
  void reset() override {}
  bytes accumulator() const override { return {}; }
  void restore(std::span<const std::byte>) override {}
  std::string describe(std::span<const std::byte>) const override { return ""; }

 private:
  std::string name_ = "sleepy";
  std::uint64_t n_, bad_;
  std::chrono::microseconds nap_;
  std::uint64_t inner_;
  parameters params_;
};

TEST(Scheduler_Executor, ResultsOfALongChunkArriveWhileItRuns) {
  sleepy_model m(2000);
  executor ex(m, 1, 1, false, std::chrono::steady_clock::now());
  ex.submit({{0, 2000}});  // one chunk of about 2 s
  std::this_thread::sleep_for(300ms);
  result_batch got;
  EXPECT_TRUE(ex.drain(got)) << "finished partitions must not wait for the end of their chunk";
  EXPECT_GT(got.size(), 50u);
  EXPECT_EQ(ex.in_flight(), 1);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(deserialize<std::uint64_t>(got.result(i)), got.ids[i]);
  ex.cancel();
  ex.wait_idle();
}

TEST(Scheduler_Executor, RunsEveryChunkAndReportsEachPartitionOnce) {
  sleepy_model m(300);
  executor ex(m, 3, 1, true, std::chrono::steady_clock::now());
  for (std::uint64_t b = 0; b < 300; b += 30) ex.submit({{b, b + 30}});
  ex.wait_idle();
  result_batch got;
  ex.drain(got);
  ASSERT_EQ(got.size(), 300u);
  std::vector<bool> seen(300, false);
  for (auto id : got.ids) {
    EXPECT_FALSE(seen[id]);
    seen[id] = true;
  }
  EXPECT_EQ(ex.take_trace().size(), 300u);
  EXPECT_GT(ex.busy_seconds(), 0.25);
}

/// Waits until `ex` is idle and counts the results it gave for each partition id below `n`.
std::vector<int> times_each_ran(executor& ex, std::uint64_t n) {
  ex.wait_idle();
  EXPECT_EQ(ex.in_flight(), 0);
  result_batch got;
  ex.drain(got);
  std::vector<int> seen(n, 0);
  for (auto id : got.ids) ++seen.at(id);
  return seen;
}

// A thread with no chunk of its own claims the unstarted partitions of a sibling's chunk: one chunk of 40
// partitions on 2 threads runs on both, each partition once (docs/design.md, "Threads of a rank share their chunks").
TEST(Scheduler_Executor, AnIdleThreadHelpsWithASiblingsChunk) {
  sleepy_model m(60, ~0ull, 2ms);
  executor ex(m, 2, 1, true, std::chrono::steady_clock::now());
  ex.submit({{0, 10}, {10, 10}, {30, 60}});  // 40 partitions in three ranges (one empty)
  EXPECT_EQ(ex.in_flight(), 1);
  const auto seen = times_each_ran(ex, 60);
  for (std::uint64_t id = 0; id < 60; ++id) EXPECT_EQ(seen[id], (id < 10 || id >= 30) ? 1 : 0) << "partition " << id;
  const auto trace = ex.take_trace();
  ASSERT_EQ(trace.size(), 40u);
  std::set<int> lanes;
  for (const auto& s : trace) lanes.insert(s.thread);
  EXPECT_EQ(lanes.size(), 2u) << "the second thread must take partitions of the only chunk";
}

// Chunks arrive while the other threads help with a long one (a helper goes back to a waiting chunk): every
// partition runs once and every chunk ends.
TEST(Scheduler_Executor, EveryPartitionRunsOnceWhileHelpersComeAndGo) {
  sleepy_model m(400, ~0ull, 1ms);
  executor ex(m, 3, 1, false, std::chrono::steady_clock::now());
  ex.submit({{0, 100}});
  for (std::uint64_t b = 100; b < 400; b += 20) {
    std::this_thread::sleep_for(3ms);  // the others are helping with the first chunk by now
    ex.submit({{b, b + 20}});
  }
  const auto seen = times_each_ran(ex, 400);
  for (std::uint64_t id = 0; id < 400; ++id) EXPECT_EQ(seen[id], 1) << "partition " << id;
  EXPECT_EQ(ex.partitions_run(), 400u);
}

// The scheduler took the back of a chunk to another rank (docs/design.md, "Taking back a backlog"): the partitions
// not started yet are skipped, with no result; one handed back here later runs again.
TEST(Scheduler_Executor, PartitionsTakenBackAreSkippedUnlessHandedBackLater) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    sleepy_model m(60, ~0ull, 2ms);
    executor ex(m, threads, 1, false, std::chrono::steady_clock::now());
    ex.submit({{0, 40}});
    ex.take_back({{30, 40}, {50, 60}});  // 50..59 were never here: nothing to skip
    auto seen = times_each_ran(ex, 60);
    for (std::uint64_t id = 0; id < 60; ++id) EXPECT_EQ(seen[id], id < 30 ? 1 : 0) << "partition " << id;
    EXPECT_EQ(ex.skipped(), 10u);
    ex.submit({{35, 36}, {50, 52}});  // back here after all (its taker was lost): they run
    seen = times_each_ran(ex, 60);
    for (std::uint64_t id = 0; id < 60; ++id)
      EXPECT_EQ(seen[id], id == 35 || id == 50 || id == 51 ? 1 : 0) << "partition " << id;
    EXPECT_EQ(ex.skipped(), 10u);
  }
}

// A thread waiting inside a kernel's own parallel_for must not start another chunk (or help one) meanwhile: that
// chunk's partitions would share the thread's unpublished results with the interrupted one.
TEST(Scheduler_Executor, AKernelsOwnParallelLoopDoesNotInterleaveChunks) {
  sleepy_model m(400, ~0ull, 20us, 64);  // each partition: a parallel_for of 64 naps of 20 us
  executor ex(m, 3, 1, false, std::chrono::steady_clock::now());
  for (std::uint64_t b = 0; b < 400; b += 5) ex.submit({{b, b + 5}});
  ex.wait_idle();
  result_batch got;
  ex.drain(got);
  std::vector<int> seen(400, 0);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ++seen.at(got.ids[i]);
    EXPECT_EQ(deserialize<std::uint64_t>(got.result(i)), got.ids[i] + 2016);
  }
  for (std::uint64_t id = 0; id < 400; ++id) EXPECT_EQ(seen[id], 1) << "partition " << id;
}

TEST(Scheduler_Executor, TinyChunksRunOnTheCallerOnceTheirTimeIsMeasured) {
  sleepy_model m(100, ~0ull, 0us);  // partitions of well under a microsecond
  executor ex(m, 1, 1, false, std::chrono::steady_clock::now());
  ex.submit({{0, 1}});  // nothing measured yet: on the arena
  ex.wait_idle();
  EXPECT_EQ(ex.ran_inline(), 0u);
  for (std::uint64_t id = 1; id < 100; ++id) {
    const auto before = ex.ran_inline();
    ex.submit({{id, id + 1}});
    if (ex.ran_inline() > before) {
      EXPECT_EQ(ex.in_flight(), 0) << "a chunk run on the caller is done when submit returns";
    }
    ex.wait_idle();  // nothing in flight for the next one (a preempted chunk may still send a few to the arena)
  }
  EXPECT_GT(ex.ran_inline(), 0u) << "mean chunk time " << ex.mean_chunk_time().count() << " ns";
  result_batch got;
  ex.drain(got);
  ASSERT_EQ(got.size(), 100u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(deserialize<std::uint64_t>(got.result(i)), got.ids[i]);
}

TEST(Scheduler_Executor, AThrowingKernelIsReportedWithItsPartition) {
  sleepy_model m(100, 42);
  executor ex(m, 2, 1, false, std::chrono::steady_clock::now());
  ex.submit({{0, 50}});
  ex.submit({{50, 100}});
  ex.wait_idle();
  auto f = ex.failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->id, partita::partition_id{42});
  EXPECT_EQ(f->message, "bad partition");
}

// The communication thread sleeps in wait_for_event while kernels run; results wake it, and with nothing new it
// sleeps out its timeout (no spinning: the wait costs almost no CPU).
TEST(Scheduler_Executor, ResultsWakeTheCommunicationThread) {
  sleepy_model m(30);
  executor ex(m, 1, 1, false, std::chrono::steady_clock::now());
  const auto seen = ex.events();
  EXPECT_FALSE(ex.wait_for_event(seen, 20ms)) << "nothing ran: it must time out";
  const auto t0 = std::chrono::steady_clock::now();
  ex.submit({{0, 1}});  // one partition of 1 ms
  EXPECT_TRUE(ex.wait_for_event(seen, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ex.wait_idle();
  EXPECT_NE(ex.events(), seen);
  result_batch got;
  EXPECT_TRUE(ex.drain(got));
  EXPECT_EQ(got.size(), 1u);
  EXPECT_GT(ex.mean_chunk_time().count(), 0);
  EXPECT_GE(ex.kernel_cpu_seconds(), 0.0);
}

}  // namespace
