#pragma once
/// The collective steps of the writer over its communicator: broadcasting and gathering bytes, and agreeing on
/// the outcome of a phase so that a failure seen by some ranks is known to all before anyone throws.

#include <mpi.h>

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/serialize.hpp>

namespace partita::detail {

/// A communicator and this rank's place in it. View: does not own `comm`.
struct group_info {
  MPI_Comm comm;
  int rank = 0;
  int size = 1;
};

/// This rank's place in `comm`. Local.
group_info group_of(MPI_Comm comm);

/// Broadcasts `data` (any size; sent in pieces of at most 1 GiB) from `root`. Collective.
void bcast_bytes(const group_info& g, bytes& data, int root);

/// Broadcasts `text` from `root`. Collective.
void bcast_text(const group_info& g, std::string& text, int root);

/// Every rank's `mine`, in rank order (at most 2 GiB in all). Collective.
std::vector<bytes> allgather_bytes(const group_info& g, const bytes& mine);

/// Agrees on the outcome of a phase: nullopt if every rank succeeded, else the problem of the lowest failing
/// rank (prefixed with its rank when there are several), the same text on every rank. Collective.
std::optional<std::string> agree(const group_info& g, const std::optional<std::string>& problem);

/// Runs `fn` on every rank, then agrees on whether it threw anywhere (as agree does). Collective.
template <class Fn>
std::optional<std::string> run_and_agree(const group_info& g, Fn&& fn) {
  std::optional<std::string> problem;
  try {
    fn();
  } catch (const std::exception& e) {
    problem = e.what();
  } catch (...) {
    problem = "unknown exception";
  }
  return agree(g, problem);
}

}  // namespace partita::detail
