#pragma once
/// What a finished job reports: result, wall time, per-worker busy/idle, imbalance, dispatches.

#include <cstdint>
#include <string>
#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/model_kind.hpp>

namespace partita {

/// How the job ended on this rank.
enum class run_status {
  completed,     ///< every partition committed; `result` is final
  checkpointed,  ///< stopped on a signal after a checkpoint; relaunch with --restart auto (exit code 75)
};

struct worker_summary {
  int rank = 0;
  std::string host;
  int threads = 0;
  double busy_seconds = 0;  ///< time inside kernels, summed over its threads
  double idle_seconds = 0;  ///< threads × wall − busy
  std::uint64_t partitions = 0;
  std::uint64_t chunks = 0;
  std::uint64_t messages = 0;
  std::uint64_t copies = 0;          ///< speculative copies it ran
  std::uint64_t copies_won = 0;      ///< of those, committed
  std::uint64_t taken_back = 0;      ///< partitions it took back from another rank's backlog (map/reduce)
  double framework_cpu_seconds = 0;  ///< CPU this rank used outside kernels: Partita's own threads (and MPI's)
  bool lost = false;
  std::uint64_t executed = 0;  ///< partitions its kernels ran in this run (duplicates and re-runs included)
  input_stats input;           ///< its reads of the job's declared input (map/reduce data path)
  output_stats output;         ///< its writes of the job's declared per-partition output (map/reduce data path)
};

/// A scheduler failover inside the run (docs/design.md, "Scheduler failover"), as the new scheduler saw it.
struct failover_summary {
  int lost_scheduler = -1;
  int new_scheduler = -1;
  std::uint64_t term = 0;
  double noticed_at_seconds = 0;      ///< since the job's start: the silence was noticed
  double resumed_at_seconds = 0;      ///< since the job's start: the state was rebuilt and work went on
  std::string checkpoint;             ///< the checkpoint it rebuilt from ("" none)
  std::uint64_t from_checkpoint = 0;  ///< partitions committed in that checkpoint
  std::uint64_t from_workers = 0;     ///< results no checkpoint held, reported by the survivors
  std::uint64_t adopted_running = 0;  ///< partitions the survivors were running, left with them
  std::uint64_t dropped = 0;          ///< results the survivors had dropped (--failover-memory)
  std::uint64_t to_run = 0;           ///< partitions still to hand out at the takeover (some ran before)
  std::uint64_t rerun = 0;            ///< of those, below the highest id known done or running: work the lost
                                      ///< scheduler had handed out (its own results, assignments in flight) that
                                      ///< runs again (exact for policies that hand out ids in order, not static/cost)
  std::vector<int> lost_ranks;        ///< the lost scheduler and ranks that did not report
};

/// An in-job rollback of an iterative job (docs/design.md, "In-job rollback"): ranks were lost, the survivors went
/// on from the last checkpoint in the same run.
struct rollback_summary {
  std::vector<int> lost_ranks;  ///< ranks lost, numbered as in the launch (mpirun, srun)
  int ranks_before = 0;
  int ranks_after = 0;
  double noticed_at_seconds = 0;   ///< since the run's start: a bounded wait ran out
  double resumed_at_seconds = 0;   ///< since the run's start: the survivors went on
  std::uint64_t lost_at_step = 0;  ///< the last step every rank had finished
  std::uint64_t from_step = 0;     ///< the step the survivors went on from (the checkpoint's; 0: the start)
  std::string checkpoint;          ///< the checkpoint they went on from ("" none)
};

/// The progress line's figures at one moment of the run (`partita report` draws progress against the ETA predicted
/// then). Plain data.
struct progress_sample {
  double at_seconds = 0;  ///< since the run's start
  std::uint64_t done = 0;
  double eta_seconds = -1;  ///< the ETA shown then (< 0: unknown)
};

/// Something that happened to the run at a moment, for `partita report`'s timeline: a checkpoint, a rebalance.
/// (Failovers and rollbacks have their own records, with their times.) Plain data.
struct run_event {
  std::string kind;       ///< "checkpoint" | "rebalance"
  double at_seconds = 0;  ///< since the run's start
  double seconds = 0;     ///< how long it took (0: a moment)
  std::string text;
  std::int64_t step = -1;  ///< iterative: the step it came after (-1: none)
};

/// The figures only a map/reduce run fills in (an iterative run leaves them at their defaults).
struct map_reduce_figures {
  bool speculation = false;  ///< speculative execution was on
  double speculation_factor = 0;
  std::uint64_t speculative_copies = 0;     ///< copies of straggling partitions handed to idle workers
  std::uint64_t speculative_won = 0;        ///< copies whose result was committed (finished before the original)
  std::uint64_t take_backs = 0;             ///< backlogs taken back from a busy rank for an idle one
  std::uint64_t taken_back = 0;             ///< partitions they moved
  int scheduler_levels = 1;                 ///< 2: node schedulers between the scheduler and their nodes' ranks
  std::uint64_t scheduler_messages = 0;     ///< messages the scheduler rank received from workers while the job ran
  double scheduler_busy_seconds = 0;        ///< time the scheduler rank spent handling them
  std::uint64_t fold_block = 0;             ///< the size of the aligned id blocks results are folded over
  std::uint64_t blocks_committed = 0;       ///< blocks committed as one value (folded by a node scheduler)
  std::uint64_t block_commits = 0;          ///< the dispatcher commits they took (a run of consecutive blocks: one)
  std::uint64_t results_committed = 0;      ///< results committed one by one (this run)
  std::uint64_t restored_costs = 0;         ///< measured partition costs the restored checkpoint brought (cost policy)
  std::vector<failover_summary> failovers;  ///< scheduler failovers in this run (the last one, on its scheduler)
};

/// The figures only an iterative run fills in; map/reduce summaries do not show them.
struct iterative_figures {
  std::uint64_t steps = 0;      ///< steps done over all runs
  std::uint64_t steps_run = 0;  ///< steps done in this run
  std::vector<std::string> reduction_names;
  std::vector<double> reduction_values;  ///< after the last step, on every rank
  std::uint64_t migrations = 0;          ///< partitions moved to another rank by rebalancing
  std::uint64_t steps_overlapped = 0;    ///< partition steps run while halos from other ranks were on their way
  std::uint64_t rebalances = 0;          ///< placement changes
  double imbalance_start = 1;            ///< measured imbalance (max/mean cost per rank) of the first placement
  double imbalance_end = 1;              ///< of the last placement, with the last measured costs
  std::string state_digest;              ///< FNV-1a 64 of the partitions' final-state digests in id order (completed)
  std::vector<rollback_summary> rollbacks;  ///< in-job rollbacks after lost ranks, in order
  /// The measured imbalance (max/mean kernel seconds per thread over ranks) of steps of this run: one value every
  /// `step_imbalance_stride` steps from its first (the stride doubles to keep at most 1024 values).
  std::vector<double> step_imbalance;
  std::uint64_t step_imbalance_stride = 1;
  std::string output_file;         ///< --output: the file written when the job completed ("" none)
  std::uint64_t output_bytes = 0;  ///< its size
  double output_seconds = 0;       ///< the time its collective write and commit took
};

/// The outcome of run(): what both models report, and the figures of the job's model (`model` says which).
/// On every rank: status, result bytes and text. Timings and per-worker figures are complete on the scheduler
/// rank (is_scheduler). Value type.
struct run_report {
  std::string job;
  model_kind model = model_kind::map_reduce;
  std::string policy;
  run_status status = run_status::completed;
  bool is_scheduler = false;
  rank_t scheduler{0};
  int ranks = 1;
  std::uint64_t partitions = 0;
  std::uint64_t partitions_run = 0;  ///< in this run (less than partitions after a restart)
  double wall_seconds = 0;
  double imbalance = 1;          ///< max worker busy / mean worker busy, per thread
  std::uint64_t dispatches = 0;  ///< assignment messages (including the scheduler's own executor)
  std::uint64_t chunks = 0;
  double framework_cpu_seconds = 0;  ///< CPU all ranks used outside kernels (sum of the workers' figures)
  std::vector<worker_summary> workers;
  bytes result;             ///< the accumulator's bytes
  std::string result_text;  ///< the result as printed
  // Checkpoints (filled when checkpointing is on).
  std::uint64_t checkpoints = 0;
  double checkpoint_seconds = 0;
  std::uint64_t checkpoint_bytes = 0;
  std::string restored_from;              ///< the checkpoint this run started from ("" if fresh)
  std::uint64_t restored_done = 0;        ///< partitions (iterative: the step) already done in it
  std::string stop_reason;                ///< why a checkpointed run stopped (signal, wall time)
  std::vector<progress_sample> progress;  ///< the progress line over the run (at most 512 samples, evenly spread)
  std::vector<run_event> events;          ///< checkpoints and rebalances, in time order
  map_reduce_figures map_reduce;          ///< model == model_kind::map_reduce
  iterative_figures iterative;            ///< model == model_kind::iterative

  /// The version of the JSON document to_json() writes (its "summary_version"; docs/summary-json.md): `partita
  /// report` reads this version only.
  static constexpr int summary_version = 1;
  /// The summary as a JSON document (text, indented), as --summary-json writes it.
  std::string to_json() const;
  /// The summary as text, as `partita run` prints it (without --quiet).
  std::string to_text() const;
};

}  // namespace partita
