// Scheduler_BlockWriter: the rank's writer thread writes output blocks, makes them durable in batches (one sync for the
// blocks queued meanwhile) and releases a partition's result only after a sync that follows its block's write; memory
// is bounded; cancelled blocks are not written; failures reach the executor; buffers are reused.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <partita/scheduler/map_reduce/detail/block_writer.hpp>

namespace {

using namespace partita;
using namespace std::chrono_literals;

/// A model with an output: partition i's block is 8 bytes. It logs every write ("w<id>") and sync ("s"); a sync can
/// be held at a gate; writing `bad` throws.
class output_model final : public map_job_model {
 public:
  const std::string& name() const override { return name_; }
  std::uint64_t partition_count() const override { return 100; }
  double cost_hint(partition_id) const override { return 0; }
  const parameters& params() const override { return params_; }
  void run(partition_id, context&, bytes&) override {}
  void fold(std::span<const std::byte>) override {}
  void reset() override {}
  bytes accumulator() const override { return {}; }
  void restore(std::span<const std::byte>) override {}
  std::string describe(std::span<const std::byte>) const override { return ""; }
  bool has_output() const override { return true; }
  void shape_output(partition_id id, input_block& into) const override {
    into.first_row = id.value;
    into.shape = {1};
    into.data.clear();
    into.data.resize(8);
  }
  void write_output(partition_id id, const input_block& block) override {
    if (id.value == bad) throw std::runtime_error("disk full");
    std::uint64_t v = 0;
    std::memcpy(&v, block.data.data(), 8);
    EXPECT_EQ(v, id.value * 10) << "the block written is not the one filled";
    log("w" + std::to_string(id.value));
  }
  void sync_output() override {
    {
      std::unique_lock lock(m_);
      in_sync_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      in_sync_ = false;
    }
    log("s");
  }
  void hold_syncs() {
    std::lock_guard lock(m_);
    open_ = false;
  }
  void open_syncs() {
    {
      std::lock_guard lock(m_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait_in_sync() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return in_sync_; });
  }
  void log(std::string e) {
    std::lock_guard lock(m_);
    events.push_back(std::move(e));
  }
  std::vector<std::string> events_copy() {
    std::lock_guard lock(m_);
    return events;
  }
  std::uint64_t bad = ~0ull;
  std::vector<std::string> events;

 private:
  std::string name_ = "output";
  parameters params_;
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = true, in_sync_ = false;
};

/// What the writer released: results (logged in the model as "r<id>") and chunk ends; failures.
struct sink {
  explicit sink(output_model& m) : model(m) {}
  output_model& model;
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> released;
  std::vector<std::string> results;
  int chunks = 0;
  std::vector<kernel_failure> failures;
  std::atomic<bool> cancel{false};

  detail::block_writer make(std::size_t capacity) {
    return detail::block_writer(
        model, capacity, cancel,
        [this](result_batch& b, int ended) {
          std::lock_guard lock(m);
          for (std::size_t i = 0; i < b.size(); ++i) {
            model.log("r" + std::to_string(b.ids[i]));
            released.push_back(b.ids[i]);
            const auto r = b.result(i);
            results.emplace_back(reinterpret_cast<const char*>(r.data()), r.size());
          }
          chunks += ended;
          cv.notify_all();
        },
        [this](kernel_failure f) {
          std::lock_guard lock(m);
          failures.push_back(std::move(f));
          cancel = true;
          cv.notify_all();
        });
  }
  void wait_chunks(int n) {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return chunks >= n; })) << "the writer did not end " << n << " chunks";
  }
};

void fill_and_submit(detail::block_writer& w, std::uint64_t id) {
  auto block = w.acquire(partition_id{id});
  const std::uint64_t v = id * 10;
  std::memcpy(block->data.data(), &v, 8);
  w.submit(partition_id{id}, 1, std::move(block), bytes{std::byte{'k'}});
}

// Guaranteed copy elision builds the writer in place (it is neither copyable nor movable).
TEST(Scheduler_BlockWriter, ReleasesEachResultOnlyAfterASyncThatFollowsItsWrite) {
  output_model m;
  sink s(m);
  auto w = s.make(3);
  for (std::uint64_t id = 0; id < 12; ++id) fill_and_submit(w, id);
  w.end_chunk();
  s.wait_chunks(1);
  const auto ev = m.events_copy();
  ASSERT_EQ(s.released.size(), 12u);
  for (std::uint64_t id = 0; id < 12; ++id) {
    const auto wi = std::find(ev.begin(), ev.end(), "w" + std::to_string(id));
    const auto ri = std::find(ev.begin(), ev.end(), "r" + std::to_string(id));
    ASSERT_NE(wi, ev.end());
    ASSERT_NE(ri, ev.end());
    EXPECT_NE(std::find(wi, ri, "s"), ri) << "partition " << id << "'s result was released before its block was synced";
  }
  for (const auto& r : s.results) EXPECT_EQ(r, "k") << "the result is not the one submitted";
  EXPECT_EQ(s.released, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_LE(w.syncs(), 12u);
  EXPECT_TRUE(s.failures.empty());
}

TEST(Scheduler_BlockWriter, BlocksQueuedDuringASyncShareTheNextOne) {
  output_model m;
  sink s(m);
  auto w = s.make(4);
  m.hold_syncs();
  fill_and_submit(w, 0);
  m.wait_in_sync();  // block 0 written, its sync held: 1 and 2 queue behind it
  fill_and_submit(w, 1);
  fill_and_submit(w, 2);
  w.end_chunk();
  {
    std::lock_guard lock(s.m);
    EXPECT_TRUE(s.released.empty()) << "released before the sync";
  }
  m.open_syncs();
  s.wait_chunks(1);
  EXPECT_EQ(w.syncs(), 2u) << "blocks 1 and 2 should share one fdatasync";
  EXPECT_EQ(m.events_copy(), (std::vector<std::string>{"w0", "s", "r0", "w1", "w2", "s", "r1", "r2"}));
}

TEST(Scheduler_BlockWriter, HoldsAtMostCapacityBlocksWhileTheWriterIsBehind) {
  output_model m;
  sink s(m);
  auto w = s.make(2);
  m.hold_syncs();
  fill_and_submit(w, 0);
  m.wait_in_sync();  // 0 is written (its buffer back), its sync held
  fill_and_submit(w, 1);
  auto second = w.acquire(partition_id{2});  // two out: 1 queued, 2 here
  auto third = std::async(std::launch::async, [&] { return w.acquire(partition_id{3}); });
  EXPECT_EQ(third.wait_for(100ms), std::future_status::timeout) << "a third block while two are out and queued";
  m.open_syncs();  // 1 is written: its buffer goes back, the third acquire gets it
  auto got = third.get();
  EXPECT_EQ(got->first_row, 3u);
  std::uint64_t v = 20;
  std::memcpy(second->data.data(), &v, 8);
  w.submit(partition_id{2}, 1, std::move(second), {});
  v = 30;
  std::memcpy(got->data.data(), &v, 8);
  w.submit(partition_id{3}, 1, std::move(got), {});
  w.end_chunk();
  s.wait_chunks(1);
  EXPECT_EQ(s.released.size(), 4u);
}

TEST(Scheduler_BlockWriter, ReusesTheBufferOfAWrittenBlockAndZeroesIt) {
  output_model m;
  sink s(m);
  auto w = s.make(3);
  auto first = w.acquire(partition_id{0});
  const std::byte* buffer = first->data.data();
  std::memset(first->data.data(), 0, 8);
  w.submit(partition_id{0}, 1, std::move(first), {});
  w.end_chunk();
  s.wait_chunks(1);
  auto next = w.acquire(partition_id{1});
  EXPECT_EQ(next->data.data(), buffer);
  EXPECT_EQ(next->first_row, 1u);
  for (auto b : next->data) EXPECT_EQ(b, std::byte{0});
}

TEST(Scheduler_BlockWriter, CancelledBlocksAreNotWrittenAndChunksStillEnd) {
  output_model m;
  sink s(m);
  auto w = s.make(3);
  s.cancel = true;
  fill_and_submit(w, 0);
  w.end_chunk();
  s.wait_chunks(1);
  EXPECT_TRUE(s.released.empty());
  EXPECT_TRUE(m.events_copy().empty()) << "a cancelled job's block was written or synced";
}

TEST(Scheduler_BlockWriter, AFailedWriteReachesTheExecutorAndIsNotReleased) {
  output_model m;
  m.bad = 1;
  sink s(m);
  auto w = s.make(3);
  m.hold_syncs();
  fill_and_submit(w, 0);
  m.wait_in_sync();
  fill_and_submit(w, 1);
  fill_and_submit(w, 2);
  w.end_chunk();
  m.open_syncs();
  s.wait_chunks(1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].id.value, 1u);
  EXPECT_NE(s.failures[0].message.find("disk full"), std::string::npos);
  EXPECT_EQ(s.released, std::vector<std::uint64_t>{0}) << "only the block written before the failure counts";
}

}  // namespace
