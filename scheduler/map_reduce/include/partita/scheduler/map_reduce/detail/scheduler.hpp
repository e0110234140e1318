#pragma once
/// The scheduler rank of a map/reduce job: hands out chunks, commits results exactly once and folds them in
/// partition-id order, checkpoints, watches the workers, and ends the job for everyone.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/checkpoint_driver.hpp>
#include <partita/scheduler/detail/cpu_meter.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/liveness.hpp>
#include <partita/scheduler/detail/progress_meter.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/map_reduce/detail/comm_wait.hpp>
#include <partita/scheduler/map_reduce/detail/failover.hpp>
#include <partita/scheduler/map_reduce/detail/held_results.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/map_reduce/state.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// Sends abort to every rank marked alive and drains until each acknowledged (bounded by the timeout):
/// whatever a worker sent before its acknowledgement is then consumed here, so nothing of this job is left in
/// flight to reach the next one. Never throws.
void abort_workers(transport<msg>& tp, const std::vector<bool>& alive, const std::string& what,
                   double timeout_s) noexcept;

/// The scheduler's side of one run. Non-copyable; run() once.
class map_reduce_scheduler {
 public:
  map_reduce_scheduler(session& s, map_job_model& job, const run_config& config, const job_setup& setup);
  /// A worker that takes over after the scheduler was lost (failover, docs/design.md "Scheduler failover"):
  /// `setup` names this rank as the scheduler; `takeover` is what it brings from its worker role.
  map_reduce_scheduler(session& s, map_job_model& job, const run_config& config, const job_setup& setup,
                       takeover_input takeover);
  ~map_reduce_scheduler();
  map_reduce_scheduler(const map_reduce_scheduler&) = delete;
  map_reduce_scheduler& operator=(const map_reduce_scheduler&) = delete;

  /// Restores from --restart (after a takeover: from the newest checkpoint plus what the survivors report), runs
  /// the job to its end (or a checkpointed stop) and tells every worker. On any failure it logs it once, stops
  /// every worker and rethrows it marked reported (error::reported()). A scheduler that learns another rank took
  /// over returns a report that is not the scheduler's (is_scheduler false) and commits nothing more.
  run_report run();

 private:
  struct running;  // the state of the loop, built once the restart point is known

  /// Every failure of the scheduler ends here: log once, abort the workers, rethrow marked reported.
  [[noreturn]] void fail(std::exception_ptr e) noexcept(false);

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg> tp_;
  std::optional<takeover_input> takeover_;
  std::unique_ptr<running> loop_;
};

}  // namespace partita::detail
