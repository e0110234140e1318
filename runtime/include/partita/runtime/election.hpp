#pragma once
/// Choosing the scheduler rank: one collective, rules from docs/design.md, "Election".

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <partita/runtime/failure_history.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/node_map.hpp>

namespace partita {

/// What one rank brings to the election.
struct election_candidate {
  std::string host;                    ///< the node's host name
  std::uint64_t node_free_memory = 0;  ///< bytes available on the node
  int ranks_on_node = 1;               ///< ranks sharing the node
  bool suspect = false;                ///< the node is in the job's failure history
};

/// The outcome, the same scheduler on every rank; `reason` is filled on the chosen rank.
struct election_result {
  rank_t scheduler{0};
  bool overridden = false;   ///< --scheduler-rank chose it
  bool all_suspect = false;  ///< every node was suspect; the best of them was taken
  std::string reason;        ///< why this rank (on the chosen rank only)
};

/// The candidate this rank is, from the node map and the set of suspect hosts.
election_candidate make_candidate(const node_map& nodes, int rank, const std::set<std::string>& suspects);

/// The score MPI_MAXLOC maximises: not suspect first, then free memory (GiB), then fewer ranks on the node.
/// Ties go to the lowest rank (MPI_MAXLOC's rule). Exposed for tests.
double election_score(const election_candidate& c);

/// Agrees on one scheduler rank. Collective over `comm` (one MPI_Allreduce with MPI_MAXLOC) unless
/// `override_rank` is given, which costs nothing. An out-of-range override throws usage_error on every
/// rank (each checks it locally, so none waits on the others). Logs the choice and reason once, on the chosen rank.
election_result elect_scheduler(MPI_Comm comm, const election_candidate& me,
                                std::optional<int> override_rank = std::nullopt);

}  // namespace partita
