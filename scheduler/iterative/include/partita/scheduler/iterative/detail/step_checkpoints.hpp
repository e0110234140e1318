#pragma once
/// The checkpoints of an iterative run: the coordinator decides at each step boundary whether every rank checkpoints
/// (a stop signal, the wall time, a trigger) and numbers the checkpoint; every rank then writes its own partitions
/// into it through the checkpoint driver, collectively (docs/design.md, "Iterative jobs").

#include <mpi.h>

#include <cstdint>
#include <string>

#include <partita/checkpoint/image.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/checkpoint_driver.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// One per run and rank; the coordinator's decides, the others' join. Single-threaded; non-copyable.
class step_checkpoints {
 public:
  /// `earlier_run_seconds` and `steps_at_start` come from the checkpoint the run restarted from (0 if fresh).
  step_checkpoints(const session& s, const run_config& config, const job_setup& setup, const std::string& job,
                   double earlier_run_seconds, std::uint64_t steps_at_start, checkpoint_role role)
      : driver_(s, config, setup, job, earlier_run_seconds, steps_at_start, role) {}

  /// Coordinator: what every rank does at the end of step `next_step` (1-based), into `control.action` and
  /// `control.epoch`: checkpoint and stop on a stop signal or when the wall time runs out, checkpoint when a
  /// trigger is due, else go on. Local.
  void decide(step_control& control, std::uint64_t next_step);

  /// Every rank: writes `image` (this rank's partitions, `state_bytes` of them, after `steps` steps) into the
  /// checkpoint `control` (the coordinator's) asks for. Collective over `comm`. Tells `watchdog` how long the write
  /// may take. A failed checkpoint that stops the job throws (checkpoint_error on the coordinator, remote_failure
  /// elsewhere); another is logged by the coordinator and the job goes on.
  void write(MPI_Comm comm, checkpoint_image& image, std::uint64_t state_bytes, const step_control& control,
             std::uint64_t steps, stall_watchdog& watchdog);

  /// Coordinator: why the checkpoint decided last was taken ("SIGUSR1 received"), until the next one; "" elsewhere.
  const std::string& reason() const noexcept { return reason_; }
  /// The checkpoints this rank committed as the coordinator (none on the others).
  const checkpoint_stats& stats() const noexcept { return driver_.stats(); }
  const std::vector<run_event>& events() const noexcept { return driver_.events(); }

 private:
  checkpoint_driver driver_;
  std::string reason_;
  double last_write_seconds_ = 0;  // how long this rank's last collective write took
};

}  // namespace partita::detail
