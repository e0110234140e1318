// Scheduler_Protocol: messages round-trip; malformed ones are errors, not crashes.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/protocol.hpp>

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

TEST(Scheduler_Protocol, AssignAndStatsRoundTrip) {
  std::vector<std::vector<id_range>> chunks{{{0, 5}}, {{7, 8}, {10, 12}}};
  auto a = detail::decode_assign(detail::encode_assign(3, chunks));
  EXPECT_EQ(a.answers, 3u);
  EXPECT_EQ(a.chunks, chunks);
  detail::worker_stats s{1.5, 42, 2, {{1, 0, 10, 20}}};
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

}  // namespace
