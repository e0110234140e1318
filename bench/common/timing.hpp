#pragma once
/// What the data-path benchmarks share: timed collective sections, their series of times, and the block sum both a
/// job's kernel and its raw baseline compute, folded as the job folds (so their results agree bit for bit).

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/block_fold.hpp>

namespace partita::bench {

/// Repeated measurements of one thing, in seconds.
struct series {
  std::vector<double> seconds;
  double best() const { return *std::min_element(seconds.begin(), seconds.end()); }
  double median() const {
    auto v = seconds;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

/// Wall time of `body()` between barriers, the slowest rank's. Collective.
template <class Body>
double timed(MPI_Comm comm, Body&& body) {
  PARTITA_MPI(MPI_Barrier(comm));
  const auto t0 = std::chrono::steady_clock::now();
  body();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  return t;
}

/// The sum of a block, left to right.
inline double block_sum(const double* x, std::uint64_t n) {
  double s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

/// The job's fold of per-partition sums (`sums[id]`), in its shape: left to right within aligned blocks of
/// detail::fold_block_size(partitions) partitions, then the blocks left to right (docs/design.md, "Folding aligned id
/// blocks"); 0 for none.
inline double fold_sums(const std::vector<double>& sums) {
  const std::uint64_t block = detail::fold_block_size(sums.size());
  double total = 0, in_block = 0;
  for (std::uint64_t i = 0; i < sums.size(); ++i) {
    in_block = i % block == 0 ? sums[i] : in_block + sums[i];
    if ((i + 1) % block == 0 || i + 1 == sums.size()) total = i < block ? in_block : total + in_block;
  }
  return total;
}

}  // namespace partita::bench
