#pragma once
/// How a job runs, in parts: where and how it starts (launch), how map/reduce work is handed out (dispatch), how
/// lost peers are found (liveness), checkpoints, what it prints and writes (output), and how an iterative job
/// rebalances (iterative). Filled from the command line (partita::add_run_options) or by a program's own main().
/// Each piece of the machinery takes only the part it reads; each model refuses the other model's part
/// (detail::check_run_config).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <partita/checkpoint/output_io.hpp>

namespace partita {

/// A failure to rehearse (--inject, docs/design.md, "Fault injection"): SIGKILL a rank after it ran `after` partitions,
/// or the scheduler rank after it committed `after` results.
struct injected_failure {
  std::optional<int> rank;  ///< the rank to kill; none: the scheduler rank
  long after = 1;

  /// "kill:rank=R:after=K" or "kill:scheduler:after=K"; nullopt for anything else (R >= 0, K >= 1).
  static std::optional<injected_failure> parse(const std::string& spec) {
    int r = -1;
    long k = 0;
    char tail = 0;
    if (std::sscanf(spec.c_str(), "kill:rank=%d:after=%ld%c", &r, &k, &tail) == 2 && r >= 0 && k >= 1)
      return injected_failure{r, k};
    if (std::sscanf(spec.c_str(), "kill:scheduler:after=%ld%c", &k, &tail) == 1 && k >= 1)
      return injected_failure{std::nullopt, k};
    return std::nullopt;
  }
  /// The spec in its normal form (what the failure history records).
  std::string text() const {
    return (rank ? "kill:rank=" + std::to_string(*rank) : std::string("kill:scheduler")) +
           ":after=" + std::to_string(after);
  }
  friend bool operator==(const injected_failure&, const injected_failure&) = default;
};

/// Where and how the job starts on its ranks: both models. Value type.
struct launch_options {
  int threads = 0;                         ///< --threads per rank; 0: SLURM_CPUS_PER_TASK or the affinity mask
  std::uint64_t seed = 1;                  ///< --seed for the per-partition random streams
  std::optional<int> scheduler_rank;       ///< --scheduler-rank N overrides the election
  std::filesystem::path failure_history;   ///< --failure-history F (see run_config::failure_history_file())
  std::optional<injected_failure> inject;  ///< --inject kill:rank=R:after=K | kill:scheduler:after=K
  friend bool operator==(const launch_options&, const launch_options&) = default;
};

/// How the map/reduce scheduler hands out partitions (docs/design.md, "Scheduler and workers"). An iterative job
/// places partitions by measured cost instead and refuses every one of these that is not at its default. Value type.
struct dispatch_options {
  std::string policy = "adaptive";  ///< --policy: static, dynamic, guided, factoring, adaptive, cost
  std::uint64_t chunk = 0;          ///< --chunk: partitions per chunk for dynamic, a floor for the others; 0: measured
  int prefetch = 2;                 ///< --prefetch: chunks a worker rank keeps queued beyond one per thread (at least;
                                    ///< detail::prefetch_depth)
  int max_chunks_per_message = 0;   ///< chunks one request may ask for; 0: as many as the worker lacks
  bool scheduler_runs_partitions = true;  ///< --dedicated-scheduler turns it off
  bool speculate = true;                  ///< --speculate / --no-speculate: idle workers run copies of stragglers
  double speculation_factor = 3.0;        ///< --speculation-factor K: overdue after K × the expected time (>= 0.1 s)
  bool take_back = true;     ///< --take-back / --no-take-back: idle workers take back other workers' queued partitions
  int scheduler_levels = 0;  ///< --scheduler-levels 1|2; 0: two levels from 1024 ranks on (docs/design.md)
  int ranks_per_node = 0;    ///< --ranks-per-node k: every k ranks are a "node" for two levels; 0: real nodes
  friend bool operator==(const dispatch_options&, const dispatch_options&) = default;
};

/// How silent peers are found and what happens when one is lost: both models. Value type.
struct liveness_options {
  double heartbeat_seconds = 1.0;  ///< a silent peer sends a heartbeat this often
  double timeout_seconds = 60.0;   ///< a peer silent this long is lost
  /// --failover / --no-failover: when the scheduler is lost, the survivors elect a new one and the job goes on in
  /// the same run (needs `mpirun --enable-recovery`). -1: on exactly when running under it.
  int failover = -1;
  std::uint64_t failover_memory = 256ull << 20;  ///< --failover-memory: bytes of results a worker keeps until a
                                                 ///< checkpoint holds them (beyond: the oldest are dropped and re-run)
  friend bool operator==(const liveness_options&, const liveness_options&) = default;
};

/// Checkpoints and restarts (docs/design.md, "Checkpoints"): both models. Nothing is written without a checkpoint
/// directory. Value type.
struct checkpoint_options {
  std::optional<std::filesystem::path> checkpoint_dir;  ///< --checkpoint-dir D
  int keep = 3;                                         ///< --keep N: committed checkpoints kept per job
  std::uint64_t checkpoint_every_partitions = 0;        ///< --checkpoint-every N: after N more results, or steps of an
                                                        ///< iterative job (0: off)
  double checkpoint_every_seconds = 0;                  ///< --checkpoint-every Ts: after T seconds (0: off)
  bool checkpoint_interval_auto = false;                ///< --checkpoint-interval auto: Young/Daly
  double mtti_seconds = 0;                 ///< --mtti S: mean time to interrupt (0: from the failure history)
  std::optional<double> walltime_seconds;  ///< --walltime: overrides SLURM_JOB_END_TIME (seconds from start)
  std::optional<std::string> restart;      ///< --restart auto | FILE
  friend bool operator==(const checkpoint_options&, const checkpoint_options&) = default;
};

/// What the run prints and writes besides its result: both models. Value type.
struct output_options {
  std::optional<std::filesystem::path> summary_json;  ///< --summary-json F
  std::optional<std::filesystem::path> trace;         ///< --trace F (Chrome trace-event JSON)
  bool quiet = false;                                 ///< no progress line or summary text
  double progress_interval_seconds = 5;               ///< log-line progress period when stderr is not a terminal
  // Live metrics (docs/metrics.md).
  std::optional<std::filesystem::path> metrics_file;  ///< --metrics-file F: Prometheus text, rewritten atomically
  double metrics_interval_seconds = 2;                ///< --metrics-interval S: seconds between rewrites
  std::optional<int> metrics_port;                    ///< --metrics-port P: serve the same text over HTTP (0: any)
  std::string metrics_address = "127.0.0.1";          ///< --metrics-address A: where --metrics-port listens
  /// --output FILE: an iterative job writes its final state there when it completes, collectively, in the
  /// checkpoint layout (docs/design.md, "Iterative output"). A map/reduce job refuses it.
  std::optional<std::filesystem::path> output;
  bool overwrite_output = false;  ///< --overwrite-output: replace a FILE of another job (else refused, exit 2)
  /// --output-io direct|page-cache: how a map/reduce job's declared output blocks are written (O_DIRECT where it
  /// can, or always through the page cache); durable before their partitions commit either way.
  partita::output_io output_io = partita::output_io::direct;
  friend bool operator==(const output_options&, const output_options&) = default;
};

/// How an iterative job rebalances (docs/design.md, "Iterative jobs"). A map/reduce job refuses every one of these
/// that is not at its default. Value type.
struct iterative_options {
  std::uint64_t
      rebalance_every_steps = 0;  ///< --rebalance-every K: re-place partitions by measured cost every K steps (0: off)
  double
      imbalance_threshold = 1.1;  ///< --imbalance-threshold X: re-place when max/mean busy per rank passes X (0: off)
  /// --final-gather-limit B: the bytes of final states the coordinator may gather for a job that keeps them
  /// (iterative_job::keep_final_states); more is a usage error before anything is sent. 0: no limit but MPI's.
  std::uint64_t final_gather_limit = 0;
  friend bool operator==(const iterative_options&, const iterative_options&) = default;
};

/// The whole configuration of a run: its parts, each readable by itself (`const dispatch_options& d = config;`),
/// their fields reachable directly (`config.policy`). Value type.
struct run_config : launch_options,
                    dispatch_options,
                    liveness_options,
                    checkpoint_options,
                    output_options,
                    iterative_options {
  /// The failure history the job reads (runtime/failure_history.hpp): --failure-history, else
  /// <checkpoint dir>/failure-history (where slurm/partita-launch.sh writes by default), else none.
  /// Its hosts are never elected scheduler; its timed events give the mean time to interrupt.
  std::filesystem::path failure_history_file() const {
    if (!failure_history.empty()) return failure_history;
    if (checkpoint_dir) return *checkpoint_dir / "failure-history";
    return {};
  }
};

}  // namespace partita
