#pragma once
/// What the data-path benchmarks share: timed collective sections, their series of times, and the block sum both a
/// job's kernel and its raw baseline compute, folded as the job folds (so their results agree bit for bit).

#include <mpi.h>
#include <sys/resource.h>

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

/// CPU seconds this process has used, every thread, user and system.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

/// Wall time of `body()` between barriers, the slowest rank's; `cpu` gets the CPU seconds all ranks used meanwhile
/// (their sum: on a loaded or oversubscribed node CPU per unit of work is steadier than wall time, and polling
/// shows in it). Collective.
template <class Body>
double timed(MPI_Comm comm, double& cpu, Body&& body) {
  PARTITA_MPI(MPI_Barrier(comm));
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = process_cpu_seconds();
  body();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cpu = process_cpu_seconds() - c0;
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &cpu, 1, MPI_DOUBLE, MPI_SUM, comm));
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
