#pragma once
/// Which rank owns which partition of an iterative job: contiguous id ranges (neighbours in id order stay
/// together), balanced by measured per-partition step costs. Pure functions; every rank computes the same.

#include <cstdint>
#include <span>
#include <vector>

namespace partita::detail {

/// Rank r owns the ids [starts[r], starts[r+1]). Value type.
struct placement {
  std::vector<std::uint64_t> starts;  ///< ranks + 1 entries, starts.front() == 0, starts.back() == partitions

  int ranks() const noexcept { return static_cast<int>(starts.size()) - 1; }
  std::uint64_t begin(int r) const { return starts.at(static_cast<std::size_t>(r)); }
  std::uint64_t end(int r) const { return starts.at(static_cast<std::size_t>(r) + 1); }
  /// The rank owning `id` (O(log ranks)).
  int owner(std::uint64_t id) const;
  friend bool operator==(const placement&, const placement&) = default;
};

/// `partitions` ids in equal contiguous ranges over `ranks` (the first ranks get one more).
placement even_placement(std::uint64_t partitions, int ranks);

/// Contiguous ranges whose summed `cost` per thread is as even as a single pass of prefix cuts makes it: rank r's
/// range ends where the cost prefix comes closest to the share of ranks 0..r (weighted by `threads`, 1 if 0).
/// Costs that are all zero or unknown fall back to even_placement.
placement balanced_placement(std::span<const double> cost, std::span<const int> threads);

/// Max over ranks of (summed cost / threads) divided by the mean over ranks: 1 is perfect balance.
double placement_imbalance(const placement& p, std::span<const double> cost, std::span<const int> threads);

}  // namespace partita::detail
