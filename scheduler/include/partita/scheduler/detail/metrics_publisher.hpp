#pragma once
/// Live metrics of a running job on the scheduler rank (--metrics-file, docs/metrics.md): when to write, the busy
/// fraction of each rank over the last interval, and the final write with the job's end state.

#include <memory>
#include <optional>
#include <string>

#include <partita/scheduler/detail/metrics_file.hpp>
#include <partita/scheduler/detail/metrics_server.hpp>
#include <partita/scheduler/detail/metrics_text.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// Publishes a model's metrics snapshots every --metrics-interval seconds to --metrics-file and, with --metrics-port,
/// to an HTTP server it starts at its first write (so only the rank that writes listens). Off (due() is always
/// false, nothing is allocated) without either. Called from the loop that shows progress; single-threaded.
/// Non-copyable.
///
///     if (metrics.due(now)) metrics.publish(snapshot(), now);
class metrics_publisher {
 public:
  metrics_publisher(const output_options& o, metrics_labels labels);
  metrics_publisher(const metrics_publisher&) = delete;
  metrics_publisher& operator=(const metrics_publisher&) = delete;

  bool enabled() const noexcept { return on_; }
  /// Whether a write is due at `now`: one comparison (a time point far in the future when off).
  bool due(clock::time_point now) const noexcept { return now >= next_; }
  /// Writes `snap`, its ranks' busy_fraction computed here from their busy seconds since the previous write. The
  /// next write is due one interval after this one was (a slow round does not shift every later write).
  void publish(metrics_snapshot snap, clock::time_point now = clock::now());
  /// The last write, with the job's end state: `snap` as given (see add_final_figures), then no more writes.
  void conclude(metrics_snapshot snap);
  /// The last write when the job fails: the previous snapshot again with state failed (nothing if none was
  /// written). Never throws.
  void fail() noexcept;
  /// The port --metrics-port listens on (0: not serving).
  int serving_port() const noexcept { return server_ ? server_->port() : 0; }
  /// The text written last ("" before the first write).
  const std::string& text() const noexcept { return text_; }

  /// Counts an in-job rollback that lost `lost_ranks` ranks (an iterative job goes on in a new attempt; every
  /// later snapshot carries it).
  void note_rollback(std::uint64_t lost_ranks);
  std::uint64_t rollbacks() const noexcept { return rollbacks_; }
  std::uint64_t lost_ranks() const noexcept { return lost_ranks_; }

 private:
  void write(metrics_snapshot& snap);

  metrics_labels labels_;
  double interval_;
  bool on_ = false;
  std::unique_ptr<metrics_file> file_;
  std::optional<int> port_;  // --metrics-port, until the server is started (or could not be)
  std::string address_;
  std::unique_ptr<metrics_server> server_;
  clock::time_point next_ = clock::time_point::max();
  std::optional<clock::time_point> last_;
  std::vector<double> last_busy_;  // per rank, at the previous write
  std::string text_;
  std::optional<metrics_snapshot> last_snap_;  // for fail()
  std::uint64_t rollbacks_ = 0, lost_ranks_ = 0;
};

/// Fills `snap` from the end-of-job summary `rep` (complete on the scheduler rank): the state, each rank's busy
/// fraction over the whole run, checkpoints, lost ranks, rollbacks, failovers, chunks and messages, speculative
/// copies, migrations. done/total/rate/ETA stay the caller's (the progress line's figures).
void add_final_figures(metrics_snapshot& snap, const run_report& rep);

/// "0x" and the 16 hex digits of a parameters hash, as `partita inspect` prints it.
std::string hash_label(std::uint64_t hash);

/// Seconds since the Unix epoch, now (metrics timestamps).
double unix_seconds_now();

}  // namespace partita::detail
