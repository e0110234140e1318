#include <partita/scheduler/iterative/detail/placement.hpp>

#include <algorithm>
#include <cmath>

namespace partita::detail {

int placement::owner(std::uint64_t id) const {
  const auto it = std::upper_bound(starts.begin(), starts.end(), id);
  return static_cast<int>(it - starts.begin()) - 1;
}

placement even_placement(std::uint64_t partitions, int ranks) {
  placement p;
  p.starts.resize(static_cast<std::size_t>(ranks) + 1);
  const std::uint64_t n = static_cast<std::uint64_t>(ranks);
  for (std::uint64_t r = 0; r <= n; ++r) p.starts[r] = r * (partitions / n) + std::min(r, partitions % n);
  return p;
}

placement balanced_placement(std::span<const double> cost, std::span<const int> threads) {
  const int ranks = static_cast<int>(threads.size());
  const std::uint64_t n = cost.size();
  double total = 0;
  for (double c : cost) total += c > 0 ? c : 0;
  if (!(total > 0)) return even_placement(n, ranks);
  std::vector<double> weight(threads.size());
  double wsum = 0;
  for (std::size_t r = 0; r < threads.size(); ++r) wsum += weight[r] = std::max(1, threads[r]);
  placement p;
  p.starts.assign(static_cast<std::size_t>(ranks) + 1, 0);
  std::uint64_t i = 0;
  double prefix = 0, wprefix = 0;
  for (int r = 0; r + 1 < ranks; ++r) {
    wprefix += weight[static_cast<std::size_t>(r)];
    const double target = total * wprefix / wsum;
    // Advance while the next partition brings the prefix closer to this rank's target.
    while (i < n) {
      const double next = prefix + std::max(0.0, cost[i]);
      if (std::abs(next - target) <= std::abs(prefix - target) && next <= target + 0.5 * std::max(0.0, cost[i])) {
        prefix = next;
        ++i;
      } else {
        break;
      }
    }
    p.starts[static_cast<std::size_t>(r) + 1] = i;
  }
  p.starts.back() = n;
  return p;
}

double placement_imbalance(const placement& p, std::span<const double> cost, std::span<const int> threads) {
  double max_load = 0, sum = 0;
  for (int r = 0; r < p.ranks(); ++r) {
    double load = 0;
    for (std::uint64_t i = p.begin(r); i < p.end(r); ++i) load += std::max(0.0, cost[i]);
    load /= std::max(1, threads[static_cast<std::size_t>(r)]);
    max_load = std::max(max_load, load);
    sum += load;
  }
  const double mean = sum / std::max(1, p.ranks());
  return mean > 0 ? max_load / mean : 1.0;
}

}  // namespace partita::detail
