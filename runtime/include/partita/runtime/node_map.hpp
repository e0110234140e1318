#pragma once
/// Which ranks share a node, the nodes' host names and free memory.

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace partita {

/// A snapshot of the job's nodes. Value type; identical on every rank of the communicator it was built on.
struct node_map {
  std::vector<int> node_of_rank;           ///< node index of each rank
  std::vector<std::string> hosts;          ///< host name of each node index
  std::vector<int> ranks_on_node;          ///< how many ranks each node runs
  std::vector<std::uint64_t> free_memory;  ///< bytes available on each node (MemAvailable)

  int node_count() const { return static_cast<int>(hosts.size()); }
  int node_of(int rank) const { return node_of_rank.at(static_cast<std::size_t>(rank)); }

  /// Builds the map with MPI_Comm_split_type and gathers of host names and free memory.
  /// Collective over `comm`; costs two allgathers.
  static node_map build(MPI_Comm comm);

  /// A map given by the caller (tests, simulations): rank r lives on node node_of_rank[r].
  static node_map from_assignment(std::vector<int> node_of_rank, std::vector<std::string> hosts,
                                  std::vector<std::uint64_t> free_memory);
};

/// This host's name (gethostname), never empty.
std::string host_name();

/// Bytes of memory available on this node (MemAvailable from /proc/meminfo), 0 if unknown.
std::uint64_t available_memory_bytes();

}  // namespace partita
