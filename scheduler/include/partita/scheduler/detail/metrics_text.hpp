#pragma once
/// A running job's figures as Prometheus text (exposition format 0.0.4, which OpenMetrics scrapers read too): what
/// --metrics-file writes and --metrics-port serves (docs/metrics.md lists every metric). No MPI.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace partita::detail {

/// The labels on every metric of a job: which job, which model, which parameters (a job's series stay apart when
/// one textfile collector reads the files of several). Value type.
struct metrics_labels {
  std::string job;
  std::string model;        ///< "map_reduce" | "iterative"
  std::string params_hash;  ///< the parameters hash as checkpoints record it, 0x + 16 hex digits
};

/// One rank's share of the work, as the scheduler knows it.
struct rank_metrics {
  int threads = 0;           ///< kernel threads (0: runs no partitions; no busy figures are written for it)
  double busy_seconds = 0;   ///< kernel time so far, summed over its threads
  double busy_fraction = 0;  ///< of its threads' time over the last interval (the whole run in the final write)
};

/// What a job's metrics say at one moment. The model fills it from the figures its progress line and summary read;
/// figures a model does not have stay empty and are not written. Value type.
struct metrics_snapshot {
  std::string state = "running";    ///< running | completed | checkpointed | failed
  std::string unit = "partitions";  ///< what done/total count: partitions (map/reduce) | steps (iterative)
  std::uint64_t done = 0;
  std::uint64_t total = 0;
  double elapsed_seconds = 0;  ///< since the run started
  double rate_per_second = 0;  ///< units done per second in this run
  double eta_seconds = -1;     ///< < 0: unknown (not written)
  std::vector<rank_metrics> ranks;
  std::optional<std::uint64_t> chunks;    ///< chunks handed out (map/reduce)
  std::optional<std::uint64_t> messages;  ///< work requests answered (map/reduce)
  std::uint64_t checkpoints = 0;
  double checkpoint_seconds = 0;
  std::uint64_t checkpoint_bytes = 0;
  std::uint64_t lost_ranks = 0;
  std::uint64_t failovers = 0;
  std::uint64_t rollbacks = 0;
  std::optional<std::uint64_t> speculative_copies;  ///< map/reduce
  std::optional<std::uint64_t> speculative_won;     ///< map/reduce
  std::optional<std::uint64_t> taken_back;          ///< map/reduce: partitions taken back for idle ranks
  std::optional<std::uint64_t> migrations;          ///< iterative
  /// The data path (map/reduce with a declared input or output): bytes of the blocks of the partitions done.
  std::optional<std::uint64_t> input_bytes, output_bytes;
  /// What the ranks read and wrote, re-reads and rewrites after faults and speculative copies included: known from
  /// the ranks' end-of-job figures, so only in the final write (an iterative job's --output file too).
  std::optional<std::uint64_t> input_read_bytes, output_written_bytes;
  double timestamp_seconds = 0;  ///< Unix time of the snapshot
};

/// The snapshot as Prometheus text: a HELP and a TYPE line per metric, the `partita_` prefix, units in the names,
/// counters ending in `_total`, `labels` on every sample (values escaped). Pure; costs a few microseconds per rank.
std::string format_metrics(const metrics_labels& labels, const metrics_snapshot& snap);

}  // namespace partita::detail
