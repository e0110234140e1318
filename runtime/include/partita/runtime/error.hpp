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
  /// Whether the failure was already logged once (by the scheduler rank, which also stopped the workers), so
  /// that the exit path does not print it again.
  bool reported() const noexcept { return reported_; }
  /// Marks it logged; rethrow the same object (`throw;`) to keep the mark.
  void mark_reported() const noexcept { reported_ = true; }

 private:
  mutable bool reported_ = false;
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
  /// What is wrong with it, without the file name (e.g. "checksum mismatch in /scheduler/cost").
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string file_;
  std::string problem_;
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

/// The job stopped at a checkpoint before it completed (a stop signal or the wall time): it has no result yet.
/// Relaunch it with --restart auto to finish it (exit code 75).
class job_stopped : public error {
 public:
  using error::error;
};

/// The job failed on another rank, which reported it; this rank only needs to exit non-zero.
class remote_failure : public error {
 public:
  explicit remote_failure(const std::string& what) : error(what) { mark_reported(); }
};

namespace detail {
[[noreturn]] void throw_mpi_error(const char* call, int code);
}  // namespace detail

}  // namespace partita

/// Checks an MPI call; on failure throws partita::mpi_error naming the call and MPI's error string.
/// Needs MPI_ERRORS_RETURN on the communicator (the session sets it).
#define PARTITA_MPI(...)                                                                         \
  do {                                                                                           \
    const int partita_mpi_rc_ = (__VA_ARGS__);                                                   \
    if (partita_mpi_rc_ != 0) ::partita::detail::throw_mpi_error(#__VA_ARGS__, partita_mpi_rc_); \
  } while (0)
