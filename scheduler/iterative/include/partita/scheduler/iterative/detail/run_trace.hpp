#pragma once
/// What one rank of an iterative run records for --trace: the step of each of its partitions (one slice each) and,
/// on the coordinator, the run's events (rebalances, checkpoints).

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/trace_slice.hpp>

namespace partita::detail {

/// Times are kept as offsets from `t0`, the start of the job. Non-copyable.
class run_trace {
 public:
  /// `slices`: whether to keep partition slices (only with --trace: they cost memory at every step).
  run_trace(bool slices, clock::time_point t0) : keep_slices_(slices), t0_(t0) {}
  run_trace(const run_trace&) = delete;
  run_trace& operator=(const run_trace&) = delete;

  /// Partition `id` stepped from `start` to `end` on the calling arena thread. Thread-safe.
  void slice(std::uint64_t id, clock::time_point start, clock::time_point end) {
    if (!keep_slices_) return;
    std::lock_guard lock(mutex_);
    slices_.push_back({id, std::max(0, tbb::this_task_arena::current_thread_index()), ns(start), ns(end)});
  }
  /// An event `name` of rank `rank` from `start` until now. Not thread-safe.
  void event(std::string name, int rank, clock::time_point start) {
    events_.push_back({std::move(name), rank, ns(start), ns(clock::now()) - ns(start)});
  }

  const std::vector<trace_slice>& slices() const noexcept { return slices_; }
  const std::vector<trace_event>& events() const noexcept { return events_; }

 private:
  std::int64_t ns(clock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0_).count();
  }

  bool keep_slices_;
  clock::time_point t0_;
  std::mutex mutex_;
  std::vector<trace_slice> slices_;
  std::vector<trace_event> events_;
};

}  // namespace partita::detail
