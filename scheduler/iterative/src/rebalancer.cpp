#include <partita/scheduler/iterative/detail/rebalancer.hpp>

#include <algorithm>

namespace partita::detail {

std::optional<rebalance_plan> rebalancer::due(const placement& place, std::span<const double> cost,
                                              std::span<const int> threads, std::uint64_t steps) const {
  const double now = placement_imbalance(place, cost, threads);
  const bool every = every_steps_ > 0 && steps % every_steps_ == 0;
  // The threshold is looked at every few steps, so a placement gets time to be measured before it is judged.
  const bool over = threshold_ > 0 && now > threshold_ && steps - last_ >= 10;
  if (!every && !over) return std::nullopt;
  rebalance_plan plan{balanced_placement(cost, threads), 0, now, 1};
  plan.imbalance_then = placement_imbalance(plan.next, cost, threads);
  // Move only for a clear gain: measured costs are noisy, and a move costs a state transfer.
  if (plan.next == place || !(plan.imbalance_then < now - 0.25 * (now - 1.0))) return std::nullopt;
  for (std::uint64_t id = 0; id < cost.size(); ++id) plan.moved += place.owner(id) != plan.next.owner(id) ? 1 : 0;
  if (!every) {
    // On the threshold alone, the step time saved over the next 20 steps must pay for the move (assumed 0.2 ms a
    // partition: a message and a copy of its state); microsecond steps never migrate on noise.
    double total = 0;
    for (double c : cost) total += std::max(0.0, c);
    double thread_sum = 0;
    for (int t : threads) thread_sum += t;
    const double mean = total / thread_sum;
    if ((now - plan.imbalance_then) * mean * 20.0 < 2e-4 * static_cast<double>(plan.moved)) return std::nullopt;
  }
  return plan;
}

void rebalancer::done(const rebalance_plan& plan, std::uint64_t steps) {
  migrations_ += plan.moved;
  ++rebalances_;
  last_ = steps;
}

}  // namespace partita::detail
