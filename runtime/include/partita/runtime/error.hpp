#pragma once
/// The one exception hierarchy of Partita and the checker every MPI call goes through.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace partita {

/// Root of every exception Partita throws at an API boundary.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An MPI call failed: carries the call text, MPI's error class and error string.
class mpi_error : public error {
 public:
  mpi_error(std::string call, int code);
  const std::string& call() const noexcept { return call_; }
  int code() const noexcept { return code_; }

 private:
  std::string call_;
  int code_;
};

/// An HDF5 call failed: carries the call text and HDF5's innermost error message.
class hdf5_error : public error {
 public:
  hdf5_error(std::string call, std::string detail);
  const std::string& call() const noexcept { return call_; }

 private:
  std::string call_;
};

/// A checkpoint cannot be used: names the file and the problem.
class checkpoint_error : public error {
 public:
  checkpoint_error(std::string file, std::string problem);
  const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
};

/// The user asked for something impossible (bad flag, unknown job, bad parameter); `what()` names the fix.
class usage_error : public error {
 public:
  using error::error;
};

/// A user kernel threw: names the job, the partition and the kernel's message.
class kernel_error : public error {
 public:
  kernel_error(std::string job, std::uint64_t partition, std::string message);
  const std::string& job() const noexcept { return job_; }
  std::uint64_t partition() const noexcept { return partition_; }

 private:
  std::string job_;
  std::uint64_t partition_;
};

/// The job failed on another rank, which reported it; this rank only needs to exit non-zero.
class remote_failure : public error {
 public:
  using error::error;
};

namespace detail {
[[noreturn]] void throw_mpi_error(const char* call, int code);
}  // namespace detail

}  // namespace partita

/// Checks an MPI call; on failure throws partita::mpi_error naming the call and MPI's error string.
/// Needs MPI_ERRORS_RETURN on the communicator (the session sets it).
#define PARTITA_MPI(...)                                                  \
  do {                                                                    \
    const int partita_mpi_rc_ = (__VA_ARGS__);                            \
    if (partita_mpi_rc_ != 0) ::partita::detail::throw_mpi_error(#__VA_ARGS__, partita_mpi_rc_); \
  } while (0)
