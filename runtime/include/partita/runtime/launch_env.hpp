#pragma once
/// The launch environment (Slurm and Open MPI variables, CPU affinity), read in one place.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace partita {

/// Which launcher started this process, as far as the environment tells.
enum class launcher { none, slurm, open_mpi };

/// What the launcher told this process. Value type.
struct launch_env {
  launcher kind = launcher::none;
  std::optional<std::string> job_id;                                  ///< SLURM_JOB_ID
  std::vector<std::string> nodes;                                     ///< SLURM_JOB_NODELIST / SLURM_NODELIST, expanded
  std::optional<int> cpus_per_task;                                   ///< SLURM_CPUS_PER_TASK
  std::optional<std::chrono::system_clock::time_point> job_end_time;  ///< SLURM_JOB_END_TIME
  std::optional<int> restart_count;                                   ///< SLURM_RESTART_COUNT (requeues so far)
  std::optional<int> world_rank;  ///< OMPI_COMM_WORLD_RANK, PMIX_RANK or SLURM_PROCID
  std::optional<int> world_size;  ///< OMPI_COMM_WORLD_SIZE or SLURM_NTASKS
  std::optional<int> local_rank;  ///< OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID
  int cpus_per_rank = 1;          ///< SLURM_CPUS_PER_TASK if set, else the CPUs in this process's affinity mask

  /// Seconds of wall time left, if the launcher gave an end time.
  std::optional<double> seconds_left(
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
};

/// Looks up one environment variable; tests pass a fake.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;

/// The real process environment.
std::optional<std::string> process_env(std::string_view name);

/// Reads the launch environment through `lookup`. Throws usage_error on a malformed variable,
/// naming the variable and its value. Thread-safe; cheap.
launch_env read_launch_env(const env_lookup& lookup = process_env);

/// Expands a Slurm host list: "n[01-03,07],gpu5" -> n01 n02 n03 n07 gpu5 (zero padding kept).
/// Throws usage_error naming the input on malformed text.
std::vector<std::string> expand_nodelist(std::string_view list);

/// Number of CPUs in this process's affinity mask (at least 1).
int affinity_cpu_count();

/// The rank this process will have, read from the launcher before MPI is initialised (0 if unknown).
/// Lets a program print a usage error on one rank only.
int launcher_rank_hint(const env_lookup& lookup = process_env);

}  // namespace partita
