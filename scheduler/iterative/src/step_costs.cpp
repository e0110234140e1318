#include <partita/scheduler/iterative/detail/step_costs.hpp>

#include <algorithm>
#include <limits>

namespace partita::detail {

step_costs::step_costs(std::uint64_t partitions)
    : cost_(partitions, 0.0), recent_(partitions * window, std::numeric_limits<double>::infinity()) {}

step_costs step_costs::restored(std::vector<double> saved) {
  step_costs c(saved.size());
  for (std::uint64_t id = 0; id < saved.size(); ++id)
    if (saved[id] > 0) c.recent_[id * window] = saved[id];
  c.cost_ = std::move(saved);
  return c;
}

void step_costs::record(std::uint64_t id, std::uint64_t step, double seconds) {
  const auto first = recent_.begin() + static_cast<std::ptrdiff_t>(id * window);
  first[static_cast<std::ptrdiff_t>(step % window)] = seconds;
  cost_[id] = *std::min_element(first, first + static_cast<std::ptrdiff_t>(window));
}

}  // namespace partita::detail
