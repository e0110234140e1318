#include <partita/scheduler/detail/scheduler_tree.hpp>

#include <map>

#include <partita/runtime/error.hpp>

namespace partita::detail {

int scheduler_levels_for(int ranks, int requested) {
  if (requested == 1 || requested == 2) return requested;
  return ranks >= two_level_default_ranks ? 2 : 1;
}

std::vector<int> nodes_every(int ranks, int k) {
  if (k <= 0) throw usage_error("--ranks-per-node must be 1 or more");
  std::vector<int> out(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) out[static_cast<std::size_t>(r)] = r / k;
  return out;
}

scheduler_tree scheduler_tree::flat(int ranks, rank_t root) {
  scheduler_tree t;
  t.root = root;
  t.boss.assign(static_cast<std::size_t>(ranks), root.value);
  t.members.resize(static_cast<std::size_t>(ranks));
  return t;
}

scheduler_tree scheduler_tree::by_node(const std::vector<int>& node_of_rank, rank_t root) {
  const int n = static_cast<int>(node_of_rank.size());
  auto t = flat(n, root);
  if (root.value < 0 || root.value >= n) throw error("scheduler tree: the root is not a rank of the job");
  std::map<int, std::vector<int>> nodes;  // node -> its ranks, ascending
  for (int r = 0; r < n; ++r) nodes[node_of_rank[static_cast<std::size_t>(r)]].push_back(r);
  const int root_node = node_of_rank[static_cast<std::size_t>(root.value)];
  for (const auto& [node, ranks] : nodes) {
    if (node == root_node || ranks.size() < 2) continue;  // served by the root directly
    const int head = ranks.front();
    for (int r : ranks)
      if (r != head) {
        t.boss[static_cast<std::size_t>(r)] = head;
        t.members[static_cast<std::size_t>(head)].push_back(r);
      }
  }
  t.levels = t.node_scheduler_count() > 0 ? 2 : 1;
  return t;
}

std::vector<int> scheduler_tree::node_schedulers() const {
  std::vector<int> out;
  for (int r = 0; r < ranks(); ++r)
    if (is_node_scheduler(r)) out.push_back(r);
  return out;
}

std::vector<int> scheduler_tree::root_view(const std::vector<int>& threads) const {
  std::vector<int> out = threads;
  for (int r = 0; r < ranks(); ++r) {
    if (!is_node_scheduler(r)) continue;
    for (int m : members[static_cast<std::size_t>(r)]) {
      out[static_cast<std::size_t>(r)] += threads.at(static_cast<std::size_t>(m));
      out[static_cast<std::size_t>(m)] = 0;
    }
  }
  return out;
}

}  // namespace partita::detail
