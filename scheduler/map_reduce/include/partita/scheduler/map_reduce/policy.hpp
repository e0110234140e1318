#pragma once
/// Scheduling policies behind one interface: how many partitions the next chunk for a worker holds, and
/// in which order the queue hands partitions out.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace partita {

/// The order in which partitions leave the queue.
enum class queue_order {
  by_id,          ///< 0, 1, 2, … (self-scheduling)
  by_cost,        ///< longest first, from measured costs or hints (LPT)
  static_blocks,  ///< a fixed contiguous block per worker, sized by its threads; no stealing
};

/// What a policy sees when it sizes the next chunk for one worker.
struct chunk_request {
  std::uint64_t remaining = 0;          ///< partitions not yet handed out
  std::uint64_t total = 0;              ///< partitions in the job
  int total_threads = 1;                ///< P: threads over all workers
  int worker_threads = 1;               ///< threads of the worker asking
  double worker_speed = 0;              ///< its measured partitions/s per thread (0: not measured yet)
  double mean_speed = 0;                ///< mean measured speed over workers (0: none yet)
  std::uint64_t min_chunk = 1;          ///< floor from measurement (dispatch cost vs partition cost) or --chunk
  std::uint64_t worker_unfinished = 0;  ///< partitions handed to this worker and not reported done yet
};

/// A scheduling policy. Called by the dispatcher on the scheduler's communication thread only.
class policy {
 public:
  virtual ~policy() = default;
  virtual std::string_view name() const = 0;
  virtual queue_order order() const { return queue_order::by_id; }
  /// Partitions in the next chunk (at least 1 while anything remains; the dispatcher clamps to `remaining`).
  /// Policies that size chunks from the remaining work (guided, factoring, adaptive) give a worker that
  /// still holds its threads' share (`worker_unfinished`) only a `min_chunk` chunk: a prefetched chunk is
  /// there to hide the dispatch latency, and a large one would lock up work an idle worker could take.
  virtual std::uint64_t chunk_size(const chunk_request& r) = 0;
};

/// The policies `--policy` accepts: static, dynamic, guided, factoring, adaptive, cost.
const std::vector<std::string>& policy_names();

/// One-line description of a policy, for --help.
std::string_view policy_description(std::string_view name);

/// Makes the named policy. `fixed_chunk` (0 = automatic) is dynamic's chunk size. Throws usage_error naming
/// the valid policies on an unknown name.
std::unique_ptr<policy> make_policy(std::string_view name, std::uint64_t fixed_chunk = 0);

}  // namespace partita
