// MPI tests of the node map: built on the real machine (one node) and given by assignment (fakes).
#include <partita/runtime/node_map.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <string>
#include <vector>

#include <partita/runtime/error.hpp>

#include "mpi_test_env.hpp"

namespace {

TEST(Runtime_NodeMap, BuildOnThisMachineIsOneNode) {
  const auto& s = partita::testing::test_session();
  auto map = partita::node_map::build(s.comm());
  ASSERT_EQ(map.node_count(), 1);
  ASSERT_EQ(map.node_of_rank.size(), static_cast<std::size_t>(s.size()));
  for (int r = 0; r < s.size(); ++r) EXPECT_EQ(map.node_of(r), 0);
  EXPECT_EQ(map.ranks_on_node, std::vector<int>{s.size()});
  EXPECT_EQ(map.hosts[0], partita::host_name());
  EXPECT_FALSE(map.hosts[0].empty());
  ASSERT_EQ(map.free_memory.size(), 1u);
  EXPECT_GT(map.free_memory[0], 0u);  // Linux has MemAvailable
  // The session built the same map.
  EXPECT_EQ(s.nodes().hosts, map.hosts);
  EXPECT_EQ(s.nodes().ranks_on_node, map.ranks_on_node);
}

TEST(Runtime_NodeMap, IdenticalOnEveryRank) {
  const auto& s = partita::testing::test_session();
  auto map = partita::node_map::build(s.comm());
  // Host name and memory figure of rank 0, compared everywhere.
  char host[256] = {};
  std::strncpy(host, map.hosts[0].c_str(), sizeof(host) - 1);
  char root_host[256] = {};
  std::memcpy(root_host, host, sizeof(host));
  PARTITA_MPI(MPI_Bcast(root_host, sizeof(root_host), MPI_CHAR, 0, s.comm()));
  EXPECT_STREQ(host, root_host);
  unsigned long long mem = map.free_memory[0], root_mem = mem;
  PARTITA_MPI(MPI_Bcast(&root_mem, 1, MPI_UNSIGNED_LONG_LONG, 0, s.comm()));
  EXPECT_EQ(mem, root_mem);
}

TEST(Runtime_NodeMap, BuildOnASubCommunicator) {
  // Split into even and odd ranks: each half is still one node with its own rank count.
  const auto& s = partita::testing::test_session();
  MPI_Comm half = MPI_COMM_NULL;
  PARTITA_MPI(MPI_Comm_split(s.comm(), s.rank().value % 2, s.rank().value, &half));
  int half_size = 0;
  PARTITA_MPI(MPI_Comm_size(half, &half_size));
  auto map = partita::node_map::build(half);
  EXPECT_EQ(map.node_count(), 1);
  EXPECT_EQ(map.ranks_on_node, std::vector<int>{half_size});
  MPI_Comm_free(&half);
}

TEST(Runtime_NodeMap, FromAssignmentCountsRanks) {
  auto map = partita::node_map::from_assignment({1, 0, 1, 1}, {"a", "b"}, {100});
  EXPECT_EQ(map.node_count(), 2);
  EXPECT_EQ(map.ranks_on_node, (std::vector<int>{1, 3}));
  EXPECT_EQ(map.free_memory, (std::vector<std::uint64_t>{100, 0}));  // missing figures are 0
  EXPECT_EQ(map.node_of(2), 1);
  EXPECT_THROW((void)map.node_of(4), std::out_of_range);
  EXPECT_THROW((void)partita::node_map::from_assignment({0, 2}, {"a", "b"}, {}), partita::error);
  EXPECT_THROW((void)partita::node_map::from_assignment({-1}, {"a"}, {}), partita::error);
}

}  // namespace
