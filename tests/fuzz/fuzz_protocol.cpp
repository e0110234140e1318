// Fuzz target: every decoder of the scheduler–worker protocol on the bytes of a buggy or hostile peer.
//
// Input: one selector byte (which message, modulo 6), then the payload as it would arrive in a message:
//   0 request  1 assign  2 stats  3 failure  4 abort  5 finish   -> decode_<message> (detail/protocol.hpp)
//   a selector byte of 0xF0 or more: take_back -> decode_ranges (added with protocol 3; the byte's meaning for the
//   other messages, and so the corpus and the regressions, unchanged)
// Checks: only partita::error escapes; a decoded message is consistent (every result's bytes inside the
// data) and re-encodes to a prefix of the payload (the encoding is canonical); the heap held while
// decoding stays under 4 bytes per payload byte plus 4 KiB.
#include "fuzz_target.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>

#include "alloc_meter.hpp"

namespace partita::fuzz {

namespace {

enum class kind : unsigned { request, assign, stats, failure, abort, finish, count, take_back };

// `encoded` must equal the first bytes of `payload`.
void check_prefix(const bytes& encoded, std::span<const std::byte> payload) {
  PARTITA_FUZZ_CHECK(encoded.size() <= payload.size());
  PARTITA_FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), payload.begin()));
}

template <class T>
std::size_t heap_of(const std::vector<T>& v) {
  return v.size() * sizeof(T);
}

// Decodes `payload` as message `k`; returns the bytes the decoded message holds on the heap.
std::size_t decode(kind k, std::span<const std::byte> payload) {
  switch (k) {
    case kind::request: {
      const auto m = detail::decode_request(payload);
      const auto& r = m.results;
      for (const auto* batch : {&m.results, &m.blocks})
        for (std::size_t i = 0; i < batch->size(); ++i) {
          const auto s = batch->result(i);  // what the scheduler's commit() and commit_block() read
          PARTITA_FUZZ_CHECK(s.data() >= batch->data.data() &&
                             s.data() + s.size() <= batch->data.data() + batch->data.size());
        }
      check_prefix(detail::encode_request(m.want, r, m.blocks), payload);
      const auto& b = m.blocks;
      return heap_of(r.ids) + heap_of(r.nanos) + heap_of(r.ends) + heap_of(r.data) + heap_of(b.ids) + heap_of(b.nanos) +
             heap_of(b.ends) + heap_of(b.data);
    }
    case kind::assign: {
      const auto m = detail::decode_assign(payload);
      check_prefix(detail::encode_assign(m.answers, m.chunks), payload);
      std::size_t held = heap_of(m.chunks);
      for (const auto& c : m.chunks) held += heap_of(c);
      return held;
    }
    case kind::stats: {
      const auto s = detail::decode_stats(payload);
      check_prefix(detail::encode_stats(s), payload);
      return heap_of(s.trace);
    }
    case kind::failure: {
      const auto f = detail::decode_failure(payload);
      check_prefix(detail::encode_failure(f), payload);
      return f.message.size();
    }
    case kind::abort: {
      const std::string message = detail::decode_abort(payload);
      check_prefix(detail::encode_abort(message), payload);
      return message.size();
    }
    case kind::finish: {
      const auto m = detail::decode_finish(payload);
      PARTITA_FUZZ_CHECK(m.status == detail::finish_status::completed ||
                         m.status == detail::finish_status::checkpointed);
      check_prefix(detail::encode_finish(m.status, m.accumulator), payload);
      return m.accumulator.size();
    }
    case kind::take_back: {
      const auto ids = detail::decode_ranges(payload);
      for (const auto& r : ids) PARTITA_FUZZ_CHECK(r.begin <= r.end);  // what executor::take_back walks
      check_prefix(detail::encode_ranges(ids), payload);
      return heap_of(ids);
    }
    case kind::count: break;
  }
  return 0;
}

}  // namespace

verdict run_one(std::span<const std::byte> input) {
  if (input.empty()) return verdict::rejected;
  const auto selector = std::to_integer<unsigned>(input[0]);
  const auto k = selector >= 0xF0 ? kind::take_back : static_cast<kind>(selector % static_cast<unsigned>(kind::count));
  const auto payload = input.subspan(1);
  const std::int64_t bound = 4 * static_cast<std::int64_t>(payload.size()) + 4096;
  verdict v = verdict::accepted;
  std::size_t held = 0;
  {
    alloc_meter meter;
    try {
      held = decode(k, payload);
    } catch (const error&) {  // "malformed scheduler message: ...": what the loops turn into a lost peer
      v = verdict::rejected;
    }
    if (meter.peak() > bound) {
      std::fprintf(stderr, "message %u of %zu bytes: %lld heap bytes at the peak, bound %lld\n",
                   static_cast<unsigned>(k), payload.size(), static_cast<long long>(meter.peak()),
                   static_cast<long long>(bound));
      PARTITA_FUZZ_CHECK(meter.peak() <= bound);
    }
  }
  PARTITA_FUZZ_CHECK(held <= 3 * payload.size());
  return v;
}

int write_seeds(const std::filesystem::path& dir) {
  int n = 0;
  auto seed = [&](kind k, const std::string& name, const bytes& payload) {
    bytes in{static_cast<std::byte>(k)};
    in.insert(in.end(), payload.begin(), payload.end());
    write_seed(dir, name, in);
    ++n;
  };
  result_batch r;
  seed(kind::request, "request-want-only", detail::encode_request(4, r));
  for (std::uint64_t i = 0; i < 3; ++i) {
    r.ids.push_back(100 + i);
    r.nanos.push_back(1000 * (i + 1));
    for (std::uint64_t b = 0; b <= i; ++b) r.data.push_back(static_cast<std::byte>('a' + b));
    r.ends.push_back(static_cast<std::uint32_t>(r.data.size()));
  }
  seed(kind::request, "request-results", detail::encode_request(0, r));
  result_batch blocks;  // a node scheduler's folded blocks: block index, total time, value
  blocks.ids = {3, 4};
  blocks.nanos = {64000, 70000};
  blocks.data = bytes(16, std::byte{7});
  blocks.ends = {8, 16};
  seed(kind::request, "request-blocks", detail::encode_request(2, r, blocks));
  seed(kind::assign, "assign-empty", detail::encode_assign(1, {}));
  seed(kind::assign, "assign-chunks", detail::encode_assign(2, {{{0, 5}}, {{7, 8}, {10, 12}}}));
  detail::worker_stats stats;
  stats.busy_seconds = 1.5;
  stats.partitions = 42;
  stats.threads = 2;
  stats.trace = {{1, 0, 10, 20}, {2, 1, 15, 40}};
  seed(kind::stats, "stats", detail::encode_stats(stats));
  seed(kind::failure, "failure", detail::encode_failure({partition_id{17}, "kernel threw: bad input"}));
  seed(kind::abort, "abort", detail::encode_abort("job failed: partition 17"));
  seed(kind::finish, "finish", detail::encode_finish(detail::finish_status::completed, r.data));
  seed(kind::finish, "finish-checkpointed", detail::encode_finish(detail::finish_status::checkpointed, {}));
  return n;
}

}  // namespace partita::fuzz
