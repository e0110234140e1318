// MPI tests of the scheduler election: every rank agrees, suspect nodes are avoided, the override works
// and fails cleanly when out of range, and fake node maps pick by the rules of docs/design.md, "Election".
#include <partita/runtime/election.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>

#include "mpi_test_env.hpp"

namespace {

constexpr std::uint64_t GiB = std::uint64_t{1} << 30;

MPI_Comm comm() { return partita::testing::test_session().comm(); }
int rank() { return partita::testing::test_session().rank().value; }
int size() { return partita::testing::test_session().size(); }

// Every rank's view of the elected scheduler and flags, gathered to all.
struct gathered {
  std::vector<int> scheduler, overridden, all_suspect, has_reason;
};

gathered gather(const partita::election_result& r) {
  int mine[4] = {r.scheduler.value, r.overridden ? 1 : 0, r.all_suspect ? 1 : 0, r.reason.empty() ? 0 : 1};
  std::vector<int> all(4 * static_cast<std::size_t>(size()));
  PARTITA_MPI(MPI_Allgather(mine, 4, MPI_INT, all.data(), 4, MPI_INT, comm()));
  gathered g;
  for (std::size_t i = 0; i < all.size(); i += 4) {
    g.scheduler.push_back(all[i]);
    g.overridden.push_back(all[i + 1]);
    g.all_suspect.push_back(all[i + 2]);
    g.has_reason.push_back(all[i + 3]);
  }
  return g;
}

// Checks that every rank reports `expected` as the scheduler and that only the scheduler has a reason.
void expect_agreed(const partita::election_result& r, int expected) {
  const auto g = gather(r);
  for (int i = 0; i < size(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    EXPECT_EQ(g.scheduler[k], expected) << "rank " << i << " disagrees";
    EXPECT_EQ(g.overridden[k], g.overridden[0]) << "rank " << i;
    EXPECT_EQ(g.all_suspect[k], g.all_suspect[0]) << "rank " << i;
    EXPECT_EQ(g.has_reason[k], i == expected ? 1 : 0) << "rank " << i << " reason";
  }
}

partita::election_result elect_on(const partita::node_map& map, const std::set<std::string>& suspects = {},
                                  std::optional<int> override_rank = std::nullopt) {
  return partita::elect_scheduler(comm(), partita::make_candidate(map, rank(), suspects), override_rank);
}

// The rules, written out directly: healthy first, then more whole GiB free, then fewer ranks, then lowest rank.
int reference_winner(const partita::node_map& map, const std::set<std::string>& suspects) {
  int best = 0;
  auto key = [&](int r) {
    const auto n = static_cast<std::size_t>(map.node_of(r));
    return std::make_tuple(suspects.count(map.hosts[n]) == 0, map.free_memory[n] / GiB, -map.ranks_on_node[n]);
  };
  for (int r = 1; r < static_cast<int>(map.node_of_rank.size()); ++r)
    if (key(r) > key(best)) best = r;
  return best;
}

std::vector<int> assignment(int (*node_of)(int rank, int size)) {
  std::vector<int> v;
  for (int r = 0; r < size(); ++r) v.push_back(node_of(r, size()));
  return v;
}

// ---- the real machine --------------------------------------------------------------------------

TEST(Runtime_Election, RealNodeMapAgreesOnEveryRank) {
  const auto& s = partita::testing::test_session();
  auto r = partita::elect_scheduler(comm(), partita::make_candidate(s.nodes(), rank(), {}));
  EXPECT_FALSE(r.overridden);
  EXPECT_FALSE(r.all_suspect);
  // All ranks share one node here, so they tie and the lowest rank wins.
  expect_agreed(r, 0);
}

// ---- suspect nodes -----------------------------------------------------------------------------

TEST(Runtime_Election, SuspectNodeIsNeverElected) {
  // rank r on node r%2; nodeA has far more memory but is suspect.
  auto map = partita::node_map::from_assignment(assignment([](int r, int) { return r % 2; }), {"nodeA", "nodeB"},
                                                {64 * GiB, 4 * GiB});
  auto r = elect_on(map, {"nodeA"});
  if (size() >= 2) {
    EXPECT_FALSE(r.all_suspect);
    EXPECT_EQ(map.hosts[static_cast<std::size_t>(map.node_of(r.scheduler.value))], "nodeB");
    expect_agreed(r, 1);
  } else {
    // Only nodeA has ranks: the fallback.
    EXPECT_TRUE(r.all_suspect);
    expect_agreed(r, 0);
  }
}

TEST(Runtime_Election, SuspectOnlyOnSomeNodesAmongMany) {
  // One node per rank, more memory on higher ranks; the two best nodes are suspect.
  std::vector<int> nodes;
  std::vector<std::string> hosts;
  std::vector<std::uint64_t> mem;
  for (int r = 0; r < size(); ++r) {
    nodes.push_back(r);
    hosts.push_back("n" + std::to_string(r));
    mem.push_back(static_cast<std::uint64_t>(r + 1) * GiB);
  }
  auto map = partita::node_map::from_assignment(nodes, hosts, mem);
  std::set<std::string> suspects{"n" + std::to_string(size() - 1), "n" + std::to_string(size() - 2)};
  auto r = elect_on(map, suspects);
  const int expected = size() >= 3 ? size() - 3 : size() - 1;
  EXPECT_EQ(r.all_suspect, size() < 3);
  EXPECT_EQ(expected, reference_winner(map, suspects));
  expect_agreed(r, expected);
}

TEST(Runtime_Election, AllSuspectFallsBackToTheBest) {
  auto map = partita::node_map::from_assignment(assignment([](int r, int) { return r % 2; }), {"nodeA", "nodeB"},
                                                {4 * GiB, 64 * GiB});
  auto r = elect_on(map, {"nodeA", "nodeB"});
  EXPECT_TRUE(r.all_suspect);
  EXPECT_FALSE(r.overridden);
  const int expected = size() >= 2 ? 1 : 0;  // nodeB has more memory
  expect_agreed(r, expected);
  if (rank() == expected) {
    EXPECT_NE(r.reason.find("suspect"), std::string::npos) << r.reason;
  }
}

// ---- override ----------------------------------------------------------------------------------

TEST(Runtime_Election, OverrideWins) {
  // Without the override rank 0 would win (equal nodes); pick the last rank, even on a suspect node.
  auto map = partita::node_map::from_assignment(assignment([](int r, int) { return r % 2; }), {"nodeA", "nodeB"},
                                                {8 * GiB, 8 * GiB});
  const int pick = size() - 1;
  auto r = elect_on(map, {map.hosts[static_cast<std::size_t>(map.node_of(pick))]}, pick);
  EXPECT_TRUE(r.overridden);
  expect_agreed(r, pick);
  if (rank() == pick) {
    EXPECT_NE(r.reason.find("--scheduler-rank"), std::string::npos) << r.reason;
  }

  auto zero = elect_on(map, {}, 0);
  EXPECT_TRUE(zero.overridden);
  expect_agreed(zero, 0);
}

TEST(Runtime_Election, OutOfRangeOverrideThrowsOnEveryRankWithoutHanging) {
  const auto& s = partita::testing::test_session();
  for (int bad : {size(), size() + 100, -1}) {
    SCOPED_TRACE("override " + std::to_string(bad));
    int threw = 0;
    try {
      (void)elect_on(s.nodes(), {}, bad);
    } catch (const partita::usage_error& e) {
      threw = 1;
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--scheduler-rank"), std::string::npos) << e.what();
    }
    EXPECT_EQ(threw, 1);
    // Every rank threw (nobody is stuck in a collective): the next collective completes everywhere.
    int all = 0;
    PARTITA_MPI(MPI_Allreduce(&threw, &all, 1, MPI_INT, MPI_SUM, comm()));
    EXPECT_EQ(all, size());
  }
}

// ---- fake two-node maps ------------------------------------------------------------------------

TEST(Runtime_Election, MoreFreeMemoryWins) {
  auto map = partita::node_map::from_assignment(assignment([](int r, int) { return r % 2; }), {"small", "big"},
                                                {16 * GiB, 32 * GiB});
  expect_agreed(elect_on(map), size() >= 2 ? 1 : 0);
}

TEST(Runtime_Election, MemoryOutranksRankCount) {
  // "big" has more memory and more ranks: memory decides. The last rank is alone on "small".
  auto map = partita::node_map::from_assignment(assignment([](int r, int n) { return n >= 2 && r == n - 1 ? 0 : 1; }),
                                                {"small", "big"}, {16 * GiB, 32 * GiB});
  expect_agreed(elect_on(map), 0);
}

TEST(Runtime_Election, EqualMemoryFewerRanksWins) {
  // The last rank is alone on node 1; everyone else shares node 0. Memory differs by less than a GiB.
  auto map = partita::node_map::from_assignment(assignment([](int r, int n) { return n >= 2 && r == n - 1 ? 1 : 0; }),
                                                {"crowded", "quiet"}, {8 * GiB + 300 * (GiB >> 10), 8 * GiB});
  // At 2 ranks both nodes run one rank: a full tie, the lowest rank wins.
  expect_agreed(elect_on(map), size() >= 3 ? size() - 1 : 0);
}

TEST(Runtime_Election, FullTieGoesToLowestRank) {
  std::vector<int> nodes;
  std::vector<std::string> hosts;
  for (int r = 0; r < size(); ++r) {
    nodes.push_back(r);
    hosts.push_back("n" + std::to_string(r));
  }
  auto map = partita::node_map::from_assignment(nodes, hosts, std::vector<std::uint64_t>(hosts.size(), 8 * GiB));
  expect_agreed(elect_on(map), 0);
  // Also when the tie is among the best, not among all: rank 0's node is worse.
  map.free_memory[0] = 1 * GiB;
  expect_agreed(elect_on(map), size() >= 2 ? 1 : 0);
}

TEST(Runtime_Election, MatchesTheRulesOnRandomMaps) {
  // The same seed on every rank gives the same maps everywhere; compare with the rules written out.
  std::mt19937 gen(12345);
  const auto level = partita::log().level();
  partita::log().set_level(spdlog::level::err);  // 200 elections would log 200 choices
  for (int round = 0; round < 200; ++round) {
    const int n_nodes = std::uniform_int_distribution<int>(1, 3)(gen);
    std::vector<int> nodes;
    for (int r = 0; r < size(); ++r) nodes.push_back(std::uniform_int_distribution<int>(0, n_nodes - 1)(gen));
    std::vector<std::string> hosts;
    std::vector<std::uint64_t> mem;
    std::set<std::string> suspects;
    for (int n = 0; n < n_nodes; ++n) {
      hosts.push_back("h" + std::to_string(n));
      mem.push_back(std::uniform_int_distribution<std::uint64_t>(0, 4)(gen) * GiB +
                    std::uniform_int_distribution<std::uint64_t>(0, GiB - 1)(gen));
      if (std::uniform_int_distribution<int>(0, 3)(gen) == 0) suspects.insert(hosts.back());
    }
    auto map = partita::node_map::from_assignment(nodes, hosts, mem);
    auto r = elect_on(map, suspects);
    const int expected = reference_winner(map, suspects);
    const auto g = gather(r);
    // g is the same on every rank, so every rank stops at the same round.
    bool wrong = false;
    for (int i = 0; i < size(); ++i) {
      EXPECT_EQ(g.scheduler[static_cast<std::size_t>(i)], expected) << "round " << round << " rank " << i;
      wrong = wrong || g.scheduler[static_cast<std::size_t>(i)] != expected;
    }
    if (wrong) break;
    bool every_used_node_suspect = true;
    for (int rr = 0; rr < size(); ++rr)
      if (!suspects.count(map.hosts[static_cast<std::size_t>(map.node_of(rr))])) every_used_node_suspect = false;
    EXPECT_EQ(r.all_suspect, every_used_node_suspect) << "round " << round;
  }
  partita::log().set_level(level);
}

}  // namespace
