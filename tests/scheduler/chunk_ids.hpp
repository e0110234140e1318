#pragma once
// Test helper for dispatcher tests: the partition ids of what assign() handed out, in order.

#include <cstdint>
#include <vector>

#include <partita/scheduler/map_reduce/dispatcher.hpp>

namespace partita::testing {

inline std::vector<std::uint64_t> ids_of(const std::vector<std::vector<id_range>>& chunks) {
  std::vector<std::uint64_t> out;
  for (const auto& c : chunks)
    for (const auto& r : c)
      for (auto i = r.begin; i < r.end; ++i) out.push_back(i);
  return out;
}

}  // namespace partita::testing
