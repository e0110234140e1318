#pragma once
/// The scoped start-up of a Partita process: MPI, node map, launch environment, signals, logging.

#include <mpi.h>

#include <chrono>
#include <memory>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/node_map.hpp>
#include <string_view>
#include <vector>

namespace partita {

/// MPI thread support a job needs.
enum class thread_level {
  single = MPI_THREAD_SINGLE,
  funneled = MPI_THREAD_FUNNELED,
  serialized = MPI_THREAD_SERIALIZED,
  multiple = MPI_THREAD_MULTIPLE
};

struct session_options {
  thread_level threads = thread_level::funneled;  ///< the least MPI thread support acceptable
  bool catch_signals = true;                      ///< SIGTERM/SIGUSR1/SIGUSR2 into pollable flags
};

/// One per process, for the life of the program (RAII, non-copyable, non-movable).
/// Initialises MPI at the requested thread level, or adopts MPI if the caller already did (and
/// then leaves finalising to the caller). Sets MPI_ERRORS_RETURN, builds the node map, reads the
/// launch environment, installs signal flags and the rank/host log prefix.
///
///     partita::session s(argc, argv);
///     if (s.rank() == partita::rank_t{0}) std::puts("hello from the first rank");
///
/// Collective over MPI_COMM_WORLD. Throws mpi_error, or error if MPI gives less thread support.
class session {
 public:
  session(int& argc, char**& argv, session_options options = {});
  explicit session(session_options options = {});
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The job's communicator (a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN). Owned by the session.
  MPI_Comm comm() const noexcept { return comm_; }
  rank_t rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  const node_map& nodes() const noexcept { return nodes_; }
  const launch_env& env() const noexcept { return env_; }
  thread_level provided() const noexcept { return provided_; }
  /// True if this session called MPI_Init and will call MPI_Finalize.
  bool owns_mpi() const noexcept { return owns_mpi_; }

  /// Goes on with only the ranks `survivors` (ranks of comm(), ascending, this one among them) after the others
  /// were lost: comm() becomes a communicator of theirs (MPI_Comm_create_group, collective over the survivors only:
  /// Open MPI 4.1 completes it with dead ranks in the old one, see docs/design.md, "In-job rollback"), and rank(),
  /// size() and nodes() follow it. The old communicator is left as it is: operations on it that involve a lost
  /// rank may never complete, so it is neither used nor freed again. Collective over the survivors.
  void continue_with(const std::vector<int>& survivors);
  /// How many times continue_with narrowed the session (0: every rank of the start is in it).
  int generation() const noexcept { return generation_; }
  /// The rank in the launch (MPI_COMM_WORLD: what mpirun and srun number, and operators see) of rank `r` of comm():
  /// `r` itself until continue_with renumbers the survivors.
  int launch_rank(int r) const { return launch_ranks_.at(static_cast<std::size_t>(r)); }

  /// The code this process will exit with, set before the session ends. A non-zero one is made visible to
  /// `mpirun --enable-recovery` (which would otherwise exit 0) once MPI is finalised: see exit_status.hpp.
  void set_exit_code(int code) noexcept { exit_code_ = code; }

 private:
  void start(int* argc, char*** argv, const session_options& options);
  /// Makes `comm` the session's communicator (MPI_ERRORS_RETURN) and reads rank, size and node map from it.
  void use(MPI_Comm comm);

  MPI_Comm comm_ = MPI_COMM_NULL;
  rank_t rank_{0};
  int size_ = 1;
  node_map nodes_;
  launch_env env_;
  thread_level provided_ = thread_level::single;
  bool owns_mpi_ = false;
  int exit_code_ = 0;
  int generation_ = 0;
  std::vector<int> launch_ranks_;  // launch rank of each rank of comm_
};

/// Ends a process that found a usage error before its session started (bad flag, unknown job):
/// prints `message` on the first rank only, then leaves on every rank together. Under mpirun a
/// rank that exits non-zero gets the others killed, so without the meeting the first rank could
/// be killed before its message is out. The meeting is an MPI_Ibarrier bounded by `patience`
/// (a rank that disagrees cannot hang the others) and happens only under a launcher that
/// started more than one process. Call it on every rank.
[[noreturn]] void exit_together(int code, std::string_view message,
                                std::chrono::milliseconds patience = std::chrono::seconds(10));

}  // namespace partita
