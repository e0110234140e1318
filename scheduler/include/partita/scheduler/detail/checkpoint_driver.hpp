#pragma once
/// When and how a running job checkpoints, whatever its model: triggers (every N, every T, Young/Daly with the
/// mean time to interrupt from --mtti or the failure history), stop signals and the wall time, epoch numbers,
/// the commit, and the choice of the checkpoint to restart from. The model supplies its state as an image.

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <partita/checkpoint/image.hpp>
#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/writer.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/checkpoint_schedule.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// The checkpoint a run continues from, read and verified once. Value type.
struct restart_point {
  std::filesystem::path file;
  checkpoint_image image;
};

/// The checkpoint --restart names (auto: the newest usable one in --checkpoint-dir; or a file), or none (no
/// --restart, or auto found nothing: "starting fresh" is logged). Throws checkpoint_error for an explicitly named
/// file that cannot be used. Local; call it on the rank that decides (the scheduler).
std::optional<restart_point> find_restart(const checkpoint_options& config, const checkpoint_expectation& expect);

/// Whether a failed checkpoint fails the job (a stop on a signal must save) or is logged and retried later.
enum class checkpoint_need { optional, required };

/// Figures of the checkpoints of this run, for the summary.
struct checkpoint_stats {
  std::uint64_t count = 0;
  double seconds = 0;
  std::uint64_t bytes = 0;

  checkpoint_stats& operator+=(const checkpoint_stats& o) {
    count += o.count;
    seconds += o.seconds;
    bytes += o.bytes;
    return *this;
  }
};

/// What a rank's checkpoint_driver does: decide when to checkpoint and number, write, commit and log each checkpoint
/// (the scheduler), or only join the collective writes that rank decided (the other ranks of a model whose every
/// rank writes its own part, as an iterative job's).
enum class checkpoint_role { decides, joins };

/// One per run, on the rank that decides when to checkpoint (the scheduler), and on every rank that joins its
/// collective writes. Single-threaded. Non-copyable.
/// "Progress" is the model's unit of work: committed partitions, or steps.
class checkpoint_driver {
 public:
  /// `earlier_run_seconds` and `progress_at_restore` come from the checkpoint this run restarted from (0 if fresh).
  /// A driver that joins has no triggers of its own and logs nothing.
  checkpoint_driver(const session& s, const checkpoint_options& config, const job_setup& setup, std::string job,
                    double earlier_run_seconds, std::uint64_t progress_at_restore,
                    checkpoint_role role = checkpoint_role::decides);
  checkpoint_driver(const checkpoint_driver&) = delete;
  checkpoint_driver& operator=(const checkpoint_driver&) = delete;

  bool enabled() const noexcept { return config_.checkpoint_dir.has_value(); }

  /// A stop signal received: the reason to checkpoint and stop ("SIGUSR1 received"), or "" to go on. Without a
  /// checkpoint directory SIGUSR1/SIGUSR2 are logged and ignored and SIGTERM throws error (nothing can be saved).
  std::string stop_signal();
  /// The periodic trigger that fires at `now`, or "" (looked at no more often than every 20 ms).
  std::string due(std::uint64_t progress, clock::time_point now = clock::now());
  /// The periodic trigger that fires now, looked at on every call: for models whose unit of progress is rare
  /// enough (a step of an iterative job), so that --checkpoint-every N lands exactly after N steps.
  std::string due_now(std::uint64_t progress);
  /// Whether the wall time runs out before another checkpoint would fit.
  bool out_of_time() const;

  /// Numbers `image` as the next epoch (meta.epoch, meta.rank_count), writes it through `comm` and commits it.
  /// Collective over `comm` (MPI_COMM_SELF when the scheduler writes alone). `progress_text` goes into the log
  /// line ("120 of 1000 partitions done"). On failure: `required` throws checkpoint_error; `optional` logs,
  /// returns nullopt and the next trigger tries again (the previous checkpoint stays valid).
  std::optional<commit_result> write(MPI_Comm comm, checkpoint_image& image, const std::string& why,
                                     checkpoint_need need, std::uint64_t progress, const std::string& progress_text);

  /// Every rank's part of one collective checkpoint, numbered `epoch` by the deciding rank (its next_epoch(), sent to
  /// the others with the decision). Collective over `comm`. The deciding rank does as write(); a joining rank writes
  /// its part quietly under the same number and counts nothing. On failure a joining rank throws remote_failure
  /// for a `required` checkpoint (the deciding rank reports the error) and returns nullopt for an `optional` one.
  std::optional<commit_result> write_collective(MPI_Comm comm, checkpoint_image& image, epoch_t epoch,
                                                const std::string& why, checkpoint_need need, std::uint64_t progress,
                                                const std::string& progress_text);

  /// The job's running time over all runs so far (earlier runs plus this one).
  double run_seconds() const;
  /// Progress at the last committed checkpoint (or at the restart).
  std::uint64_t progress_at_last() const noexcept { return progress_at_last_; }
  const checkpoint_stats& stats() const noexcept { return stats_; }
  /// Each checkpoint this driver committed as the deciding rank: when (since the job's start), how long, which
  /// (for the summary's events and `partita report`).
  const std::vector<run_event>& events() const noexcept { return events_; }
  /// The epoch the next write() numbers its checkpoint (other ranks of a collective write need it).
  epoch_t next_epoch() const noexcept { return epoch_t{next_epoch_}; }

 private:
  checkpoint_triggers make_triggers(const session& s) const;

  checkpoint_role role_;
  const checkpoint_options& config_;
  const job_setup& setup_;
  std::string job_;
  double earlier_run_seconds_;
  checkpoint_schedule schedule_;
  std::uint64_t next_epoch_ = 1;
  std::uint64_t progress_at_last_ = 0;
  clock::time_point last_check_ = clock::now();
  checkpoint_stats stats_;
  std::vector<run_event> events_;
};

}  // namespace partita::detail
