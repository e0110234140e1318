#pragma once
/// Who talks to whom in a map/reduce job: one level (every rank to the root scheduler) or two (a node scheduler per
/// node between the root and the node's ranks). MPI-free (docs/design.md, "Two-level scheduling").

#include <vector>

#include <partita/runtime/ids.hpp>

namespace partita::detail {

/// Above this many ranks a job runs two levels unless --scheduler-levels says otherwise (docs/design.md,
/// "Two-level scheduling", for why 1024: the SimGrid model's saturation point of a flat root).
inline constexpr int two_level_default_ranks = 1024;

/// The levels a job of `ranks` ranks runs: `requested` (1 or 2) when given, else 2 from two_level_default_ranks on.
int scheduler_levels_for(int ranks, int requested);

/// Node index of each rank when every `k` consecutive ranks make a "node" (--ranks-per-node k).
std::vector<int> nodes_every(int ranks, int k);

/// The scheduling topology. Value type; the same on every rank (computed from agreed inputs).
struct scheduler_tree {
  int levels = 1;                         ///< 2 when at least one node scheduler exists
  rank_t root{0};                         ///< the (elected) root scheduler
  std::vector<int> boss;                  ///< boss[r]: the rank r reports to (the root for itself)
  std::vector<std::vector<int>> members;  ///< members[r]: the ranks node scheduler r serves (empty otherwise)

  /// Every rank reports to `root`.
  static scheduler_tree flat(int ranks, rank_t root);
  /// One node scheduler per node of `node_of_rank`: the node's lowest rank, serving the node's other ranks. The
  /// root's own node and nodes of a single rank need none (their ranks report to the root).
  static scheduler_tree by_node(const std::vector<int>& node_of_rank, rank_t root);

  int ranks() const noexcept { return static_cast<int>(boss.size()); }
  rank_t boss_of(rank_t r) const { return rank_t{boss.at(static_cast<std::size_t>(r.value))}; }
  bool is_node_scheduler(int r) const { return r != root.value && !members.at(static_cast<std::size_t>(r)).empty(); }
  /// Whether `r` is one of the root's direct workers (a node scheduler or a rank of the root's own node).
  bool reports_to_root(int r) const { return r != root.value && boss.at(static_cast<std::size_t>(r)) == root.value; }
  /// The node schedulers' ranks, ascending (the root's splitting workers: dispatcher_options::splitting).
  std::vector<int> node_schedulers() const;
  int node_scheduler_count() const { return static_cast<int>(node_schedulers().size()); }
  /// The root's view of the thread counts: a node scheduler counts its whole node's threads, its members none.
  std::vector<int> root_view(const std::vector<int>& threads) const;
};

}  // namespace partita::detail
