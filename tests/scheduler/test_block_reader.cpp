// Scheduler_BlockReader: the rank's reader thread reads input blocks ahead of the kernels, in queue order, at most
// `ahead` beyond what they took; a block not read ahead is read by the kernel that needs it; failures reach it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include <partita/scheduler/map_reduce/detail/block_reader.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>

namespace {

using namespace partita;
using namespace std::chrono_literals;

/// A model with an input: partition i's block is 8 bytes holding i (read in `nap`); reading `bad` throws. Its kernel
/// returns the block's value, so a kernel that got another partition's block is seen.
class input_model final : public map_job_model {
 public:
  explicit input_model(std::uint64_t n, std::uint64_t bad = ~0ull, std::chrono::microseconds nap = 200us)
      : n_(n), bad_(bad), nap_(nap) {}
  const std::string& name() const override { return name_; }
  std::uint64_t partition_count() const override { return n_; }
  double cost_hint(partition_id) const override { return 0; }
  const parameters& params() const override { return params_; }
  bool has_input() const override { return true; }
  void read_input(partition_id id, input_block& into) override {
    if (id.value == bad_) throw std::runtime_error("unreadable block");
    std::this_thread::sleep_for(nap_);
    into.type = data_type::uint64;
    into.first_row = id.value;
    into.shape = {1};
    into.data.resize(8);
    std::memcpy(into.data.data(), &id.value, 8);
    ++reads;
  }
  void run(partition_id, context& ctx, bytes& out) override {
    const auto block = ctx.input<std::uint64_t>();
    serialize_into(out, block.data[0]);
  }
  void fold(std::span<const std::byte>) override {}
  void reset() override {}
  bytes accumulator() const override { return {}; }
  void restore(std::span<const std::byte>) override {}
  std::string describe(std::span<const std::byte>) const override { return ""; }
  std::atomic<int> reads{0};

 private:
  std::string name_ = "input";
  std::uint64_t n_, bad_;
  std::chrono::microseconds nap_;
  parameters params_;
};

TEST(Scheduler_BlockReader, ReadsAheadInOrderAndHandsOutEachBlockOnce) {
  input_model m(20);
  detail::block_reader r(m, 3);
  r.enqueue({{0, 20}});
  std::this_thread::sleep_for(50ms);  // the reader fills its read-ahead (3 blocks) and waits
  EXPECT_EQ(m.reads.load(), 3);
  for (std::uint64_t id = 0; id < 20; ++id) {
    auto b = r.take(partition_id{id});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->first_row, id);
  }
  const auto st = r.stats();
  EXPECT_EQ(st.partitions, 20u);
  EXPECT_EQ(st.bytes, 160u);
  EXPECT_GE(st.hits, 3u);
  EXPECT_EQ(m.reads.load(), 20);
}

TEST(Scheduler_BlockReader, ReusesTheBufferOfABlockTheKernelsLetGo) {
  input_model m(2);
  detail::block_reader r(m, 1);
  r.enqueue({{0, 1}});
  auto first = r.take(partition_id{0});
  const std::byte* buffer = first->data.data();
  first.reset();  // the kernel is done with it: its buffer becomes a spare
  r.enqueue({{1, 2}});
  const auto second = r.take(partition_id{1});
  EXPECT_EQ(second->first_row, 1u);
  EXPECT_EQ(second->data.data(), buffer);  // read into the spare, no fresh allocation
  std::uint64_t value = 0;
  std::memcpy(&value, second->data.data(), 8);
  EXPECT_EQ(value, 1u);
}

TEST(Scheduler_BlockReader, AKernelReadsABlockNotReadAheadItself) {
  input_model m(100);
  detail::block_reader r(m, 1);
  r.enqueue({{0, 100}});
  // Partition 90 is far behind the read-ahead: taken at once, read on this thread, and not read again later.
  auto b = r.take(partition_id{90});
  EXPECT_EQ(b->first_row, 90u);
  for (std::uint64_t id = 0; id < 100; ++id) {
    if (id != 90) {
      EXPECT_EQ(r.take(partition_id{id})->first_row, id);
    }
  }
  EXPECT_EQ(m.reads.load(), 100);
}

TEST(Scheduler_BlockReader, AFailedReadReachesTheKernelOfThatPartition) {
  input_model m(5, 2);
  detail::block_reader r(m, 8);
  r.enqueue({{0, 5}});
  EXPECT_EQ(r.take(partition_id{0})->first_row, 0u);
  EXPECT_EQ(r.take(partition_id{1})->first_row, 1u);
  EXPECT_THROW(r.take(partition_id{2}), std::runtime_error);
  EXPECT_EQ(r.take(partition_id{3})->first_row, 3u);
}

TEST(Scheduler_BlockReader, TheExecutorGivesEveryKernelItsOwnBlock) {
  input_model m(400, ~0ull, 20us);
  executor ex(m, 3, 1, false, std::chrono::steady_clock::now(), rank_t{0}, 2);
  // Chunks the arena may run in any order: no order can deadlock the reader.
  for (std::uint64_t b = 0; b < 400; b += 25) ex.submit({{b, b + 25}});
  ex.wait_idle();
  result_batch got;
  ex.drain(got);
  ASSERT_EQ(got.size(), 400u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(deserialize<std::uint64_t>(got.result(i)), got.ids[i]);
  EXPECT_EQ(ex.read_stats().partitions, 400u);
  EXPECT_EQ(m.reads.load(), 400);
}

// A partition taken back from the rank is dropped from the reader: read ahead or not, it neither holds a slot of
// the read-ahead nor is read later; the executor's kernels still get their own blocks.
TEST(Scheduler_BlockReader, ADroppedPartitionFreesItsSlotAndIsNotRead) {
  input_model m(20);
  detail::block_reader r(m, 2);
  r.enqueue({{0, 10}});
  std::this_thread::sleep_for(50ms);  // 0 and 1 are read ahead; the reader waits for a slot
  EXPECT_EQ(m.reads.load(), 2);
  r.drop({{1, 2}, {5, 6}});  // 1 was read ahead: its slot frees; 5 is still queued: never read
  for (std::uint64_t id : {0, 2, 3, 4, 6, 7, 8, 9}) EXPECT_EQ(r.take(partition_id{id})->first_row, id);
  EXPECT_EQ(m.reads.load(), 9);  // 5 was not read
}

TEST(Scheduler_BlockReader, TakenBackPartitionsDoNotStallTheReader) {
  input_model m(200, ~0ull, 100us);
  executor ex(m, 1, 1, false, std::chrono::steady_clock::now(), rank_t{0}, 1);
  ex.submit({{0, 100}});
  ex.take_back({{20, 100}});
  ex.submit({{100, 200}});  // behind the skipped ones: the reader must still come to them
  ex.wait_idle();
  result_batch got;
  ex.drain(got);
  EXPECT_EQ(got.size(), 120u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(deserialize<std::uint64_t>(got.result(i)), got.ids[i]);
  EXPECT_EQ(ex.skipped(), 80u);
  EXPECT_LE(m.reads.load(), 123);  // what was read ahead when they were taken back, at most, of the skipped ones
}

}  // namespace
