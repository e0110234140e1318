// Unit tests of the election's local parts: the score's ordering, make_candidate, (the failure history has its own
// tests).
#include <partita/runtime/election.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <partita/runtime/error.hpp>

namespace {

constexpr std::uint64_t GiB = std::uint64_t{1} << 30;

partita::election_candidate candidate(std::uint64_t free_bytes, int ranks, bool suspect = false) {
  partita::election_candidate c;
  c.host = "h";
  c.node_free_memory = free_bytes;
  c.ranks_on_node = ranks;
  c.suspect = suspect;
  return c;
}

double score(std::uint64_t free_bytes, int ranks, bool suspect = false) {
  return partita::election_score(candidate(free_bytes, ranks, suspect));
}

TEST(Runtime_Election, SuspectScoresBelowHealthy) {
  EXPECT_LT(score(64 * GiB, 1, true), score(1 * GiB, 1, false));
  // Even a suspect with a huge node and a healthy node with nothing known.
  EXPECT_LT(score(std::uint64_t{1} << 50, 1, true), score(0, 4000, false));
  EXPECT_LT(score(std::uint64_t{1} << 62, 1, true), score(0, 4095, false));
}

TEST(Runtime_Election, MoreGibWins) {
  EXPECT_GT(score(32 * GiB, 8), score(16 * GiB, 8));
  EXPECT_GT(score(2 * GiB, 8), score(1 * GiB, 8));
  // Memory outranks the rank count.
  EXPECT_GT(score(17 * GiB, 64), score(16 * GiB, 1));
  // Among suspects the same order holds (the fallback picks the best of them).
  EXPECT_GT(score(32 * GiB, 8, true), score(16 * GiB, 8, true));
}

TEST(Runtime_Election, FewerRanksWinAtEqualMemory) {
  EXPECT_GT(score(16 * GiB, 2), score(16 * GiB, 3));
  EXPECT_GT(score(16 * GiB, 1), score(16 * GiB, 64));
  // Memory counts in whole GiB: a few MiB more does not beat fewer ranks.
  EXPECT_GT(score(16 * GiB, 2), score(16 * GiB + 500 * (GiB >> 10), 3));
  EXPECT_GT(score(16 * GiB, 1, true), score(16 * GiB, 2, true));
}

TEST(Runtime_Election, EqualCandidatesTie) {
  // Equal scores let MPI_MAXLOC give the tie to the lowest rank.
  EXPECT_EQ(score(16 * GiB, 4), score(16 * GiB + 12345, 4));
  EXPECT_EQ(score(0, 1, true), score(0, 1, true));
}

TEST(Runtime_Election, MakeCandidateFromFakeMap) {
  auto map = partita::node_map::from_assignment({0, 1, 0}, {"nodeA", "nodeB"}, {8 * GiB, 4 * GiB});
  auto c0 = partita::make_candidate(map, 0, {"nodeB"});
  EXPECT_EQ(c0.host, "nodeA");
  EXPECT_EQ(c0.node_free_memory, 8 * GiB);
  EXPECT_EQ(c0.ranks_on_node, 2);
  EXPECT_FALSE(c0.suspect);
  auto c1 = partita::make_candidate(map, 1, {"nodeB"});
  EXPECT_EQ(c1.host, "nodeB");
  EXPECT_EQ(c1.ranks_on_node, 1);
  EXPECT_TRUE(c1.suspect);
  EXPECT_THROW((void)partita::make_candidate(map, 3, {}), std::out_of_range);
}

}  // namespace
