#pragma once
/// Results committed ahead of the fold, kept in runs of consecutive ids until the fold reaches them.

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include <partita/runtime/serialize.hpp>

namespace partita::detail {

/// The scheduler folds results in partition-id order; a result that arrives before the ones below it waits here.
/// Results of one chunk arrive in order, so they are kept as runs of consecutive ids, each run one packed
/// allocation (not one map node and one buffer per result, which cost the scheduler more than the rest of a
/// commit). Single-threaded. Value type.
class held_results {
 public:
  /// Starts a run at `id` if none is open, or continues it when `id` is the open run's next id; otherwise
  /// closes the open run first. Copies `result`.
  void append(std::uint64_t id, std::span<const std::byte> result) {
    if (open_ && id != open_first_ + cur_.n) close();
    if (!open_) {
      open_ = true;
      open_first_ = id;
    }
    // A run of one result (one partition per message) needs no offsets: one allocation, as a map of buffers had.
    if (cur_.n == 1) cur_.ends.push_back(static_cast<std::uint32_t>(cur_.data.size()));
    cur_.data.insert(cur_.data.end(), result.begin(), result.end());
    if (++cur_.n >= 2) cur_.ends.push_back(static_cast<std::uint32_t>(cur_.data.size()));
  }
  /// Ends the open run (call before folding: the fold may reach it).
  void close() {
    if (!open_) return;
    count_ += cur_.n;
    runs_.emplace(open_first_, std::move(cur_));
    cur_ = run{};
    open_ = false;
  }
  /// Folds, with fold(result), every held result from `folded` on while they are consecutive; returns the new
  /// folded prefix. The open run must be closed.
  template <class Fold>
  std::uint64_t fold_from(std::uint64_t folded, Fold&& fold) {
    while (!runs_.empty() && runs_.begin()->first == folded) {
      const auto& r = runs_.begin()->second;
      r.each([&](std::size_t, std::span<const std::byte> b) { fold(b); });
      folded += r.n;
      count_ -= r.n;
      runs_.erase(runs_.begin());
    }
    return folded;
  }
  /// Drops every held result below `id` (a block's value replaced them: docs/design.md, "Folding aligned id
  /// blocks"). The open run must be closed. Cost: O(results dropped + the tail of a run that straddles `id`).
  void discard_below(std::uint64_t id) {
    while (!runs_.empty() && runs_.begin()->first < id) {
      auto node = runs_.extract(runs_.begin());
      const std::uint64_t first = node.key();
      const run& r = node.mapped();
      count_ -= r.n;
      if (first + r.n <= id) continue;
      r.each([&](std::size_t i, std::span<const std::byte> b) {
        if (first + i >= id) append(first + i, b);
      });
      close();
    }
  }
  /// Results held (closed runs).
  std::uint64_t size() const noexcept { return count_; }

  /// One entry per result, as the checkpoint stores them (map_reduce_state::held).
  std::map<std::uint64_t, bytes> to_map() const {
    std::map<std::uint64_t, bytes> out;
    for (const auto& [first, r] : runs_)
      r.each([&, f = first](std::size_t i, std::span<const std::byte> b) {
        out.emplace(f + i, bytes(b.begin(), b.end()));
      });
    return out;
  }
  /// Adds the results of a checkpoint (ids ascending).
  void add(const std::map<std::uint64_t, bytes>& held) {
    for (const auto& [id, b] : held) append(id, b);
    close();
  }

 private:
  struct run {
    bytes data;
    std::vector<std::uint32_t> ends;  // end of each result in data; empty for a run of one
    std::uint32_t n = 0;
    template <class F>
    void each(F&& f) const {
      if (n == 1) return f(0, std::span<const std::byte>(data));
      std::uint32_t begin = 0;
      for (std::size_t i = 0; i < ends.size(); ++i) {
        f(i, std::span<const std::byte>(data.data() + begin, ends[i] - begin));
        begin = ends[i];
      }
    }
  };
  std::map<std::uint64_t, run> runs_;  // by first id
  run cur_;                            // the open run
  bool open_ = false;
  std::uint64_t open_first_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace partita::detail
