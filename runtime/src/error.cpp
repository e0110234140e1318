#include <partita/runtime/error.hpp>

#include <mpi.h>

#include <string>

namespace partita {

namespace {
std::string mpi_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "unknown MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(len));
}
}  // namespace

mpi_error::mpi_error(std::string call, int code)
    : error(call + " failed: " + mpi_text(code) + " (MPI error " + std::to_string(code) + ")"), call_(std::move(call)),
      code_(code) {}

hdf5_error::hdf5_error(std::string call, std::string detail)
    : error(call + " failed: " + (detail.empty() ? std::string("HDF5 gave no detail") : detail)),
      call_(std::move(call)) {}

checkpoint_error::checkpoint_error(std::string file, std::string problem)
    : error("checkpoint " + file + ": " + problem), file_(std::move(file)), problem_(std::move(problem)) {}

kernel_error::kernel_error(std::string job, std::uint64_t partition, std::string message)
    : error("job '" + job + "' failed: the kernel threw on partition " + std::to_string(partition) + ": " + message),
      job_(std::move(job)), partition_(partition) {}

namespace detail {
void throw_mpi_error(const char* call, int code) { throw mpi_error(call, code); }
}  // namespace detail

}  // namespace partita
