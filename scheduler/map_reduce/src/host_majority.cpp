#include <partita/scheduler/map_reduce/detail/host_majority.hpp>

namespace partita::detail {

host_count hosts_reached(const node_map& nodes, const std::vector<bool>& reached) {
  std::vector<bool> seen(static_cast<std::size_t>(nodes.node_count()), false);
  host_count c;
  c.hosts = nodes.node_count();
  for (std::size_t r = 0; r < reached.size() && r < nodes.node_of_rank.size(); ++r) {
    if (!reached[r]) continue;
    const auto n = static_cast<std::size_t>(nodes.node_of_rank[r]);
    if (!seen[n]) {
      seen[n] = true;
      ++c.reached;
    }
  }
  return c;
}

bool holds_host_majority(const node_map& nodes, const std::vector<bool>& reached) {
  const auto c = hosts_reached(nodes, reached);
  if (2 * c.reached > c.hosts) return true;
  if (2 * c.reached < c.hosts || nodes.node_of_rank.empty()) return false;
  // Exactly half: the side with rank 0's host.
  const auto first_host = nodes.node_of_rank.front();
  for (std::size_t r = 0; r < reached.size() && r < nodes.node_of_rank.size(); ++r)
    if (reached[r] && nodes.node_of_rank[r] == first_host) return true;
  return false;
}

}  // namespace partita::detail
