#pragma once
/// Sizes for people: how the writer's messages and `partita inspect` show a number of bytes.

#include <cstdint>
#include <string>

namespace partita::detail {

/// `n` bytes with one decimal in the largest binary unit that keeps it at least 1: "512.0 B", "1.5 KiB",
/// "2.0 GiB", at most "TiB" ("2048.0 TiB"). Pure; thread-safe.
std::string human_bytes(std::uint64_t n);

}  // namespace partita::detail
