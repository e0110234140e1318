#pragma once
/// Values to bytes and back: plain types as they are, everything else through Boost.Serialization.

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <streambuf>
#include <type_traits>
#include <vector>

#include <partita/runtime/error.hpp>

namespace partita {

using bytes = std::vector<std::byte>;

namespace detail {
/// A streambuf that appends to a byte vector (no copy through std::string).
class bytes_sink : public std::streambuf {
 public:
  explicit bytes_sink(bytes& out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<std::byte>(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto* b = reinterpret_cast<const std::byte*>(s);
    out_.insert(out_.end(), b, b + n);
    return n;
  }

 private:
  bytes& out_;
};

/// A read-only streambuf over a byte span.
class bytes_source : public std::streambuf {
 public:
  explicit bytes_source(std::span<const std::byte> in) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(p, p, p + in.size());
  }
};

template <class T>
inline constexpr bool is_plain_v = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>;
}  // namespace detail

/// Appends the bytes of `value` to `out`. Plain (trivially copyable) types are copied as they are;
/// others need a Boost.Serialization `serialize` member or free function.
template <class T>
void serialize_into(bytes& out, const T& value) {
  if constexpr (detail::is_plain_v<T>) {
    // resize + memcpy rather than insert: GCC 12 warns (-Wstringop-overflow, a false positive) on the inlined
    // range insert of a small object into an empty vector, in every program that saves a plain state.
    const auto at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &value, sizeof(T));
  } else {
    detail::bytes_sink sink(out);
    boost::archive::binary_oarchive ar(sink, boost::archive::no_header | boost::archive::no_codecvt);
    ar << value;
  }
}

/// The bytes of `value` (see serialize_into).
template <class T>
bytes serialize(const T& value) {
  bytes out;
  serialize_into(out, value);
  return out;
}

/// Rebuilds a value from serialize()'s bytes. Throws partita::error if the bytes do not hold a T.
template <class T>
T deserialize(std::span<const std::byte> in) {
  if constexpr (detail::is_plain_v<T>) {
    if (in.size() != sizeof(T))
      throw error("deserialize: expected " + std::to_string(sizeof(T)) + " bytes, got " + std::to_string(in.size()));
    T value;
    std::memcpy(&value, in.data(), sizeof(T));
    return value;
  } else {
    static_assert(std::is_default_constructible_v<T>, "deserialize needs a default-constructible type");
    T value{};
    try {
      detail::bytes_source src(in);
      boost::archive::binary_iarchive ar(src, boost::archive::no_header | boost::archive::no_codecvt);
      ar >> value;
    } catch (const std::exception& e) {
      throw error(std::string("deserialize: malformed bytes: ") + e.what());
    }
    return value;
  }
}

}  // namespace partita
