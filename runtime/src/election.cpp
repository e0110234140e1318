#include <partita/runtime/election.hpp>

#include <cmath>
#include <sstream>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

election_candidate make_candidate(const node_map& nodes, int rank, const std::set<std::string>& suspects) {
  const auto n = static_cast<std::size_t>(nodes.node_of(rank));
  election_candidate c;
  c.host = nodes.hosts.at(n);
  c.node_free_memory = nodes.free_memory.at(n);
  c.ranks_on_node = nodes.ranks_on_node.at(n);
  c.suspect = suspects.count(c.host) > 0;
  return c;
}

double election_score(const election_candidate& c) {
  // Lexicographic in one exact double (< 2^53): [healthy:1][free GiB:28 bits][4095 - ranks:12 bits].
  // Memory counts in whole GiB so that ranks on equally provisioned nodes tie and the lowest rank wins.
  const double gib = std::min<double>(std::floor(static_cast<double>(c.node_free_memory) / (1ull << 30)),
                                      (1ull << 28) - 1);
  const double fewer = 4095.0 - std::min(c.ranks_on_node, 4095);
  return (c.suspect ? 0.0 : std::ldexp(1.0, 40)) + gib * 4096.0 + fewer;
}

election_result elect_scheduler(MPI_Comm comm, const election_candidate& me, std::optional<int> override_rank) {
  int rank = 0, size = 1;
  PARTITA_MPI(MPI_Comm_rank(comm, &rank));
  PARTITA_MPI(MPI_Comm_size(comm, &size));
  election_result result;
  if (override_rank) {
    if (*override_rank < 0 || *override_rank >= size)
      throw usage_error("--scheduler-rank " + std::to_string(*override_rank) + " is out of range: this job has " +
                        std::to_string(size) + " ranks, so pick 0.." + std::to_string(size - 1) +
                        " or drop the flag to let the ranks elect one");
    result.scheduler = rank_t{*override_rank};
    result.overridden = true;
    if (rank == *override_rank) {
      result.reason = "chosen by --scheduler-rank";
      if (me.suspect) result.reason += " (note: its node " + me.host + " is marked suspect)";
      log().info("scheduler: rank {} on {} ({})", rank, me.host, result.reason);
    }
    return result;
  }
  struct {
    double score;
    int rank;
  } in{election_score(me), rank}, out{0.0, 0};
  PARTITA_MPI(MPI_Allreduce(&in, &out, 1, MPI_DOUBLE_INT, MPI_MAXLOC, comm));
  result.scheduler = rank_t{out.rank};
  result.all_suspect = out.score < std::ldexp(1.0, 40);
  if (rank == out.rank) {
    std::ostringstream why;
    why << "node " << me.host << " has " << (me.node_free_memory >> 30) << " GiB free and runs " << me.ranks_on_node
        << (me.ranks_on_node == 1 ? " rank" : " ranks") << "; ties go to the lowest rank";
    result.reason = why.str();
    if (result.all_suspect) {
      result.reason = "every node is marked suspect in the failure history; taking the best of them: " + result.reason;
      log().warn("scheduler: rank {} elected ({})", rank, result.reason);
    } else {
      log().info("scheduler: rank {} elected ({})", rank, result.reason);
    }
  }
  return result;
}

}  // namespace partita
