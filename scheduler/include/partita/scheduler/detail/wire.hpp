#pragma once
/// Little binary writer/reader for the scheduler's hot-path messages (requests, assignments): plain
/// values copied as they are, every read bounds-checked.

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include <partita/runtime/error.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita::detail {

class wire_writer {
 public:
  explicit wire_writer(bytes& out) : out_(out) {}
  template <class T>
  requires std::is_trivially_copyable_v<T>
  void put(const T& v) { append(&v, sizeof(T)); }
  template <class T>
  requires std::is_trivially_copyable_v<T>
  void put_array(std::span<const T> v) {
    put<std::uint64_t>(v.size());
    append(v.data(), v.size_bytes());
  }
  void put_string(const std::string& s) { put_array(std::span<const char>(s.data(), s.size())); }

 private:
  // resize + memcpy rather than vector::insert of a byte range: the same code, and GCC 12 no longer warns
  // (-Wstringop-overflow, a false positive on insert into a vector that has just grown).
  void append(const void* p, std::size_t n) {
    const auto at = out_.size();
    out_.resize(at + n);
    if (n != 0) std::memcpy(out_.data() + at, p, n);
  }
  bytes& out_;
};

class wire_reader {
 public:
  explicit wire_reader(std::span<const std::byte> in) : in_(in) {}
  template <class T>
  requires std::is_trivially_copyable_v<T> T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <class T>
  requires std::is_trivially_copyable_v<T>
  void get_array(std::vector<T>& out) {
    const auto n = get<std::uint64_t>();
    if (n > (in_.size() - pos_) / sizeof(T)) throw error("malformed scheduler message: array longer than the message");
    out.resize(n);
    if (n > 0) std::memcpy(out.data(), in_.data() + pos_, n * sizeof(T));  // an empty vector's data() may be null
    pos_ += n * sizeof(T);
  }
  std::string get_string() {
    std::vector<char> v;
    get_array(v);
    return std::string(v.begin(), v.end());
  }
  bool at_end() const noexcept { return pos_ == in_.size(); }

 private:
  void need(std::size_t n) const {
    if (in_.size() - pos_ < n) throw error("malformed scheduler message: truncated");
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

}  // namespace partita::detail
