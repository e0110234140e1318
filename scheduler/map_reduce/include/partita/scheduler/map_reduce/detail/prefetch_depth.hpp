#pragma once
/// How many chunks a worker rank keeps in flight: enough that its queue outlasts the round trip to its scheduler.

#include <cstdint>
#include <deque>
#include <limits>

namespace partita::detail {

/// A worker rank keeps `threads + prefetch` chunks in flight (running, queued, or asked for), and more while its
/// chunks are shorter than the round trip to its scheduler: then `threads + prefetch` chunks run out before the
/// answer to the next request arrives and the threads wait for it (fixed one-partition chunks of microseconds).
/// The depth is what the threads run during one round trip, `threads * round_trip / chunk_time` beyond the running
/// chunks, so the extra work queued per thread is about one round trip: it cannot unbalance the end of a job. The
/// round trip is the least of the recent ones (the latency a deeper queue can hide; a request that waited for
/// work to exist, at a saturated or starved scheduler, says nothing about it), and it counts only once `window`
/// requests were answered (a short job keeps the base depth). At most four times `threads + prefetch` in flight,
/// or for chunks so short that this is less than `tiny_queue_seconds` of work per thread, that much work (at most
/// `tiny_max_factor` times `threads + prefetch`): one partition per message on an oversubscribed node then hands
/// each process a batch per time slice instead of a few chunks. docs/design.md, "Prefetch depth".
///
/// MPI-free and clock-free (times are seconds on the caller's clock): map_reduce_worker and the simulator's
/// worker use it. Value type; not thread-safe (the communication thread's).
class prefetch_depth {
 public:
  prefetch_depth(int threads, int prefetch);

  /// Chunks to keep in flight, given the recent mean chunk time in seconds (0: not measured yet).
  int target(double chunk_seconds) const noexcept;
  /// A request for `want` chunks left at `at`. Requests are answered in the order they were sent.
  void asked(double at, std::uint32_t want);
  /// An answer carrying `answers` of the chunks asked for arrived at `at`. The first answer to a request is a
  /// sample of the round trip.
  void answered(double at, std::uint32_t answers);
  /// The requests outstanding will not be answered (a new scheduler): forget them, keep the estimate.
  void forget() noexcept { asked_.clear(); }
  /// The least round trip of the last `window` to `2 * window` samples, in seconds (0 until the first answer).
  double round_trip() const noexcept;
  static constexpr int window = 16;
  /// Work per thread that may be queued whatever the base depth: far under anything that unbalances a job's end.
  static constexpr double tiny_queue_seconds = 50e-6;
  static constexpr int tiny_max_factor = 64;
  int base() const noexcept { return threads_ + prefetch_; }
  /// The most chunks in flight for chunks of `chunk_seconds` (0: not measured): four times the base, more for
  /// chunks so short that this is less than tiny_queue_seconds of work per thread.
  int max_target(double chunk_seconds = 0) const noexcept;

 private:
  struct request {
    double at;
    std::uint32_t left;
    bool sampled;
  };
  int threads_, prefetch_;
  std::deque<request> asked_;
  // The least sample of the window being filled and of the one before (a windowed minimum in two buckets).
  double current_min_ = 0, previous_min_ = std::numeric_limits<double>::infinity();
  int in_current_ = 0;
  std::uint64_t samples_ = 0;
};

}  // namespace partita::detail
