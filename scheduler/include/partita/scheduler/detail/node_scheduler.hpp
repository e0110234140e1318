#pragma once
/// A node scheduler of a two-level map/reduce job: takes chunks from the root scheduler in bulk, serves its node's
/// ranks from that pool (and runs partitions itself), forwards their results up unfolded and in batches, and relays
/// the end of the job both ways (docs/design.md, "Two-level scheduling"). To the root it is one worker with its
/// node's threads; to its ranks it is the scheduler: the same messages in both directions (protocol.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/comm_wait.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/liveness.hpp>
#include <partita/scheduler/detail/node_pool.hpp>
#include <partita/scheduler/detail/protocol.hpp>
#include <partita/scheduler/executor.hpp>
#include <partita/scheduler/job_model.hpp>
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
  /// A member's first share: one chunk per thread.
  std::size_t share_of(int r) const;
  /// Chunks kept for members that have not been given work yet: their first shares.
  std::size_t unserved_shares() const;
  /// What the pool holds beyond those: what the others (this rank's executor included) may take.
  std::size_t spare_in_pool() const;
  void serve_parked();
  /// Asks the root for chunks when the pool runs low (results ride along), else sends results when many or old.
  void talk_up();
  void keep_alive();
  /// Declares member `r` lost: its partitions go back to the pool. While the job runs (`running`), losing the
  /// node's last runner gives up.
  void lose(int r, bool running = true);
  void send_up(msg tag, bytes payload);
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
  peer_table peers_;                    // the root and the members
  node_pool pool_;
  std::unique_ptr<executor> local_;
  std::optional<comm_waiter> waiter_;  // asleep while kernels run here (after local_: it watches it)
  std::vector<std::uint32_t> parked_;   // per rank: chunks asked for that the pool could not give yet
  std::vector<bool> served_;            // per rank: it was given work at least once
  std::uint32_t reserve_ = 1;           // below this many chunks beyond what its ranks wait for, ask the root
  std::uint32_t batch_ = 1;             // and ask for this many
  std::uint32_t requested_ = 0;         // chunks asked of the root and not answered yet
  result_batch up_;                     // results not forwarded yet
  result_batch local_results_;
  clock::time_point oldest_up_ = clock::time_point::max();
  std::optional<clock::time_point> failure_reported_;
};

}  // namespace partita::detail
