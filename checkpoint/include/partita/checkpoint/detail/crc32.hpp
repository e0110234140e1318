#pragma once
/// The checksum of the manifest: CRC-32 (IEEE 802.3 polynomial 0x04C11DB7, reflected, init and final
/// xor 0xFFFFFFFF), the same value as Boost's boost::crc_32_type and zlib's crc32(); computed with zlib,
/// which is about ten times faster than Boost's bytewise table.

#include <cstddef>
#include <cstdint>
#include <span>

namespace partita::detail {

/// Continues a CRC-32 over `data` (start with crc = 0). Thread-safe; ~3-4 GB/s on one core.
std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept;

}  // namespace partita::detail
