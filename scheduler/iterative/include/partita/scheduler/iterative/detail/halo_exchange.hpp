#pragma once
/// One rank's halo exchange in an iterative job: for the current placement, which owned partitions have a neighbour
/// on another rank and how many halo messages come in per step; each step, the halos out (local ones straight into
/// the inbox, the rest one message per rank) and in, through a peer_link (docs/design.md, "Iterative jobs").

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <partita/runtime/ids.hpp>
#include <partita/scheduler/iterative/detail/peer_link.hpp>
#include <partita/scheduler/iterative/detail/placement.hpp>

namespace partita::detail {

/// Halos as the kernels computed them: [owned index][neighbour slot] (slot j: the j-th neighbour of the partition).
using halo_set = std::vector<std::vector<std::vector<double>>>;

/// The halo exchange of one rank. Holds a view of the neighbour graph (which must outlive it). Single-threaded;
/// non-copyable (one per run and rank).
class halo_exchange {
 public:
  /// `neighbours[p]`: partition p's neighbours (symmetric, as the run checked); `me`: this rank.
  halo_exchange(const std::vector<std::vector<partition_id>>& neighbours, rank_t me)
      : neighbours_(neighbours), me_(me) {}
  halo_exchange(const halo_exchange&) = delete;
  halo_exchange& operator=(const halo_exchange&) = delete;

  /// Plans for `place` (this rank owns place.begin(me)..place.end(me)) and empties the inbox. Local; O(edges).
  void plan(const placement& place);

  /// Routes `out` (this step's halos of the owned partitions; moved from): a halo for a partition on this rank
  /// goes into the inbox, the others go as one message per rank through `link`. Returns at once.
  void post(peer_link& link, halo_set& out);

  /// Receives the halo message of every rank that sends one (plan() counted them) into the inbox. While none is
  /// waiting it calls `idle()` (as receive_each: true when it did some work). Throws peer_silent when one does not
  /// come within the limit, and error on a message that is malformed or names a partition it should not.
  template <class Idle>
  void receive(peer_link& link, const wait_limit& limit, Idle&& idle) {
    receive_each(
        link, iterative_tag::halo, expect_from_.size(), limit,
        [&](std::size_t left) { return fmt::format("step {}: halos from {} rank(s)", limit.step + 1, left); },
        [&](const bytes& message) { take(message); }, idle);
  }

  /// Waits for this step's halo messages to be delivered; throws peer_silent as finish_sends.
  void finish(peer_link& link, const wait_limit& limit) {
    finish_sends(link, limit, fmt::format("step {}: sending halos", limit.step + 1));
  }

  /// Owned partitions (indices from the first owned id) with no neighbour on another rank, and with some.
  const std::vector<std::uint64_t>& interior() const noexcept { return interior_; }
  const std::vector<std::uint64_t>& boundary() const noexcept { return boundary_; }
  /// The halo owned partition `index` last received from its neighbour in `slot`.
  const std::vector<double>& halo(std::uint64_t index, std::size_t slot) const { return inbox_.at(index).at(slot); }

 private:
  void take(std::span<const std::byte> message);
  /// Where partition `to` keeps the halo from `from`: its slot among to's neighbours (size() if none).
  std::size_t slot_of(std::uint64_t to, partition_id from) const;

  const std::vector<std::vector<partition_id>>& neighbours_;
  rank_t me_;
  placement place_;
  std::uint64_t begin_ = 0, end_ = 0;       // the owned ids
  std::map<int, std::size_t> expect_from_;  // rank -> halo entries it sends us per step
  std::vector<std::uint64_t> interior_, boundary_;
  halo_set inbox_;  // [owned index][neighbour slot] the halo received
};

}  // namespace partita::detail
