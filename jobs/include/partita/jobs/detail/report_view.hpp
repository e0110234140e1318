#pragma once
/// One run as `partita report` draws it: read from its summary JSON and trace, checked, and reduced to what the
/// plots need (per-rank busy time in fixed time buckets, a histogram of partition times, the slowest partitions).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace partita::detail {

/// A rank's row: the summary's figures, and with a trace its busy share per time bucket.
struct report_rank {
  int rank = 0;
  std::string host;
  int threads = 0;
  double busy_seconds = 0, idle_seconds = 0;
  std::uint64_t partitions = 0;
  bool lost = false;
  std::vector<float> busy;  ///< per bucket: kernel time / (threads x bucket length), 0..1 (empty without a trace)
};

/// A moment or span on the timeline: checkpoint, rebalance, failover, rollback (from the summary).
struct report_marker {
  std::string kind;
  double at_seconds = 0, seconds = 0;
  std::string text;
  std::int64_t step = -1;
};

/// A partition (or partition step) that took long, from the trace.
struct report_slow {
  std::uint64_t id = 0;
  int rank = 0;
  double start_seconds = 0, seconds = 0;
};

/// Everything a page shows of one run. Value type.
struct report_view {
  std::string source;  ///< the summary's file name, as given
  std::string job, model, status, policy, result, stop_reason;
  int ranks = 0, scheduler_rank = 0;
  std::uint64_t partitions = 0, total = 0;  ///< total: partitions, or steps of an iterative job
  std::string unit = "partitions";
  double wall_seconds = 0, imbalance = 1;
  std::uint64_t checkpoints = 0, migrations = 0;
  double checkpoint_seconds = 0;
  std::vector<report_rank> rows;
  bool has_trace = false;
  std::uint64_t slices = 0;  ///< slices read from the trace
  int buckets = 0;           ///< timeline columns per rank
  double bucket_seconds = 0;
  std::vector<std::uint64_t> histogram;           ///< counts per log-spaced bin of slice times
  double histogram_min = 0, histogram_max = 0;    ///< seconds at the first bin's lower and the last bin's upper edge
  std::vector<report_slow> slowest;               ///< the slowest slices, slowest first
  std::vector<double> progress_at, progress_eta;  ///< seconds since the start; the ETA predicted then (< 0 unknown)
  std::vector<std::uint64_t> progress_done;
  std::vector<report_marker> markers;
  std::vector<double> step_imbalance;
  std::uint64_t step_imbalance_stride = 1, steps_at_start = 0;
  std::vector<std::string> history;  ///< failure history lines (host, time, reason)
};

/// Reads a run. `buckets`: timeline columns per rank. Throws usage_error in one line naming the file and the
/// problem: not JSON or cut short, another version's summary or trace (summary_version, trace_version), a trace
/// of another job.
report_view read_report_view(const std::filesystem::path& summary, const std::optional<std::filesystem::path>& trace,
                             const std::optional<std::filesystem::path>& failure_history, int buckets = 600);

}  // namespace partita::detail
