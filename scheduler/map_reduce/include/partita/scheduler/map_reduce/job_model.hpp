#pragma once
/// The type-erased map/reduce job the scheduler runs; the jobs layer adapts typed kernels to it.

#include <cstdint>
#include <span>
#include <string>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/context.hpp>
#include <partita/scheduler/job_model.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// A map/reduce job as the scheduler sees it: dense partitions 0..N-1, a kernel that turns one into result
/// bytes, and an accumulator that folds result bytes in partition-id order. Every rank builds the same model
/// (SPMD), so partitions travel as ids, never as payloads.
class map_job_model : public job_model {
 public:
  model_kind kind() const noexcept final { return model_kind::map_reduce; }

  /// A relative cost estimate for partition `id`; 0 or less means unknown.
  virtual double cost_hint(partition_id id) const = 0;

  /// Runs the kernel on one partition and appends its serialized result to `out`. Called concurrently
  /// from arena threads. Exceptions propagate (the executor turns them into a job failure).
  virtual void run(partition_id id, context& ctx, bytes& out) = 0;

  /// Folds one serialized result into the accumulator (the first one initialises it). Called by the scheduler
  /// only, in partition-id order.
  virtual void fold(std::span<const std::byte> result) = 0;
  /// Resets the accumulator to "nothing folded yet".
  virtual void reset() = 0;
  /// The accumulator's bytes (for checkpoints and the final broadcast); empty if nothing was folded.
  virtual bytes accumulator() const = 0;
  /// Sets the accumulator from accumulator() bytes.
  virtual void restore(std::span<const std::byte> acc) = 0;
  /// The final result as printed (summaries, the JSON `result` field), from accumulator() bytes.
  virtual std::string describe(std::span<const std::byte> acc) const = 0;
};

}  // namespace partita
