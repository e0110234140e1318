#pragma once
/// A node scheduler of a two-level map/reduce job: takes chunks from the root scheduler in bulk, serves its node's
/// ranks from that pool (and runs partitions itself), forwards their results up in batches (the values of the aligned
/// id blocks it holds whole, folded: docs/design.md, "Folding aligned id blocks"; the others one by one), and relays
/// the end of the job both ways (docs/design.md, "Two-level scheduling"). To the root it is one worker with its
/// node's threads; to its ranks it is the scheduler: the same messages in both directions (protocol.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/liveness.hpp>
#include <partita/scheduler/map_reduce/detail/block_fold.hpp>
#include <partita/scheduler/map_reduce/detail/comm_wait.hpp>
#include <partita/scheduler/map_reduce/detail/node_blocks.hpp>
#include <partita/scheduler/map_reduce/detail/node_pool.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// The node scheduler's side of one run. Non-copyable; run() once.
class node_scheduler {
 public:
  node_scheduler(session& s, map_job_model& job, const run_config& config, const job_setup& setup);
  ~node_scheduler();
  node_scheduler(const node_scheduler&) = delete;
  node_scheduler& operator=(const node_scheduler&) = delete;

  /// Runs until the root finishes the job. Throws remote_failure when the root aborts it (after aborting its own
  /// ranks), and error when the root is silent past the timeout (its ranks are aborted first).
  run_report run();

 private:
  bool serve_local();
  bool serve_messages();
  void handle(const message<msg>& m);
  void from_member(const message<msg>& m);
  /// Its own idle kernel threads (none once a kernel failed here).
  std::uint32_t own_free() const;
  /// Sends waiting members what the pool grants them (node_pool::serve_waiting).
  void serve_waiting();
  /// In the tail: idle ranks of the node take back other ranks' queued partitions (node_pool::take_backs); the
  /// holders are told to skip them. Whether any was.
  bool take_back_idle();
  /// Asks the root for chunks when the pool runs low (results ride along), else sends results when many or old.
  void talk_up();
  /// Sends a request for `want` chunks (0: results only) with the results and blocks waiting to go up.
  void send_request(std::uint32_t want);
  void keep_alive();
  /// Declares member `r` lost: its partitions go back to the pool. While the job runs (`running`), losing the
  /// node's last runner gives up.
  void lose(int r, bool running = true);
  void send_up(msg tag, bytes payload);
  /// Results reported by a member or its own threads: whole blocks folded, the rest one by one, to go up.
  void forward(result_batch&& results);
  [[noreturn]] void aborted(const std::string& what);
  [[noreturn]] void give_up(const std::string& what);
  run_report finish(const message<msg>& m);
  std::vector<bool> members_alive() const;

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  const rank_t root_;
  const std::vector<int>& members_;
  transport<msg> tp_;
  peer_table peers_;  // the root and the members
  node_pool pool_;
  std::unique_ptr<executor> local_;
  std::optional<comm_waiter> waiter_;  // asleep while kernels run here (after local_: it watches it)
  result_batch up_;                    // results not forwarded yet
  node_blocks blocks_;                 // which results it keeps to fold into their block's value
  fold_ops fold_;                      // the job's fold (its accumulator is unused elsewhere on this rank)
  result_batch up_blocks_;             // block values not forwarded yet
  double result_age_ = 0;              // they go up on their own once the oldest is this old
  result_batch local_results_;
  clock::time_point oldest_up_ = clock::time_point::max();
  std::optional<clock::time_point> failure_reported_;
};

}  // namespace partita::detail
