// Scheduler_FinalGather: the final states read back from the gather, their digest from per-partition digests, and
// the parameters a checkpoint keeps to tell a changed input, without MPI.
#include <gtest/gtest.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/final_gather.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

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

TEST(Scheduler_FinalGather, TheDigestCombinesPerPartitionDigestsInIdOrder) {
  // Owners digest their own partitions; the coordinator combines 8 bytes per partition, whatever rank sent which.
  std::vector<std::vector<state_array>> arrays;
  for (std::uint64_t id = 0; id < 5; ++id) arrays.push_back(state_of(id));
  std::vector<std::uint64_t> records;  // (id, digest) as two ranks would send them: 3, 4, then 0, 1, 2
  for (std::uint64_t id : {3, 4, 0, 1, 2}) records.insert(records.end(), {id, partition_digest(id, arrays[id])});
  const auto digests = digests_in_id_order(std::as_bytes(std::span<const std::uint64_t>(records)), 5);
  EXPECT_EQ(combine_digests(digests), state_digest(arrays));
  std::vector<std::uint64_t> swapped = digests;
  std::swap(swapped[1], swapped[2]);
  EXPECT_NE(combine_digests(swapped), state_digest(arrays)) << "the order of partitions must count";
  EXPECT_NE(partition_digest(1, arrays[2]), partition_digest(2, arrays[2])) << "the id must count";
}

TEST(Scheduler_FinalGather, DigestRecordsThatMissOrRepeatAPartitionAreRefused) {
  const std::vector<std::uint64_t> repeated = {0, 7, 0, 8}, outside = {0, 7, 9, 8}, short_one = {0, 7, 1};
  EXPECT_THROW(digests_in_id_order(std::as_bytes(std::span<const std::uint64_t>(repeated)), 2), partita::error);
  EXPECT_THROW(digests_in_id_order(std::as_bytes(std::span<const std::uint64_t>(outside)), 2), partita::error);
  EXPECT_THROW(digests_in_id_order(std::as_bytes(std::span<const std::uint64_t>(short_one)), 2), partita::error);
  EXPECT_THROW(digests_in_id_order(std::as_bytes(std::span<const std::uint64_t>(repeated)), 3), partita::error);
}

TEST(Scheduler_FinalGather, OnlyAChangedInputIdentityIsReported) {
  partita::parameters now;
  now.set("block", "32");
  now.set("initial", "f.h5:/u");
  now.set("initial.identity", "file=/f.h5;size=2");
  const std::string same = params_text(now);
  EXPECT_EQ(changed_identities(same, now), "");
  partita::parameters changed = now;
  changed.set("initial.identity", "file=/f.h5;size=3");
  EXPECT_EQ(changed_identities(same, changed), "initial.identity: was 'file=/f.h5;size=2', now 'file=/f.h5;size=3'");
  partita::parameters other = now;
  other.set("block", "64");  // another parameter: a new job, not a changed input
  EXPECT_EQ(changed_identities(same, other), "");
  partita::parameters without;
  without.set("block", "32");  // an input added or dropped: new parameters too
  EXPECT_EQ(changed_identities(same, without), "");
  EXPECT_EQ(changed_identities(params_text(without), now), "");
}

TEST(Scheduler_FinalGather, APartitionThatDoesNotExistIsRefused) {
  bytes all;
  put_partition_state(all, partition_id{4}, state_of(4));
  EXPECT_THROW(split_final_states(all, 4), partita::error);
}

}  // namespace
