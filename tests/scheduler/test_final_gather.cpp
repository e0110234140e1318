// Scheduler_FinalGather: the final states read back from the gather and their digest, without MPI.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/final_gather.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>

namespace {
using namespace partita;
using namespace partita::detail;

std::vector<state_array> state_of(std::uint64_t id) {
  return {{"u", bytes(8 * (id + 1), std::byte{static_cast<unsigned char>(id)}), true}};
}

TEST(Scheduler_FinalGather, TheDigestDoesNotDependOnWhichRankHeldWhat) {
  bytes by_two_ranks, by_one_rank;
  for (std::uint64_t id : {2, 3, 0, 1}) put_partition_state(by_two_ranks, partition_id{id}, state_of(id));
  for (std::uint64_t id : {0, 1, 2, 3}) put_partition_state(by_one_rank, partition_id{id}, state_of(id));
  const auto a = split_final_states(by_two_ranks, 4), b = split_final_states(by_one_rank, 4);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[3], state_of(3));
  EXPECT_EQ(state_digest(a), state_digest(b));
  EXPECT_EQ(state_digest(a).size(), 16u);
  auto changed = a;
  changed[1][0].data[0] = std::byte{9};
  EXPECT_NE(state_digest(changed), state_digest(a));
}

TEST(Scheduler_FinalGather, TheDigestOfNothingIsTheFnvOffset) { EXPECT_EQ(state_digest({}), "cbf29ce484222325"); }

TEST(Scheduler_FinalGather, APartitionThatDoesNotExistIsRefused) {
  bytes all;
  put_partition_state(all, partition_id{4}, state_of(4));
  EXPECT_THROW(split_final_states(all, 4), partita::error);
}

}  // namespace
