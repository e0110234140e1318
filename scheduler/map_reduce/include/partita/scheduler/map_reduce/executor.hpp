#pragma once
/// Runs chunks of partitions on a TBB arena and collects their results for the communication thread.

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/id_set.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/trace_slice.hpp>

namespace partita {

namespace detail {
class block_reader;
class block_writer;
}  // namespace detail

/// Results of finished partitions, packed: ids[i]'s result is data[ends[i-1], ends[i]). Value type.
struct result_batch {
  std::vector<std::uint64_t> ids;
  std::vector<std::uint64_t> nanos;  ///< measured kernel time of each partition
  std::vector<std::uint32_t> ends;
  bytes data;

  std::size_t size() const noexcept { return ids.size(); }
  bool empty() const noexcept { return ids.empty(); }
  void clear() noexcept {
    ids.clear();
    nanos.clear();
    ends.clear();
    data.clear();
  }
  std::span<const std::byte> result(std::size_t i) const {
    const std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return {data.data() + begin, ends[i] - begin};
  }
  /// Moves all of `other`'s results to the end of this batch.
  void append(result_batch&& other);
};

/// The first kernel failure: which partition, what it said.
struct kernel_failure {
  partition_id id;
  std::string message;
};

/// Owns a tbb::task_arena of `threads` threads (none reserved for the caller) and runs submitted chunks on it,
/// each chunk's partitions in order, claimed one at a time. submit/drain/in_flight are called from one thread (the
/// comm thread); kernels run concurrently.
///
/// A thread that finds no chunk waiting helps a sibling: it claims the next unstarted partitions of the running
/// chunk with the most left, until that chunk is drained or a new chunk arrives. So no kernel thread of a rank sits
/// idle while partitions handed to the rank wait unstarted behind a long one (docs/design.md, "Threads of a rank
/// share their chunks").
///
/// One exception keeps tiny partitions fast: when nothing is in flight and the measured mean chunk time is under
/// `inline_below`, submit runs the chunk on the calling thread. Handing a chunk of a few microseconds to a kernel
/// thread and its result back costs two thread wake-ups, more than the chunk itself (and far more on an
/// oversubscribed node); run inline, the communication thread is away from its messages no longer than it takes
/// to probe for one (docs/design.md, "Framework threads"). Non-copyable, non-movable; the destructor cancels and
/// waits for running kernels.
class executor {
 public:
  /// `rank` is what kernels see as context::rank().
  /// With a job that declared an input, a reader thread reads blocks up to `threads + read_ahead` ahead. With a job
  /// that declared an output, a writer thread writes the blocks the kernels fill and makes them durable in batches;
  /// a partition's result is published (drain) only once its block is durable, and a chunk stays in flight until all
  /// its results are published. At most `threads + write_behind` output blocks exist on the rank.
  executor(map_job_model& job, int threads, std::uint64_t seed, bool trace, std::chrono::steady_clock::time_point t0,
           rank_t rank = rank_t{0}, int read_ahead = 1);
  ~executor();
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Chunks whose measured mean time is under this run on the submitting thread when nothing else is in flight.
  static constexpr std::chrono::microseconds inline_below{20};
  /// Output blocks a rank holds beyond one per kernel thread: one being written, one queued behind it.
  static constexpr int write_behind = 2;

  void submit(std::vector<id_range> chunk);
  /// Chunks submit ran on the calling thread (the inline fast path).
  std::uint64_t ran_inline() const noexcept { return inline_chunks_; }
  /// Chunks submitted and not finished yet.
  int in_flight() const noexcept { return submitted_ - finished_.load(std::memory_order_acquire); }
  int threads() const noexcept { return threads_; }
  /// Moves the results finished so far into `into`; true if there were any. Takes no lock when nothing was
  /// published since the last call.
  bool drain(result_batch& into);
  /// The first kernel failure, if any kernel threw.
  std::optional<kernel_failure> failure() const;
  /// Asks running kernels to stop (ctx.cancelled()) and skips partitions not started.
  void cancel() noexcept;
  /// The scheduler took these partitions back (handed them to another rank): those not started yet are skipped
  /// (no result). One submitted again later runs. Called from the submitting thread.
  void take_back(const std::vector<id_range>& ids);
  /// Partitions skipped because they were taken back.
  std::uint64_t skipped() const noexcept { return skipped_.load(); }
  /// What this rank's input reader did (zeros when the job declared no input).
  input_stats read_stats() const;
  /// What this rank wrote of the job's declared output (zeros when it declared none).
  output_stats write_stats() const { return job_.write_stats(); }
  /// Waits until nothing is in flight.
  void wait_idle();
  /// A count that grows whenever kernels publish results, fail or finish a chunk: what the communication thread
  /// waits for instead of polling (wait_for_event). Thread-safe; cost: one atomic load.
  std::uint64_t events() const noexcept { return events_.load(std::memory_order_acquire); }
  /// Blocks the calling thread (no spinning) until events() differs from `seen` or `timeout` passes; true if it
  /// changed. The communication thread sleeps here while kernels run, so it takes no CPU from them.
  bool wait_for_event(std::uint64_t seen, std::chrono::nanoseconds timeout);
  /// The recent mean wall time of a chunk (moving average; 0 before the first one finished). Thread-safe.
  std::chrono::nanoseconds mean_chunk_time() const noexcept {
    return std::chrono::nanoseconds(chunk_ns_.load(std::memory_order_relaxed));
  }
  /// CPU seconds the kernel threads spent running chunks (per-thread CPU clock around each chunk): what the rest of
  /// the process's CPU time is compared with to find Partita's own share.
  double kernel_cpu_seconds() const noexcept { return static_cast<double>(kernel_cpu_ns_.load()) * 1e-9; }
  /// Seconds spent inside kernels, summed over threads.
  double busy_seconds() const noexcept { return static_cast<double>(busy_ns_.load()) * 1e-9; }
  std::uint64_t partitions_run() const noexcept { return ran_.load(); }
  std::vector<trace_slice> take_trace();

 private:
  enum class runs_on { arena, caller };
  struct shared_chunk;  // a chunk being run, whose unstarted partitions any thread of the rank may claim
  struct lane;          // one thread's unpublished results, trace slices and counts
  void fail(kernel_failure f);
  /// Runs `chunk` (owned by `sharable` if its partitions may be shared, else null), then helps siblings.
  void run_chunk(shared_chunk& chunk, const std::shared_ptr<shared_chunk>& sharable, runs_on where);
  /// Runs partitions claimed from `chunk` until none is left to claim (a helper also stops when a chunk waits
  /// for its thread). Returns when the last partition run here ended.
  std::chrono::steady_clock::time_point work_on(shared_chunk& chunk, lane& me, runs_on where, bool helper);
  /// This thread is done with `chunk` (listed for helpers if `sharable`): publishes what it ran, and the last
  /// thread out ends the chunk.
  void leave(shared_chunk& chunk, const std::shared_ptr<shared_chunk>& sharable, lane& me);
  /// Helps running chunks while no chunk waits for a thread. Only for arena threads of a rank of several threads.
  void help_siblings(lane& me);
  /// Hands `me`'s results and trace to the communication thread; `ends_chunk`: and one chunk's end.
  void publish(lane& me, bool ends_chunk);
  /// Runs partition `id`'s kernel; its result goes to `local`, or, with an output, to the writer with its block.
  /// Returns when it ended (`start`: when it started), or nullopt if it failed (fail() was called).
  std::optional<std::chrono::steady_clock::time_point> run_partition(std::uint64_t id, result_batch& local,
                                                                     std::chrono::steady_clock::time_point start);
  /// The writer's release: results whose blocks are durable, and chunks that ended behind them.
  void publish_durable(result_batch& durable, int chunks_ended);

  map_job_model& job_;
  int threads_;
  std::uint64_t seed_;
  bool trace_;
  rank_t rank_;
  std::chrono::steady_clock::time_point t0_;
  tbb::global_control parallelism_;
  tbb::task_arena arena_;
  std::atomic<bool> cancel_{false};
  int submitted_ = 0;
  std::atomic<int> waiting_{0};        // chunks enqueued on the arena that no thread has started
  std::atomic<int> helping_{0};        // arena tasks that may still touch the executor (wait_idle waits for them)
  std::atomic<int> working_{0};        // arena threads running a chunk or helping
  std::atomic<int> running_count_{0};  // running_.size(), read without the lock
  std::mutex running_mutex_;
  std::vector<std::shared_ptr<shared_chunk>> running_;  // chunks on the arena with partitions left to claim
  std::uint64_t inline_chunks_ = 0;
  std::atomic<int> finished_{0};
  std::atomic<std::uint64_t> busy_ns_{0};
  std::atomic<std::uint64_t> ran_{0};
  std::atomic<std::uint64_t> kernel_cpu_ns_{0};
  std::atomic<std::int64_t> chunk_ns_{0};  // moving average of a chunk's wall time (0: none finished yet)
  mutable std::mutex mutex_;
  std::condition_variable event_;  // signalled (under mutex_) when events_ grows
  std::atomic<std::uint64_t> events_{0};
  std::uint64_t drained_events_ = 0;  // events() at the last drain (the comm thread's)
  std::atomic<bool> failed_{false};   // failure_ is set
  result_batch done_;
  std::vector<trace_slice> slices_;
  std::optional<kernel_failure> failure_;
  std::mutex taken_mutex_;
  id_set taken_;  // taken back, not to be started here (take_back): ranges, whatever a message says
  std::atomic<bool> any_taken_{false};  // taken_ is not empty: the one load a claim pays
  std::atomic<std::uint64_t> skipped_{0};
  /// Whether partition `id` was taken back (and forgets it: a claim happens once).
  bool taken_back(std::uint64_t id);
  std::unique_ptr<detail::block_reader> reader_;  // only for a job that declared an input
  std::unique_ptr<detail::block_writer> writer_;  // only for a job that declared an output
};

}  // namespace partita
