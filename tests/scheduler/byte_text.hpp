#pragma once
// Test helpers for fake results: text as bytes and bytes as text (a fold of such results shows its shape).

#include <cstddef>
#include <span>
#include <string>

#include <partita/runtime/serialize.hpp>

namespace partita::testing {

inline bytes b(const std::string& s) {
  bytes out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

inline std::string text(std::span<const std::byte> v) {
  std::string out;
  for (auto c : v) out += static_cast<char>(c);
  return out;
}

}  // namespace partita::testing
