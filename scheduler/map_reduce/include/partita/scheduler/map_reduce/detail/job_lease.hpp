#pragma once
/// How a rank on the minority side of a partition leaves a map/reduce job without deciding the job's exit status
/// for the side that goes on: the majority's scheduler renews a lease beside $PARTITA_STATUS_FILE, and a rank that
/// left waits for the job's word while the lease is renewed (docs/design.md, "Network partitions and split brain").

#include <cstdint>
#include <string>

#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/map_reduce/detail/host_majority.hpp>
#include <partita/scheduler/run_config.hpp>

namespace partita::detail {

/// The lease file of this launch: $PARTITA_STATUS_FILE + ".lease", or "" without a status file.
std::string job_lease_file();

/// Renews the job's lease (a new line in its file, written atomically) at most every `every_s` seconds: a rank
/// that works toward a result (a scheduler with a host majority, a worker electing a new one) says so. Does
/// nothing without $PARTITA_STATUS_FILE. Never throws (a file that cannot be written is logged once). Not
/// thread-safe; one per rank.
class job_lease {
 public:
  job_lease(int rank, double every_s) : rank_(rank), every_s_(every_s) {}
  void renew(clock::time_point now = clock::now()) noexcept;

 private:
  int rank_;
  double every_s_;
  std::uint64_t count_ = 0;
  clock::time_point last_{};
  bool warned_ = false;
};

/// Waits until the job has its word in $PARTITA_STATUS_FILE (the side that went on finished or failed), or until
/// nobody renewed the lease for `stale_s` seconds (nobody goes on: then this rank leaves the failure word, 1, so
/// that the launcher ends the run and relaunches). Returns at once without a status file. Polls every 0.2 s.
void await_job_word(double stale_s);

/// A rank on a side without a host majority leaves the job: logs why (once), notes it in the failure history (its
/// host is suspect for the next election), waits for the job's word (await_job_word, 3 x --timeout) and throws
/// error, already reported (the rank exits 1). The caller has stopped its kernels and given up its pending sends.
[[noreturn]] void leave_as_minority(const minority_side& m, const session& s, const run_config& config,
                                    const std::string& job);

}  // namespace partita::detail
