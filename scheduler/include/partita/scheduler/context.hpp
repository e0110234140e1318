#pragma once
/// What a kernel gets besides its partition: random stream, TBB arena, parameters, cancellation.

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>

#include <partita/runtime/ids.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/random_stream.hpp>

namespace partita {

/// The kernel's view of the job while it runs one partition. Built by Partita, one per partition run; a view
/// (does not own the arena or the parameters). The kernel already runs inside the arena, so
/// tbb::parallel_for and tbb::parallel_deterministic_reduce may be called directly.
class context {
 public:
  context(partition_id id, step_t step, std::uint64_t seed, const parameters& params, tbb::task_arena& arena,
          const std::atomic<bool>& cancel, rank_t rank = rank_t{0}) noexcept
      : id_(id), step_(step), seed_(seed), params_(params), arena_(arena), cancel_(cancel), rank_(rank),
        rng_(seed, id, step) {}

  partition_id partition() const noexcept { return id_; }
  step_t step() const noexcept { return step_; }
  std::uint64_t seed() const noexcept { return seed_; }

  /// The rank (in the job's communicator) running this partition, for diagnostics and fault studies. A result
  /// must not depend on it: the same partition may run on another rank after a loss, or as a speculative copy.
  rank_t rank() const noexcept { return rank_; }

  /// This partition's random stream, seeded from (job seed, partition id, step): the same numbers whichever
  /// rank or thread runs it.
  random_stream& rng() noexcept { return rng_; }

  /// A fresh stream for a sub-task `k` of this partition (for parallel loops inside the kernel).
  random_stream rng_for(std::uint64_t k) const noexcept {
    return random_stream(seed_ ^ (k * 0x9E3779B97F4A7C15ull + 1), id_, step_);
  }

  const parameters& params() const noexcept { return params_; }
  tbb::task_arena& arena() noexcept { return arena_; }

  /// True once the job is being stopped (another partition failed, or the job was cancelled). Long kernels
  /// may poll it and return early; their result is then discarded.
  bool cancelled() const noexcept { return cancel_.load(std::memory_order_relaxed); }

 private:
  partition_id id_;
  step_t step_;
  std::uint64_t seed_;
  const parameters& params_;
  tbb::task_arena& arena_;
  const std::atomic<bool>& cancel_;
  rank_t rank_;
  random_stream rng_;
};

}  // namespace partita
