#pragma once
/// The scheduler's bookkeeping as a pure state machine (no MPI): the partition queue, who holds what,
/// exactly-once completion, requeue on loss, chunk sizing by the policy and by measurement.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include <partita/scheduler/policy.hpp>

namespace partita {

/// Half-open range of partition ids [begin, end).
struct id_range {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const noexcept { return end - begin; }
  friend bool operator==(const id_range&, const id_range&) = default;
};

struct dispatcher_options {
  std::uint64_t fixed_chunk = 0;         ///< --chunk: a floor for every policy (0: measured)
  std::vector<float> costs;              ///< per-partition cost (measured earlier or hinted); empty = unknown
  std::vector<bool> done;                ///< partitions already committed (restart); empty = none
};

/// Per-worker accounting the summary reports.
struct worker_tally {
  std::uint64_t partitions = 0;    ///< results committed from this worker
  std::uint64_t chunks = 0;        ///< chunks handed to it
  std::uint64_t messages = 0;      ///< assignment messages sent to it
  double busy_seconds = 0;         ///< sum of its partitions' measured times
  bool lost = false;
};

/// Owns the queue and the results index of a map/reduce job. Single-threaded (the scheduler's comm thread).
class dispatcher {
 public:
  /// `threads[w]` is worker w's thread count (worker 0 may be the scheduler's own executor).
  dispatcher(std::uint64_t partitions, std::vector<int> threads, std::unique_ptr<policy> p,
             dispatcher_options options = {});

  /// Up to `chunks` chunks for worker `w` (each a list of ranges); empty when nothing is left to hand out.
  std::vector<std::vector<id_range>> assign(int w, int chunks);

  /// Records partition `id` finished by worker `w` in `seconds`. False if it was already committed
  /// (a duplicate: dropped, so every result is committed exactly once).
  bool complete(int w, std::uint64_t id, double seconds);

  /// Worker `w` is gone: its unfinished partitions go back to the queue. Returns how many.
  std::uint64_t lose(int w);

  /// The scheduler's measured cost of handling one message, in seconds (feeds automatic chunking).
  void note_message_cost(double seconds);

  bool finished() const noexcept { return done_count_ == total_; }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t done_count() const noexcept { return done_count_; }
  std::uint64_t unassigned() const noexcept { return unassigned_; }
  bool is_done(std::uint64_t id) const { return done_[id]; }
  const std::vector<bool>& done_set() const noexcept { return done_; }
  /// Measured seconds per partition (NaN where not measured in this run; seeded from options.costs).
  const std::vector<float>& costs() const noexcept { return costs_; }
  const worker_tally& tally(int w) const { return workers_.at(static_cast<std::size_t>(w)).tally; }
  int worker_count() const noexcept { return static_cast<int>(workers_.size()); }
  std::string_view policy_name() const { return policy_->name(); }
  /// The current floor on chunk sizes from measurement (for logs and tests).
  std::uint64_t min_chunk() const;

 private:
  struct worker {
    int threads = 1;
    std::deque<id_range> held;    // chunks handed out, pruned from the front once done
    std::uint64_t unfinished = 0; // partitions handed to it and not reported done
    worker_tally tally;
    id_range block;               // static policy: this worker's block cursor
  };

  std::uint64_t take(int w, std::uint64_t count, std::vector<id_range>& out);
  void push_id(std::vector<id_range>& out, std::uint64_t id);
  void prune(worker& wk);
  double mean_speed() const;

  std::uint64_t total_;
  std::vector<worker> workers_;
  std::unique_ptr<policy> policy_;
  dispatcher_options options_;
  int total_threads_ = 0;
  std::vector<bool> done_;
  std::vector<float> costs_;
  std::uint64_t done_count_ = 0;
  std::uint64_t unassigned_ = 0;
  std::uint64_t cursor_ = 0;                 // by_id: next id; by_cost: next index into order_
  std::vector<std::uint64_t> order_;         // by_cost: ids, longest first
  std::deque<std::uint64_t> retry_;          // ids requeued after a loss
  std::vector<bool> queued_;                 // in retry_ (avoid duplicates)
  double ema_partition_ = 0;                 // mean seconds per partition, all workers
  double ema_message_ = 0;                   // scheduler seconds per message
};

}  // namespace partita
