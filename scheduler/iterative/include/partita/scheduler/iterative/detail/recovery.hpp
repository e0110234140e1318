#pragma once
/// In-job rollback of an iterative job after a lost rank (docs/design.md, "In-job rollback"): how the survivors
/// notice, agree on who is left, and keep a rank stuck in a collective with a dead peer from hanging the job.

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <partita/runtime/error.hpp>

namespace partita::detail {

/// A bounded wait of an iterative job ran out: a peer is lost or hangs. An error like any other (same message),
/// unless the job may roll back in the same run, where run_iterative catches it.
class peer_silent : public error {
 public:
  peer_silent(std::uint64_t step, const std::string& what) : error(what), step_(step) {}
  /// The step the job was at (the last one every rank finished).
  std::uint64_t step() const noexcept { return step_; }

 private:
  std::uint64_t step_;
};

/// What the survivors agreed on.
struct survivors {
  std::vector<int> ranks;  ///< ranks of the old communicator that go on, ascending; empty: this rank is left out
  std::vector<int> lost;   ///< the others
};

/// The survivors of a lost rank agree on who is left, with point-to-point messages on `comm` only (a collective
/// over a communicator with a dead rank never completes). Two rounds, each at most `window_s`: every rank says
/// "alive" to every other and listens for the whole window (a dead rank and a slow one look the same until then);
/// then each sends the set it heard to the members of that set and checks that every member heard the same. The
/// set goes on if the views agree and it holds a majority of `comm` (exactly half: with its lowest rank), so
/// that a rank frozen past the window, or a minority cut off, can never go on as a job of its own; its lowest rank
/// then tells the ranks left out. Returns an empty `ranks` when this rank heard that the others went on without it
/// (it must leave the job quietly); throws error when the views disagree or no majority is left (the run ends and
/// the launcher relaunches it).
survivors agree_on_survivors(MPI_Comm comm, double window_s);

/// Ends this process (exit 1, made visible to the launcher) when the rank makes no progress for `limit_s`
/// seconds: under `mpirun --enable-recovery` a rank inside a blocking collective (a collective checkpoint write,
/// the start-up broadcasts) whose peer died would otherwise wait forever. The loop calls pet() at every step.
/// A collective write (pet_write()) has a limit of its own, `write_limit_s` plus what its size needs: every rank
/// enters it right after the same step's gather, so a peer that has not come within that is dead, and the sooner
/// the rank ends, the sooner the launcher relaunches. Non-copyable; the destructor stops the watch.
class stall_watchdog {
 public:
  stall_watchdog(double limit_s, double write_limit_s, bool enabled);
  ~stall_watchdog();
  stall_watchdog(const stall_watchdog&) = delete;
  stall_watchdog& operator=(const stall_watchdog&) = delete;
  /// Progress: the limit counts from now. `doing` names what comes next, for the message if it stalls.
  void pet(const char* doing) noexcept;
  /// As pet(), before a collective write: it may take `write_limit_s` + `allowance_s` (what its size needs).
  void pet_write(const char* doing, double allowance_s) noexcept;

 private:
  void watch();
  void arm(const char* doing, double limit_s) noexcept;

  double limit_s_, write_limit_s_;
  std::atomic<std::int64_t> last_ns_;
  std::atomic<const char*> doing_{"starting"};
  std::atomic<double> current_limit_s_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace partita::detail
