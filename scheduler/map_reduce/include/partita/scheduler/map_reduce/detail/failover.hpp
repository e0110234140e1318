#pragma once
/// Scheduler failover of a map/reduce job inside the running `mpirun --enable-recovery` (docs/design.md,
/// "Scheduler failover"): who takes over, and what the new scheduler collects from the survivors.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <partita/checkpoint/restart.hpp>
#include <partita/runtime/session.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// The ranks that may take over, in the order they are tried: ranks not `excluded` (lost schedulers, candidates
/// that did not take over), first those on hosts the failure history does not name, each group by rank. Every
/// survivor computes the same list from the same inputs, so they agree without a collective.
std::vector<int> failover_candidates(const session& s, const job_setup& setup, const std::vector<bool>& excluded);

/// What a worker that must take over hands to itself as the new scheduler.
struct takeover_input {
  std::uint64_t term = 0;          ///< the new scheduler's term (the first scheduler's is 0)
  std::vector<bool> excluded;      ///< per rank: lost schedulers and candidates that did not take over
  int lost_scheduler = -1;         ///< the scheduler whose loss started this takeover
  double noticed_at = 0;           ///< seconds since the job's start when the loss was noticed
  result_batch results;            ///< this rank's results no checkpoint holds yet
  std::vector<id_range> running;   ///< partitions this rank's executor runs or has queued
  std::uint64_t dropped = 0;       ///< results this rank dropped (memory bound)
  std::unique_ptr<executor> exec;  ///< this rank's executor, still running them
};

/// What the survivors told the new scheduler.
struct survivors_report {
  std::vector<bool> reported;                                  ///< per rank (the new scheduler itself: true)
  std::vector<std::pair<int, result_batch>> results;           ///< per reporting rank: results no checkpoint holds
  std::vector<std::pair<int, std::vector<id_range>>> running;  ///< per reporting rank: partitions it runs
  std::uint64_t dropped = 0;                                   ///< results the survivors no longer held
  std::vector<message<msg>> early;  ///< what reporting ranks sent after their report (requests with results):
                                    ///< handled first once the new scheduler runs
};

/// Thrown inside a scheduler that learns that another rank took over with a higher term: it must commit nothing
/// more and leave the job (its rank exits 0; the job goes on under the new scheduler).
struct deposed {
  int by = -1;
  std::uint64_t term = 0;
};

/// The new scheduler's handshake: sends takeover{term} to every other rank (lost ones too, so that a frozen
/// scheduler that resumes learns it was replaced) and collects the survivors' reports, waiting at most
/// `config.timeout_seconds`. Meanwhile the ranks that reported (they follow it now) get a heartbeat every
/// `config.heartbeat_seconds`, as from any scheduler: the wait can last their whole timeout. Ranks that do not
/// report are left out (not reported). Throws deposed if a takeover of a higher term arrives meanwhile, and
/// minority_side when the ranks that reported (this one included) do not run on a majority of the job's hosts
/// (holds_host_majority).
survivors_report collect_reports(transport<msg>& tp, const session& s, takeover_input& me, const run_config& config);

/// The new scheduler's heartbeats before its loop runs: `beat()` sends one to every rank marked in `to` (the ranks
/// that reported: they follow it and count its silence) at its first call, then once `config.heartbeat_seconds` have
/// passed since the last.
/// Not thread-safe; call it from the thread that owns the transport.
class follower_beats {
 public:
  follower_beats(transport<msg>& tp, int self, const run_config& config) : tp_(tp), self_(self), config_(config) {}
  void beat(const std::vector<bool>& to);

 private:
  transport<msg>& tp_;
  int self_;
  const run_config& config_;
  clock::time_point last_{};  // never: the first beat() sends
};

/// The newest committed checkpoint for a new scheduler (select_restart), read on a second thread while this one
/// keeps the followers' heartbeats going: finding and verifying a large checkpoint can take longer than
/// `--timeout`, and a follower that hears nothing that long elects again (docs/design.md, "Scheduler failover").
/// The read is local file work (HDF5's sec2 driver, under h5_lock), no MPI; only this thread uses the transport.
restart_choice read_restart_beating(transport<msg>& tp, const session& s, const survivors_report& who,
                                    const run_config& config, const checkpoint_expectation& expect);

}  // namespace partita::detail
