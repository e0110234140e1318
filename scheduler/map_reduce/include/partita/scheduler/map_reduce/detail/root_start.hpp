#pragma once
/// What the root scheduler starts from, without MPI: the state after a failover, and the cost policy's seeds.

#include <cstdint>
#include <vector>

#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/map_reduce/state.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

/// What the new scheduler of a failover and the survivors brought (docs/design.md, "Scheduler failover"): views
/// of their results that no checkpoint holds and of the partitions they run, the new scheduler's own first.
struct survivor_work {
  std::vector<const result_batch*> results;
  std::vector<const std::vector<id_range>*> running;
};

/// The state to go on from after a takeover: `from` (the checkpoint's, or a fresh one) plus the results the
/// survivors reported that it does not hold, each partition once (keyed by id, held until the fold reaches it).
/// Counts them in `f` (from_checkpoint, from_workers). Throws error on a partition id out of range.
map_reduce_state resume_state(map_reduce_state from, std::uint64_t partitions, const survivor_work& work,
                              failover_summary& f);

/// Partitions left to run after a takeover that ran before: below the highest id known done (in `d`) or running
/// (in `work`), neither done nor running (ids go out in order, so everything there was handed out before).
/// Cost: O(partitions).
std::uint64_t rerun_count(const dispatcher& d, const survivor_work& work);

/// The cost policy's per-partition costs: the measured ones in `st` where there are any, `job`'s hints elsewhere,
/// scaled to seconds by the partitions that have both. Cost: O(partitions).
std::vector<float> seeded_costs(const map_job_model& job, const map_reduce_state& st);

}  // namespace partita::detail
