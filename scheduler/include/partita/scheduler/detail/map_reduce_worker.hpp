#pragma once
/// A worker rank of a map/reduce job: asks the scheduler for chunks ahead of need, runs them on its TBB arena,
/// sends results back in batches, and ends when the scheduler says so.

#include <cstdint>
#include <string>

#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/comm_wait.hpp>
#include <partita/scheduler/detail/cpu_meter.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/protocol.hpp>
#include <partita/scheduler/executor.hpp>
#include <partita/scheduler/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// The worker's side of one run. Non-copyable; run() once.
class map_reduce_worker {
 public:
  map_reduce_worker(session& s, map_job_model& job, const run_config& config, const job_setup& setup);

  /// Runs until the scheduler finishes the job. Throws remote_failure when the scheduler aborts it, and error
  /// when the scheduler is silent past the timeout.
  run_report run();

 private:
  /// Two levels: its node scheduler went silent, so it reports to the root from now on. False if it already does.
  bool turn_to_root(const std::string& why);
  [[noreturn]] void report_failure(const kernel_failure& f);
  [[noreturn]] void aborted(const message<msg>& m);
  run_report finish(const message<msg>& m);
  /// Sends a request when chunks are lacking, a result batch when it is big or old enough, or a heartbeat.
  void talk(std::uint32_t target, std::uint32_t per_message);

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg> tp_;
  rank_t boss_;  // whom it talks to: the scheduler, or its node scheduler (docs/design.md, "Two-level scheduling")
  cpu_meter cpu_;
  executor exec_;
  comm_waiter waiter_{tp_, &exec_};
  result_batch results_;
  std::uint32_t requested_ = 0;
  clock::time_point last_sent_ = clock::now();
  clock::time_point oldest_result_ = clock::time_point::max();
};

}  // namespace partita::detail
