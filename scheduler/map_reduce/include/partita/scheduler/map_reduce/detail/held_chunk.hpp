#pragma once
/// A chunk as the dispatcher records it on the worker holding it: its ids, when it was handed out, and what the
/// worker held before it (the straggler watch's allowances count from these).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>

#include <partita/scheduler/map_reduce/id_set.hpp>

namespace partita::detail {

/// One chunk (or one piece of a splitting worker's chunk) handed to a worker. Value type.
struct held_chunk {
  id_range range;
  std::chrono::steady_clock::time_point since;  ///< when it was handed out
  std::uint64_t ahead = 0;                      ///< partitions the worker held unfinished before it
};

/// Drops the done partitions off the front of `held` (a worker's chunks, oldest first): whole chunks once done, and
/// the done ids at the start of the first chunk that is not. Cost: O(chunks dropped) id_set look-ups.
inline void prune_done(std::deque<held_chunk>& held, const id_set& done) {
  while (!held.empty()) {
    auto& r = held.front().range;
    r.begin = std::min(r.end, done.next_absent(r.begin));
    if (r.begin < r.end) break;
    held.pop_front();
  }
}

}  // namespace partita::detail
