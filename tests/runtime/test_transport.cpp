// MPI tests of the typed transport: ring exchanges of serialized payloads, tag filtering, ordering,
// and waits that time out.
#include <partita/runtime/transport.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <partita/runtime/error.hpp>

#include "mpi_test_env.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

enum class tag : int { ping = 1, data = 2, text = 3, never_sent = 4, order = 5 };

struct record {
  partita::partition_id partition{0};
  std::string name;
  std::vector<std::int64_t> values;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& partition& name& values;
  }
};

// Each test talks on its own duplicate of the session's communicator, so no message leaks between tests.
class Runtime_Transport : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& s = partita::testing::test_session();
    PARTITA_MPI(MPI_Comm_dup(s.comm(), &comm_));
    rank_ = s.rank().value;
    size_ = s.size();
    next_ = partita::rank_t{(rank_ + 1) % size_};
    prev_ = partita::rank_t{(rank_ + size_ - 1) % size_};
  }
  void TearDown() override {
    PARTITA_MPI(MPI_Barrier(comm_));
    MPI_Comm_free(&comm_);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  partita::rank_t next_, prev_;
};

partita::bytes pattern(std::size_t n, int seed) {
  partita::bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed) * 7) & 0xFF);
  return b;
}

TEST_F(Runtime_Transport, RingOfVariedSizes) {
  partita::transport<tag> t(comm_);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{1} << 20}) {
    SCOPED_TRACE("payload bytes " + std::to_string(n));
    t.send_bytes(next_, tag::data, pattern(n, rank_));
    auto m = t.wait(tag::data, 20s);
    ASSERT_TRUE(m.has_value()) << "no message within 20 s";
    EXPECT_EQ(m->source, prev_);
    EXPECT_EQ(m->tag, tag::data);
    ASSERT_EQ(m->payload.size(), n);
    EXPECT_TRUE(m->payload == pattern(n, prev_.value)) << "payload corrupted";
  }
  EXPECT_TRUE(t.flush(10s));
  EXPECT_EQ(t.pending_sends(), 0u);
}

TEST_F(Runtime_Transport, RecycledPayloadIsReusedWithoutChangingWhatArrives) {
  // A loop that gives each payload back receives into the same buffer: no allocation per message, and a smaller
  // message after a larger one still arrives whole and exact (the buffer is resized, not left at its old size).
  partita::transport<tag> t(comm_);
  t.send_bytes(next_, tag::data, pattern(4096, rank_));
  auto first = t.wait(tag::data, 20s);
  ASSERT_TRUE(first.has_value()) << "no message within 20 s";
  ASSERT_TRUE(first->payload == pattern(4096, prev_.value)) << "payload corrupted";
  const auto* buffer = first->payload.data();
  t.recycle(std::move(first->payload));
  t.send_bytes(next_, tag::data, pattern(100, rank_ + 1));
  auto second = t.wait(tag::data, 20s);
  ASSERT_TRUE(second.has_value()) << "no message within 20 s";
  ASSERT_EQ(second->payload.size(), 100u);
  EXPECT_TRUE(second->payload == pattern(100, prev_.value + 1)) << "payload corrupted";
  EXPECT_EQ(second->payload.data(), buffer) << "the recycled buffer was not reused";
  EXPECT_GE(second->payload.capacity(), 4096u);
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, CompletedSendBuffersServeTheNextSends) {
  // A loop that encodes each payload into send_buffer() reuses the buffers of sends that completed: no allocation
  // per message, and what arrives is exactly what was encoded (the buffer comes back empty).
  partita::transport<tag> t(comm_);
  EXPECT_TRUE(t.send_buffer().empty()) << "nothing sent yet";
  auto first = pattern(4096, rank_);
  const auto* buffer = first.data();
  t.send_bytes(next_, tag::data, std::move(first));
  auto got = t.wait(tag::data, 20s);
  ASSERT_TRUE(got.has_value()) << "no message within 20 s";
  ASSERT_TRUE(t.flush(10s));
  auto next = t.send_buffer();
  EXPECT_EQ(next.data(), buffer) << "the completed send's buffer was not kept";
  EXPECT_TRUE(next.empty());
  EXPECT_GE(next.capacity(), 4096u);
  EXPECT_TRUE(t.send_buffer().empty() && t.send_buffer().capacity() == 0) << "one send, one buffer";
  const auto small = pattern(100, rank_ + 1);
  next.insert(next.end(), small.begin(), small.end());
  t.send_bytes(next_, tag::data, std::move(next));
  auto second = t.wait(tag::data, 20s);
  ASSERT_TRUE(second.has_value()) << "no message within 20 s";
  ASSERT_EQ(second->payload.size(), 100u);
  EXPECT_TRUE(second->payload == pattern(100, prev_.value + 1)) << "payload corrupted";
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, RingOfSerializedValues) {
  partita::transport<tag> t(comm_);
  record r{partita::partition_id{static_cast<std::uint64_t>(rank_) * 10}, "from " + std::to_string(rank_), {}};
  r.values.resize(1 << 17);  // 1 MiB of int64
  for (std::size_t i = 0; i < r.values.size(); ++i) r.values[i] = static_cast<std::int64_t>(i) * (rank_ + 1);
  t.send(next_, tag::data, r);
  t.send(next_, tag::text, std::string("hello ") + std::to_string(rank_));
  t.send(next_, tag::ping, partita::rank_t{rank_});
  t.send(next_, tag::text, std::string());

  auto m = t.wait(tag::data, 20s);
  ASSERT_TRUE(m.has_value());
  auto got = m->as<record>();
  EXPECT_EQ(got.partition, partita::partition_id{static_cast<std::uint64_t>(prev_.value) * 10});
  EXPECT_EQ(got.name, "from " + std::to_string(prev_.value));
  ASSERT_EQ(got.values.size(), std::size_t{1} << 17);
  EXPECT_EQ(got.values.back(), static_cast<std::int64_t>(got.values.size() - 1) * (prev_.value + 1));

  m = t.wait(tag::text, 20s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->as<std::string>(), "hello " + std::to_string(prev_.value));
  m = t.wait(tag::ping, 20s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->as<partita::rank_t>(), prev_);
  m = t.wait(tag::text, 20s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->as<std::string>(), "");
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, MessagesFromOneSenderArriveInOrder) {
  partita::transport<tag> t(comm_);
  constexpr int count = 200;
  for (int i = 0; i < count; ++i) t.send(next_, tag::order, i);
  for (int i = 0; i < count; ++i) {
    auto m = t.wait(20s);
    ASSERT_TRUE(m.has_value()) << "message " << i;
    EXPECT_EQ(m->tag, tag::order);
    ASSERT_EQ(m->as<int>(), i);
  }
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, WaitTimesOutWithinBoundedTime) {
  partita::transport<tag> t(comm_);
  for (auto timeout : {0ms, 50ms, 300ms}) {
    const auto start = clock_type::now();
    auto m = t.wait(tag::never_sent, timeout);
    const auto took = clock_type::now() - start;
    EXPECT_FALSE(m.has_value());
    EXPECT_GE(took, timeout);
    EXPECT_LT(took, timeout + 2s) << "wait overran its timeout";
  }
  const auto start = clock_type::now();
  EXPECT_FALSE(t.wait(100ms).has_value());  // any tag: nothing was sent on this communicator
  EXPECT_LT(clock_type::now() - start, 2100ms);
  EXPECT_FALSE(t.poll().has_value());
}

TEST_F(Runtime_Transport, PollWithTagReceivesOnlyThatTag) {
  partita::transport<tag> t(comm_);
  t.send(next_, tag::data, rank_ * 100);
  // Wait (bounded) until the data message is visible here, without taking it.
  int visible = 0;
  const auto deadline = clock_type::now() + 20s;
  while (!visible && clock_type::now() < deadline) {
    PARTITA_MPI(MPI_Iprobe(prev_.value, static_cast<int>(tag::data), comm_, &visible, MPI_STATUS_IGNORE));
    t.progress();
  }
  ASSERT_TRUE(visible) << "data message never arrived";

  EXPECT_FALSE(t.poll(tag::ping).has_value()) << "poll(ping) took a data message";
  EXPECT_FALSE(t.poll(tag::text).has_value());
  EXPECT_FALSE(t.wait(tag::ping, 20ms).has_value()) << "wait(ping) took a data message";

  // Now a ping arrives behind the data: asking for the ping skips the data, which stays. (Nobody sends a ping
  // before every rank has checked that none is there: under load a fast neighbour's ping came early.)
  PARTITA_MPI(MPI_Barrier(comm_));
  t.send(next_, tag::ping, rank_);
  auto ping = t.wait(tag::ping, 20s);
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->tag, tag::ping);
  EXPECT_EQ(ping->as<int>(), prev_.value);

  auto data = t.poll(tag::data);
  ASSERT_TRUE(data.has_value()) << "the data message was lost";
  EXPECT_EQ(data->tag, tag::data);
  EXPECT_EQ(data->source, prev_);
  EXPECT_EQ(data->as<int>(), prev_.value * 100);
  EXPECT_FALSE(t.poll().has_value());
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, EveryoneSendsToEveryone) {
  // All-to-all with non-blocking sends: no rank blocks on a send, every message arrives once.
  partita::transport<tag> t(comm_);
  for (int to = 0; to < size_; ++to)
    t.send(partita::rank_t{to}, tag::data, std::vector<int>(static_cast<std::size_t>(to + 1), rank_));
  std::vector<int> seen(static_cast<std::size_t>(size_), 0);
  for (int i = 0; i < size_; ++i) {
    auto m = t.wait(tag::data, 20s);
    ASSERT_TRUE(m.has_value()) << "message " << i;
    auto v = m->as<std::vector<int>>();
    ASSERT_EQ(v.size(), static_cast<std::size_t>(rank_ + 1));
    EXPECT_EQ(v[0], m->source.value);
    ++seen[static_cast<std::size_t>(m->source.value)];
  }
  EXPECT_EQ(seen, std::vector<int>(static_cast<std::size_t>(size_), 1));
  EXPECT_TRUE(t.flush(10s));
}

TEST_F(Runtime_Transport, SendToInvalidRankThrowsMpiError) {
  partita::transport<tag> t(comm_);
  EXPECT_THROW(t.send(partita::rank_t{size_ + 3}, tag::data, 1), partita::mpi_error);
  EXPECT_EQ(t.pending_sends(), 0u);
}

}  // namespace
