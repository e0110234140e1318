#pragma once
/// Under Slurm, the progress line also in the job's comment (`scontrol update JobId=... Comment=...`), so that
/// `squeue -o %k` and `scontrol show job` show done/total and the ETA (docs/metrics.md, "Slurm job comment").

#include <sys/types.h>

#include <string>

#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

/// Sets the job's comment at most every `period` seconds, from a child scontrol it does not wait for (reaped on a
/// later call). Off outside Slurm (no SLURM_JOB_ID) and with PARTITA_SLURM_COMMENT=0. A refusal (no scontrol, not
/// allowed) is logged once and ends the updates: the job never fails for it. Single-threaded. Non-copyable.
class slurm_comment {
 public:
  explicit slurm_comment(double period_seconds = 60);
  ~slurm_comment();
  slurm_comment(const slurm_comment&) = delete;
  slurm_comment& operator=(const slurm_comment&) = delete;

  /// Whether update() would set the comment at `now` (one comparison).
  bool due(clock::time_point now) const noexcept { return now >= next_; }
  /// Sets the comment to `line` if due (or `last`: the run's final line, set whatever the period and waited for,
  /// at most 5 s, so that it lands while the job still runs).
  void update(const std::string& line, clock::time_point now, bool last = false);

 private:
  bool reap(bool wait);

  std::string job_id_;
  double period_;
  clock::time_point next_ = clock::time_point::max();
  pid_t child_ = -1;
};

}  // namespace partita::detail
