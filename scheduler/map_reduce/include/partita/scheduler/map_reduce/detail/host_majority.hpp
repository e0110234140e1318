#pragma once
/// Whether the ranks one side of a network partition can reach may go on with a map/reduce job under
/// `mpirun --enable-recovery`: only a side that reaches a majority of the job's hosts commits (docs/design.md,
/// "Network partitions and split brain").

#include <vector>

#include <partita/runtime/node_map.hpp>

namespace partita::detail {

/// The ranks a side reaches run on `reached` of the job's `hosts` hosts.
struct host_count {
  int reached = 0;
  int hosts = 0;
};

/// Counts the hosts that run at least one rank marked in `reached` (one flag per rank of the job). MPI-free; O(ranks).
host_count hosts_reached(const node_map& nodes, const std::vector<bool>& reached);

/// True when the ranks marked in `reached` run on more than half of the job's hosts, or on exactly half of them
/// including the host of rank 0. Ranks of one host are never cut off from one another (a partition separates
/// hosts), so two sides of a partition can never both hold it. A job on one host always holds it. MPI-free.
bool holds_host_majority(const node_map& nodes, const std::vector<bool>& reached);

/// Thrown inside a rank that finds itself on a side without a host majority (a scheduler that lost it, or a
/// candidate that collected too few reports): it must commit nothing more and leave the job
/// (leave_as_minority, job_lease.hpp).
struct minority_side {
  host_count count;
};

}  // namespace partita::detail
