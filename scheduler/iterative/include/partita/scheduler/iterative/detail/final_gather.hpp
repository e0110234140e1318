#pragma once
/// What every rank of an iterative run hands the coordinator at the end: its bytes (final states, trace slices)
/// gathered in rank order, and the final states read back and digested.

#include <mpi.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/iterative/detail/bounded_wait.hpp>
#include <partita/scheduler/iterative/job_model.hpp>

namespace partita::detail {

/// Every rank's bytes on the root, in rank order: rank r's at displs[r], lens[r] long (empty elsewhere). Value type.
struct gathered {
  bytes all;
  std::vector<int> lens, displs;
};

/// Gathers `mine` from every rank of `comm` to `root`. Collective: the lengths, then an MPI_Igatherv bounded by
/// `limit` (peer_silent naming `what` after it).
gathered gather_to_root(MPI_Comm comm, int root, std::span<const std::byte> mine, const wait_limit& limit,
                        const char* what);

/// The state arrays of partitions 0..partitions-1 in `all` (every rank's put_partition_state records, one rank's
/// after the other). Throws error for a record that is malformed or names a partition that does not exist.
std::vector<std::vector<state_array>> split_final_states(std::span<const std::byte> all, std::uint64_t partitions);

/// The digest of one partition's final state, computed on the rank that owns it: FNV-1a 64 over its id, then its
/// arrays' names and bytes.
std::uint64_t partition_digest(std::uint64_t id, const std::vector<state_array>& arrays);

/// The digest of the final states in the summary ("state 0123456789abcdef"): FNV-1a 64 over the partitions' digests
/// (8 bytes each) in id order. Whatever rank held a partition, the same states give the same; the coordinator needs
/// 8 bytes per partition, not the states.
std::string combine_digests(std::span<const std::uint64_t> in_id_order);

/// combine_digests of the partition_digest of each of `arrays` (index: partition id).
std::string state_digest(const std::vector<std::vector<state_array>>& arrays);

/// Every rank's (id, digest) pairs of 16 bytes, one rank's after the other, as the digests in id order. Throws error
/// for a record that is short, names a partition that does not exist, or leaves one out.
std::vector<std::uint64_t> digests_in_id_order(std::span<const std::byte> all, std::uint64_t partitions);

}  // namespace partita::detail
