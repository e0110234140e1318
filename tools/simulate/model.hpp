#pragma once
/// The scheduler protocol of partita::run in simulated time (SimGrid S4U actors): a root scheduler that drives a
/// real partita::dispatcher, optional node schedulers (two levels), and worker ranks whose threads run partitions.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "calibration.hpp"

namespace partita::simulate {

/// What to simulate (the options of partita_simulate).
struct model_options {
  int ranks = 4;
  int threads = 1;  ///< kernel threads per rank
  int levels = 1;   ///< 1: one scheduler serves every rank; 2: node schedulers in between
  int ranks_per_node = 32;
  int prefetch = 2;  ///< --prefetch of partita run
  std::string policy = "adaptive";
  std::uint64_t chunk = 0;                ///< --chunk (0: measured)
  bool scheduler_runs_partitions = true;  ///< rank 0 (the root) also runs partitions (partita run's default)
  bool speculate = true;
  bool take_back = true;  ///< idle ranks take back others' queued partitions once the queue is dry (--no-take-back)
  bool node_fold = true;  ///< two levels: node schedulers fold the aligned id blocks they hold whole (--no-node-fold)
  std::uint64_t partitions = 1000;
};

/// What one simulation predicts.
struct model_result {
  double makespan_s = 0;              ///< until the root has committed every partition
  double lower_bound_s = 0;           ///< max(sum of costs / threads, longest partition)
  double root_busy_s = 0;             ///< simulated time the root scheduler spent serving
  std::uint64_t root_messages = 0;    ///< messages the root received
  std::uint64_t dispatches = 0;       ///< assignment messages to ranks, as partita's summary counts them (two levels:
                                      ///< the node schedulers' to their ranks and themselves, the root's to the rest)
  std::uint64_t chunks = 0;           ///< chunks in those
  std::uint64_t root_dispatches = 0;  ///< assignment messages the root's dispatcher made (tally.messages)
  std::uint64_t root_chunks = 0;      ///< chunks in those (two levels: a node scheduler's count once, however split)
  double node_busy_max_s = 0;         ///< the busiest node scheduler's serving time (two levels)
  std::uint64_t node_messages = 0;    ///< messages all node schedulers received
  std::uint64_t speculative_copies = 0;
  std::uint64_t take_backs = 0;          ///< backlogs taken back for idle ranks (dispatcher::take_back_count)
  std::uint64_t node_take_backs = 0;     ///< the same inside nodes, by node schedulers (node_pool::take_backs)
  std::uint64_t root_results = 0;        ///< results the root committed one by one
  std::uint64_t root_blocks = 0;         ///< blocks it committed as one value (a node scheduler folded them)
  std::uint64_t root_block_commits = 0;  ///< the dispatcher commits they took (a run of consecutive blocks is one)
  int nodes = 1;
  int total_threads = 0;

  // Where the time goes (predict.py's breakdown of a row).
  double queue_empty_s = 0;         ///< when the root's queue of unassigned partitions ran empty (the tail starts)
  double root_busy_tail_s = 0;      ///< root_busy_s spent after that
  double root_message_busy_s = 0;   ///< root_busy_s per message (calibration message_s each)
  double root_result_busy_s = 0;    ///< ... per result committed one by one (complete_s + result_s each)
  double root_block_busy_s = 0;     ///< ... per folded block (result_s each, complete_s per run)
  double root_chunk_busy_s = 0;     ///< ... per chunk handed out (assign_s each)
  std::uint64_t root_requests = 0;  ///< messages the root received that asked for work (the rest carry results)
  double node_busy_mean_s = 0;      ///< node schedulers' mean serving time (two levels)
  double thread_busy_s = 0;         ///< kernel threads' busy time (kernels + executor overhead), summed
  double thread_start_idle_s = 0;   ///< summed over threads: idle before their first partition
  double thread_tail_idle_s = 0;    ///< summed over threads: idle after their last partition, to the makespan
  double last_partition_end_s = 0;  ///< when the last partition ended (the rest of the makespan: results going up)
};

/// Runs one simulation on the SimGrid platform `platform` (its hosts must be named by node_host()); the engine
/// must have been made by the caller (one per process). `costs[id]` is partition id's kernel time.
model_result run_model(const model_options& options, const calibration& cal, const std::vector<float>& costs,
                       const std::filesystem::path& platform);

}  // namespace partita::simulate
