#pragma once
/// A node scheduler's bookkeeping as a pure state machine (no MPI): the pool of chunks taken from the root, which
/// of its ranks holds what, and requeue when one of them is lost (docs/design.md, "Two-level scheduling").

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include <partita/scheduler/detail/protocol.hpp>
#include <partita/scheduler/dispatcher.hpp>

namespace partita::detail {

/// Chunks go out whole, in the order the root handed them (the root's policy sized them for one thread each);
/// a lost rank's unfinished ids go back to the front of the pool. Single-threaded. Value type.
class node_pool {
 public:
  /// `ranks`: the ranks it serves (its members and, if it runs partitions, itself).
  explicit node_pool(const std::vector<int>& ranks);

  /// Chunks from the root, queued behind those already in the pool.
  void add(std::vector<std::vector<id_range>> chunks);
  /// Up to `n` chunks for rank `r` (counted as one message when any); none for a lost rank.
  std::vector<std::vector<id_range>> take(int r, std::uint32_t n);
  /// Rank `r` reported partition `id` (its result goes up to the root, which commits it exactly once).
  void complete(int r, std::uint64_t id);
  /// Rank `r` is gone: the ids it held unfinished go back to the front of the pool. Returns how many.
  std::uint64_t lose(int r);

  std::size_t queued() const noexcept { return pool_.size(); }
  /// Ids handed to `r` and not reported yet.
  std::uint64_t outstanding(int r) const;
  /// What it counted for `r` (what the summary shows for a rank the root does not see).
  const relayed_tally& tally(int r) const { return at(r).tally; }
  bool serves(int r) const { return ranks_.count(r) != 0; }

 private:
  struct rank_state {
    std::map<std::uint64_t, std::uint64_t> held;  // unfinished ids as disjoint ranges: begin -> end
    std::uint64_t unfinished = 0;
    relayed_tally tally;
  };
  rank_state& at(int r);
  const rank_state& at(int r) const;

  std::deque<std::vector<id_range>> pool_;
  std::map<int, rank_state> ranks_;
};

}  // namespace partita::detail
