// Scheduler_Protocol: messages round-trip; malformed ones are errors, not crashes.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>

namespace {

using namespace partita;

TEST(Scheduler_Protocol, RequestRoundTrips) {
  result_batch r;
  const std::string payloads[] = {"", "a", "hello"};
  for (std::uint64_t i = 0; i < 3; ++i) {
    r.ids.push_back(i * 10);
    r.nanos.push_back(i + 1);
    for (char c : payloads[i]) r.data.push_back(static_cast<std::byte>(c));
    r.ends.push_back(static_cast<std::uint32_t>(r.data.size()));
  }
  auto m = detail::decode_request(detail::encode_request(5, r));
  EXPECT_EQ(m.want, 5u);
  EXPECT_EQ(m.results.ids, r.ids);
  EXPECT_EQ(m.results.nanos, r.nanos);
  ASSERT_EQ(m.results.size(), 3u);
  EXPECT_EQ(m.results.result(2).size(), 5u);
  EXPECT_EQ(m.results.result(0).size(), 0u);
}

TEST(Scheduler_Protocol, RequestCarriesFoldedBlocksAfterItsResults) {
  result_batch r, blocks;
  r.ids = {5};
  r.nanos = {9};
  r.data = {std::byte{1}};
  r.ends = {1};
  blocks.ids = {2, 7};  // block indices
  blocks.nanos = {64, 80};
  blocks.data = {std::byte{3}, std::byte{4}, std::byte{5}};
  blocks.ends = {1, 3};
  const auto wire = detail::encode_request(3, r, blocks);
  const auto m = detail::decode_request(wire);
  EXPECT_EQ(m.want, 3u);
  EXPECT_EQ(m.results.ids, r.ids);
  EXPECT_EQ(m.blocks.ids, blocks.ids);
  EXPECT_EQ(m.blocks.nanos, blocks.nanos);
  ASSERT_EQ(m.blocks.size(), 2u);
  EXPECT_EQ(m.blocks.result(1).size(), 2u);
  for (std::size_t cut = 0; cut < wire.size(); ++cut)
    EXPECT_THROW(detail::decode_request(std::span<const std::byte>(wire.data(), cut)), partita::error) << cut;
  EXPECT_TRUE(detail::decode_request(detail::encode_request(1, r)).blocks.empty());  // a worker's: none
}

TEST(Scheduler_Protocol, EncodingIntoAUsedBufferGivesTheSameBytes) {
  // The hot loops encode into the buffer of a send that completed (transport::send_buffer): what it held before
  // must not leak into the message.
  result_batch r;
  r.ids = {5, 6};
  r.nanos = {9, 10};
  r.data = {std::byte{1}, std::byte{2}};
  r.ends = {1, 2};
  bytes used(300, std::byte{0xAB});
  detail::encode_request(used, 1, r);
  EXPECT_EQ(used, detail::encode_request(1, r));
  const std::vector<std::vector<id_range>> chunks{{{3, 4}}};
  detail::encode_assign(used, 1, chunks);
  EXPECT_EQ(used, detail::encode_assign(1, chunks));
  EXPECT_EQ(detail::decode_assign(used).chunks, chunks);
}

TEST(Scheduler_Protocol, FailoverMessagesRoundTripAndRejectGarbage) {
  EXPECT_EQ(detail::decode_number(detail::encode_number(7)), 7u);
  result_batch r;
  r.ids = {4, 9};
  r.nanos = {1, 2};
  r.data = {std::byte{1}, std::byte{2}, std::byte{3}};
  r.ends = {1, 3};
  auto m = detail::decode_report(detail::encode_report(3, r, {{10, 12}, {20, 21}}, 5));
  EXPECT_EQ(m.term, 3u);
  EXPECT_EQ(m.dropped, 5u);
  EXPECT_EQ(m.running, (std::vector<id_range>{{10, 12}, {20, 21}}));
  EXPECT_EQ(m.results.ids, r.ids);
  EXPECT_EQ(m.results.result(1).size(), 2u);
  auto bytes = detail::encode_report(3, r, {{12, 10}}, 0);  // a backwards range
  EXPECT_THROW(detail::decode_report(bytes), partita::error);
  bytes = detail::encode_report(3, r, {}, 0);
  bytes.resize(bytes.size() - 1);  // truncated
  EXPECT_THROW(detail::decode_report(bytes), partita::error);
  EXPECT_THROW(detail::decode_number({}), partita::error);
}

TEST(Scheduler_Protocol, AssignAndStatsRoundTrip) {
  std::vector<std::vector<id_range>> chunks{{{0, 5}}, {{7, 8}, {10, 12}}};
  auto a = detail::decode_assign(detail::encode_assign(3, chunks));
  EXPECT_EQ(a.answers, 3u);
  EXPECT_EQ(a.chunks, chunks);
  detail::worker_stats s{1.5, 42, 2, {{1, 0, 10, 20}}, -1, 0, {}, 0, {}, {}};
  auto t = detail::decode_stats(detail::encode_stats(s));
  EXPECT_EQ(t.partitions, 42u);
  ASSERT_EQ(t.trace.size(), 1u);
  EXPECT_EQ(t.trace[0].end_ns, 20);
}

TEST(Scheduler_Protocol, TruncatedOrInconsistentMessagesThrow) {
  result_batch r;
  r.ids = {1};
  r.nanos = {1};
  r.ends = {4};
  r.data.resize(4);
  auto bytes = detail::encode_request(1, r);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    partita::bytes part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_THROW(detail::decode_request(part), partita::error) << "cut at " << cut;
  }
  r.ends = {9};  // past the data
  EXPECT_THROW(detail::decode_request(detail::encode_request(1, r)), partita::error);
}

TEST(Scheduler_Protocol, FailureAbortAndFinishRoundTrip) {
  auto f = detail::decode_failure(detail::encode_failure({partita::partition_id{123}, "bad input"}));
  EXPECT_EQ(f.id, partita::partition_id{123});
  EXPECT_EQ(f.message, "bad input");
  EXPECT_EQ(detail::decode_abort(detail::encode_abort("job failed")), "job failed");
  const partita::bytes acc{std::byte{1}, std::byte{2}, std::byte{3}};
  auto fin = detail::decode_finish(detail::encode_finish(detail::finish_status::checkpointed, acc));
  EXPECT_EQ(fin.status, detail::finish_status::checkpointed);
  EXPECT_EQ(fin.accumulator, acc);
}

TEST(Scheduler_Protocol, BadFinishAndTruncatedFailureThrow) {
  auto fin = detail::encode_finish(detail::finish_status::completed, {});
  fin[0] = std::byte{7};  // no such status
  EXPECT_THROW(detail::decode_finish(fin), partita::error);
  auto failure = detail::encode_failure({partita::partition_id{5}, "message"});
  for (std::size_t cut = 0; cut < failure.size(); ++cut) {
    partita::bytes part(failure.begin(), failure.begin() + static_cast<long>(cut));
    EXPECT_THROW(detail::decode_failure(part), partita::error) << "cut at " << cut;
  }
}

}  // namespace
