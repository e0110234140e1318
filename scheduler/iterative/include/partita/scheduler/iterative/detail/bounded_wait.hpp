#pragma once
/// Waits of an iterative run on other ranks, each bounded by --timeout: past it, a rank counts as lost (peer_silent,
/// which in-job recovery turns into a rollback).

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace partita::detail {

/// How long a wait on other ranks may take before one counts as lost (--timeout), and the step reported then: the
/// last step every rank finished. Value type.
struct wait_limit {
  double timeout_seconds = 0;
  std::uint64_t step = 0;
};

/// Waits for `reqs` to complete (a collective's request, say), at most `limit.timeout_seconds`; after that throws
/// peer_silent(limit.step, "<what>: no answer within --timeout T s (a rank is lost or hangs)"). Clears `reqs`.
void wait_bounded(std::vector<MPI_Request>& reqs, const wait_limit& limit, const std::string& what);

}  // namespace partita::detail
