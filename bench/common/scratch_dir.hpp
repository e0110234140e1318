#pragma once
/// The scratch folder of a benchmark that works on files: given on the command line, or a fresh temporary one.

#include <mpi.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <partita/runtime/error.hpp>

namespace partita::bench {

/// The folder every rank uses: `given` if not empty, else `$TMPDIR` (or /tmp) + "/partita-<name>-<pid of rank 0>"
/// (`temporary` is then true: the caller removes it). Rank 0 creates it. Collective over `comm`.
inline std::string scratch_dir(MPI_Comm comm, const std::string& given, const std::string& name, bool& temporary) {
  int rank = 0;
  PARTITA_MPI(MPI_Comm_rank(comm, &rank));
  std::string dir = given;
  temporary = given.empty();
  if (rank == 0 && dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/partita-" + name + "-" + std::to_string(::getpid());
  }
  int n = static_cast<int>(dir.size());
  PARTITA_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, comm));
  dir.resize(static_cast<std::size_t>(n));
  PARTITA_MPI(MPI_Bcast(dir.data(), n, MPI_CHAR, 0, comm));
  if (rank == 0) std::filesystem::create_directories(dir);
  PARTITA_MPI(MPI_Barrier(comm));
  return dir;
}

}  // namespace partita::bench
