// Fuzz target: detail::wire_reader itself (get, get_array, get_string, at_end), checked against a
// reference model of the format, for any sequence of reads a message decoder could make.
//
// Input: byte 0 gives the number of reads k (1 + byte % 16), bytes 1..k the reads (modulo 16, see `op`),
// the rest is the message. Each read must succeed exactly when the model says the bytes are there, return
// the bytes the model finds, and advance by what the model consumed; a failed read throws partita::error
// and ends the sequence (the reader's position is then unspecified: decoders drop the message). The heap held stays
// under 2 bytes per message byte plus 4 KiB.
#include "fuzz_target.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/wire.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>

#include "alloc_meter.hpp"

namespace partita::fuzz {

namespace {

using detail::wire_reader;

enum class op : unsigned {
  get_u8,
  get_u16,
  get_u32,
  get_u64,
  get_f64,
  get_int,
  get_range,
  get_slice,
  array_byte,
  array_char,
  array_u32,
  array_u64,
  array_range,
  array_slice,
  string,
  at_end
};

// The format as the writer defines it: values as they are; arrays and strings as a u64 count, then the
// elements. Tracks the read position; `room` says whether n more bytes are there.
struct model {
  std::span<const std::byte> in;
  std::size_t pos = 0;
  bool room(std::size_t n) const { return in.size() - pos >= n; }
};

template <class T>
bool same_bytes(const T& v, std::span<const std::byte> at) {
  return std::memcmp(&v, at.data(), sizeof(T)) == 0;
}

template <class T>
bool get_value(wire_reader& r, model& m) {
  if (!m.room(sizeof(T))) {
    try {
      (void)r.get<T>();
    } catch (const error&) {
      return false;
    }
    PARTITA_FUZZ_CHECK(!"get<T> past the end did not throw");
  }
  const T v = r.get<T>();
  PARTITA_FUZZ_CHECK(same_bytes(v, m.in.subspan(m.pos, sizeof(T))));
  m.pos += sizeof(T);
  return true;
}

// Expected element count of an array at the model's position, if the whole array is there.
template <class T>
std::optional<std::uint64_t> array_count(const model& m) {
  if (!m.room(8)) return std::nullopt;
  std::uint64_t n = 0;
  std::memcpy(&n, m.in.data() + m.pos, 8);
  if (n > (m.in.size() - m.pos - 8) / sizeof(T)) return std::nullopt;
  return n;
}

template <class T>
bool get_array(wire_reader& r, model& m) {
  const auto n = array_count<T>(m);
  std::vector<T> v;
  if (!n) {
    try {
      r.get_array(v);
    } catch (const error&) {
      return false;
    }
    PARTITA_FUZZ_CHECK(!"get_array past the end did not throw");
  }
  r.get_array(v);
  PARTITA_FUZZ_CHECK(v.size() == *n);
  PARTITA_FUZZ_CHECK(v.empty() || std::memcmp(v.data(), m.in.data() + m.pos + 8, v.size() * sizeof(T)) == 0);
  m.pos += 8 + v.size() * sizeof(T);
  return true;
}

bool get_string(wire_reader& r, model& m) {
  const auto n = array_count<char>(m);
  if (!n) {
    try {
      (void)r.get_string();
    } catch (const error&) {
      return false;
    }
    PARTITA_FUZZ_CHECK(!"get_string past the end did not throw");
  }
  const std::string s = r.get_string();
  PARTITA_FUZZ_CHECK(s.size() == *n);
  PARTITA_FUZZ_CHECK(s.empty() || std::memcmp(s.data(), m.in.data() + m.pos + 8, s.size()) == 0);
  m.pos += 8 + s.size();
  return true;
}

bool step(op o, wire_reader& r, model& m) {
  switch (o) {
    case op::get_u8: return get_value<std::uint8_t>(r, m);
    case op::get_u16: return get_value<std::uint16_t>(r, m);
    case op::get_u32: return get_value<std::uint32_t>(r, m);
    case op::get_u64: return get_value<std::uint64_t>(r, m);
    case op::get_f64: return get_value<double>(r, m);
    case op::get_int: return get_value<int>(r, m);
    case op::get_range: return get_value<id_range>(r, m);
    case op::get_slice: return get_value<trace_slice>(r, m);
    case op::array_byte: return get_array<std::byte>(r, m);
    case op::array_char: return get_array<char>(r, m);
    case op::array_u32: return get_array<std::uint32_t>(r, m);
    case op::array_u64: return get_array<std::uint64_t>(r, m);
    case op::array_range: return get_array<id_range>(r, m);
    case op::array_slice: return get_array<trace_slice>(r, m);
    case op::string: return get_string(r, m);
    case op::at_end: PARTITA_FUZZ_CHECK(r.at_end() == (m.pos == m.in.size())); return true;
  }
  return false;
}

}  // namespace

verdict run_one(std::span<const std::byte> input) {
  if (input.empty()) return verdict::rejected;
  const std::size_t k = 1 + std::to_integer<std::size_t>(input[0]) % 16;
  if (input.size() < 1 + k) return verdict::rejected;
  const auto ops = input.subspan(1, k);
  model m{input.subspan(1 + k)};
  wire_reader r(m.in);
  const std::int64_t bound = 2 * static_cast<std::int64_t>(m.in.size()) + 4096;
  verdict v = verdict::accepted;
  {
    alloc_meter meter;
    for (const std::byte o : ops) {
      if (!step(static_cast<op>(std::to_integer<unsigned>(o) % 16), r, m)) {
        v = verdict::rejected;
        break;
      }
    }
    PARTITA_FUZZ_CHECK(meter.peak() <= bound);
  }
  // After a failed read the position is unspecified (decoders drop the message); after success it is exact.
  PARTITA_FUZZ_CHECK(v == verdict::rejected || r.at_end() == (m.pos == m.in.size()));
  return v;
}

int write_seeds(const std::filesystem::path& dir) {
  // A failure payload {u64, string} read as u64 + string, then at_end; and an assign read field by field.
  bytes in{std::byte{2}, std::byte{static_cast<unsigned char>(op::get_u64)},
           std::byte{static_cast<unsigned char>(op::string)}, std::byte{static_cast<unsigned char>(op::at_end)}};
  detail::wire_writer w(in);
  w.put<std::uint64_t>(7);
  w.put_string("boom");
  write_seed(dir, "u64-string-end", in);
  in = {std::byte{3}, std::byte{static_cast<unsigned char>(op::get_u32)},
        std::byte{static_cast<unsigned char>(op::get_u32)}, std::byte{static_cast<unsigned char>(op::array_range)},
        std::byte{static_cast<unsigned char>(op::array_range)}};
  w.put<std::uint32_t>(1);
  w.put<std::uint32_t>(2);
  const std::vector<id_range> a{{0, 4}}, b{{5, 6}, {8, 9}};
  w.put_array(std::span<const id_range>(a));
  w.put_array(std::span<const id_range>(b));
  write_seed(dir, "assign-fields", in);
  return 2;
}

}  // namespace partita::fuzz
