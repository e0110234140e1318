#pragma once
/// A worker rank of a map/reduce job: asks the scheduler for chunks ahead of need, runs them on its TBB arena,
/// sends results back in batches, and ends when the scheduler says so. With failover (docs/design.md,
/// "Scheduler failover") it keeps the results no checkpoint holds yet and, when the scheduler falls silent,
/// elects a new one with the other survivors.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/cpu_meter.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/map_reduce/detail/comm_wait.hpp>
#include <partita/scheduler/map_reduce/detail/failover.hpp>
#include <partita/scheduler/map_reduce/detail/job_lease.hpp>
#include <partita/scheduler/map_reduce/detail/prefetch_depth.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// The worker's side of one run. Non-copyable; run() once.
class map_reduce_worker {
 public:
  map_reduce_worker(session& s, map_job_model& job, const run_config& config, const job_setup& setup);

  /// Runs until the scheduler finishes the job. Throws remote_failure when the scheduler aborts it, and error
  /// when the scheduler is silent past the timeout and nobody can take over. Returns nullopt when this rank is
  /// to take over as the scheduler (failover): then call hand_over().
  std::optional<run_report> run();

  /// After run() returned nullopt: what this rank brings to its new role (its executor keeps running).
  takeover_input hand_over();

 private:
  /// Two levels: its node scheduler went silent, so it reports to the root from now on. False if it already does.
  bool turn_to_root(const std::string& why);
  [[noreturn]] void report_failure(const kernel_failure& f);
  [[noreturn]] void aborted(const message<msg>& m);
  run_report finish(const message<msg>& m);
  /// Sends a request when fewer than the prefetch depth's chunks are in flight, a result batch when it is big or
  /// old enough, or a heartbeat.
  void talk(clock::time_point now);
  void send_request(std::uint32_t want);
  /// Moves finished results from the executor into results_ and notes them finished.
  void drain(clock::time_point now);
  /// The scheduler is silent past the timeout: walk the candidates; true when this rank takes over.
  bool elect();
  /// A takeover message: follow a higher term and report to the new scheduler. True if followed.
  bool follow(const message<msg>& m);
  void drop_covered(std::uint64_t requests);
  std::vector<id_range> running_ranges() const;
  result_batch retained_results() const;

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg> tp_;
  cpu_meter cpu_;
  std::unique_ptr<executor> exec_;        // handed to the scheduler this rank becomes after a failover
  comm_waiter waiter_{tp_, exec_.get()};  // declared after exec_: it watches it
  result_batch results_;
  std::uint32_t requested_ = 0;
  prefetch_depth depth_;  // chunks to keep in flight (requested_ among them)
  clock::time_point last_sent_ = clock::now();
  clock::time_point oldest_result_ = clock::time_point::max();
  clock::time_point last_heard_ = clock::now();
  // Failover: who the scheduler is now, and what a new one would need.
  int boss_;  // whom it talks to: the scheduler, its node scheduler (docs/design.md, "Two-level scheduling"), or
              // after a failover the new scheduler
  std::uint64_t term_ = 0;
  std::vector<bool> excluded_;                                   // lost schedulers, candidates that never took over
  std::deque<std::pair<std::uint64_t, result_batch>> retained_;  // (request number, results) no checkpoint holds
  std::uint64_t retained_bytes_ = 0;
  std::uint64_t requests_sent_ = 0;  // in this term
  std::uint64_t dropped_ = 0;
  std::vector<bool> running_;  // per partition: handed to this rank and not finished
  int lost_scheduler_ = -1;
  double noticed_at_ = 0;
  bool ignored_takeover_ = false;  // a takeover came while the scheduler was still heard (logged once)
  job_lease lease_{s_.rank().value, config_.heartbeat_seconds};  // renewed while electing
};

}  // namespace partita::detail
