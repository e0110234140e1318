#include <partita/checkpoint/detail/crc32.hpp>

#include <zlib.h>

#include <algorithm>

namespace partita::detail {

std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc) noexcept {
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  std::size_t left = data.size();
  uLong c = crc;
  // crc32_z takes a z_size_t, but go in 1 GiB pieces so that any zlib (uInt lengths) works.
  while (left > 0) {
    const std::size_t n = std::min<std::size_t>(left, std::size_t{1} << 30);
    c = ::crc32(c, p, static_cast<uInt>(n));
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(c);
}

}  // namespace partita::detail
