#pragma once
/// Peak resident memory per rank (getrusage ru_maxrss), gathered to rank 0 and checked against a bound.

#include <mpi.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include <partita/runtime/error.hpp>

namespace partita::bench {

/// This process's peak resident set so far, in bytes (ru_maxrss: the high-water mark of the whole process life).
inline std::uint64_t peak_rss_bytes() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

/// Gathers every rank's peak RSS to rank 0, prints one line per rank against `bound` bytes (prefixed by `what`),
/// and returns on every rank the number of ranks above it. Collective over `comm`.
inline int check_peak_rss(MPI_Comm comm, const char* what, std::uint64_t bound) {
  int rank = 0, size = 1;
  PARTITA_MPI(MPI_Comm_rank(comm, &rank));
  PARTITA_MPI(MPI_Comm_size(comm, &size));
  std::uint64_t mine = peak_rss_bytes();
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size));
  PARTITA_MPI(MPI_Gather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, comm));
  int over = 0;
  if (rank == 0) {
    for (int r = 0; r < size; ++r) {
      const bool bad = all[static_cast<std::size_t>(r)] > bound;
      over += bad ? 1 : 0;
      std::printf("%s: rank %d peak RSS %.1f MiB, bound %.1f MiB: %s\n", what, r,
                  static_cast<double>(all[static_cast<std::size_t>(r)]) / (1 << 20),
                  static_cast<double>(bound) / (1 << 20), bad ? "OVER" : "ok");
    }
  }
  PARTITA_MPI(MPI_Bcast(&over, 1, MPI_INT, 0, comm));
  return over;
}

}  // namespace partita::bench
