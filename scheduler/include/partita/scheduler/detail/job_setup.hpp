#pragma once
/// The model-agnostic start of a job run: configuration checks, the job's own communicator, the election,
/// thread counts, the failure history and --inject.

#include <mpi.h>

#include <cstdint>
#include <vector>

#include <partita/runtime/failure_history.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/scheduler_tree.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/model_kind.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// The job's own communicator (a duplicate with MPI_ERRORS_RETURN), so that messages of a job that failed can
/// never reach the next job run by the same ranks. Non-copyable, non-movable; collective to create and free.
class job_comm {
 public:
  explicit job_comm(MPI_Comm parent);
  ~job_comm();
  job_comm(const job_comm&) = delete;
  job_comm& operator=(const job_comm&) = delete;
  MPI_Comm get() const noexcept { return comm_; }
  /// Leaves the communicator to MPI without freeing it: operations on it that involve a lost rank may never
  /// complete (in-job rollback).
  void abandon() noexcept { comm_ = MPI_COMM_NULL; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// Whether a lost rank should be recovered inside the run (scheduler failover, iterative rollback): --failover,
/// or by default under `mpirun --enable-recovery`, which it needs; never with --no-failover.
bool in_job_recovery(const liveness_options& config) noexcept;

/// What every rank knows once the job is set up. Value type.
struct job_setup {
  MPI_Comm comm = MPI_COMM_NULL;       ///< the job's communicator (owned by a job_comm)
  rank_t scheduler;                    ///< the elected (or --scheduler-rank) scheduler
  std::vector<int> threads;            ///< kernel threads per rank; 0 for a dedicated scheduler
  clock::time_point t0;                ///< when the job started running (after the collectives)
  std::vector<failure_event> history;  ///< the job's failure history, read once at start-up
  scheduler_tree tree;                 ///< one or two levels: whom each rank reports to
  bool failover = false;               ///< a lost scheduler is replaced in the run (run_config::failover)

  int threads_of(rank_t r) const { return threads.at(static_cast<std::size_t>(r.value)); }
  /// The rank `r` talks to: the scheduler, or its node's scheduler with two levels.
  rank_t boss_of(rank_t r) const { return tree.boss_of(r); }
};

/// Refuses a configuration `model` cannot run (a usage_error naming the flag and the fix): a bad value, or an option
/// of the other model (dispatch_options for an iterative job, iterative_options for a map/reduce job) set away from
/// its default. The one place where either model's options are refused. Local and deterministic, so every rank
/// reaches the same verdict before anyone waits on anyone. The policy name is the map/reduce model's to check
/// (make_policy).
void check_run_config(const run_config& config, model_kind model);

/// The collective part: the election and the thread counts (the last collectives before the job runs).
/// Collective over `comm`.
job_setup set_up(session& s, const run_config& config, MPI_Comm comm);

/// Arms --inject on this rank: a crash point that SIGKILLs the rank, after recording the failure in the job's
/// failure history. `unit` names what "after=K" counts on a worker ("partition.done", "step.done"). An
/// injection the history shows as already fired stays disarmed, so a relaunch with the same arguments
/// (slurm/partita-launch.sh adds only --restart auto) runs to the end.
void arm_injection(const session& s, const run_config& config, const job_setup& setup,
                   const char* worker_point = "partition.done");

/// What decides a job's result: its parameters, seed and partition count (not the policy, threads or rank
/// count). A checkpoint of other parameters must never be mixed into a run.
std::uint64_t params_hash(const parameters& params, std::uint64_t seed, std::uint64_t partition_count);

/// Appends "rank R of job J lost: …" to the failure history (if the job has one; R numbered as in the launch);
/// logs instead of throwing. `rank` is a rank of s.comm().
void record_lost_rank(const session& s, const run_config& config, const std::string& job, int rank);

}  // namespace partita::detail
