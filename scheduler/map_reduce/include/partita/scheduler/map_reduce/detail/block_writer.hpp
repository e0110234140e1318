#pragma once
/// A rank's one writer thread of the map/reduce data path: writes the output blocks the kernels filled, makes them
/// durable in batches (one fdatasync for all the blocks written since the last), and only then releases their
/// partitions' results (docs/design.md, "Map/reduce data path").

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>

namespace partita::detail {

class block_writer;

/// Returns an output block's buffer to its writer's spares when its holder lets go of it (deletes it without one).
struct block_recycle {
  block_writer* writer = nullptr;
  void operator()(input_block* block) const noexcept;
};

/// Writes output blocks with map_job_model::write_output on its own thread (I/O: it sleeps in pwrite and fdatasync,
/// so it must not take a kernel's slot) and makes them durable with one map_job_model::sync_output per batch: the
/// blocks queued while the previous batch was written and synced. A partition's result is released (`release`) only
/// after the sync that follows its block's write, so the commit rule holds: a committed partition's block is on disk.
///
/// Memory: at most `capacity` blocks exist at once (those the kernels fill, those queued, the ones being written);
/// acquire() waits for a buffer beyond that, which is the back-pressure on kernels that outrun the disk. A block's
/// buffer is reused once its bytes are written (on the disk with O_DIRECT, or in the page cache; the sync needs no
/// buffer), without allocating.
///
/// Chunks: end_chunk() queues a mark behind the chunk's blocks; `release` gets the count of chunk ends in the same call
/// as the results before them, so a chunk counts as finished only once all its results are released.
///
/// After `cancel` is set, queued blocks are dropped unwritten (their results would be dropped anyway); marks are still
/// released. The writer makes no HDF5 call (pwrite at the dataset's offset), so it needs no h5_lock and the rank's
/// HDF5 calls stay on the reader thread and the scheduler's. Non-copyable; the destructor stops the thread (blocks
/// still queued are dropped). acquire/submit/end_chunk are thread-safe.
class block_writer {
 public:
  /// Called on the writer thread with results made durable (in submission order) and the chunk ends among them.
  using release_fn = std::function<void(result_batch& durable, int chunks_ended)>;
  /// Called on the writer thread when a write or a sync fails (the job then fails; the results are not released).
  using fail_fn = std::function<void(kernel_failure)>;

  using block_ptr = std::unique_ptr<input_block, block_recycle>;

  block_writer(map_job_model& job, std::size_t capacity, const std::atomic<bool>& cancel, release_fn release,
               fail_fn fail);
  ~block_writer();
  block_writer(const block_writer&) = delete;
  block_writer& operator=(const block_writer&) = delete;

  /// Partition `id`'s output block, zeroed (map_job_model::shape_output), in a reused buffer where one is spare.
  /// Waits while `capacity` blocks are out.
  block_ptr acquire(partition_id id);
  /// Queues partition `id`'s filled block to be written, and its result (`nanos`: its kernel time), to be released
  /// once the block is durable.
  void submit(partition_id id, std::uint64_t nanos, block_ptr block, bytes result);
  /// Queues the end of a chunk behind its blocks.
  void end_chunk();
  /// Batches synced so far (one fdatasync each). Thread-safe.
  std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }

 private:
  struct item {
    std::uint64_t id = 0;
    std::uint64_t nanos = 0;
    block_ptr block;  // null: the end of a chunk
    bytes result;
  };
  void loop();
  /// Writes a batch's blocks and syncs them; returns the results now durable (empty if the writes failed).
  result_batch write_batch(std::deque<item>& batch);
  friend struct block_recycle;
  void give_back(input_block* block) noexcept;

  map_job_model& job_;
  std::size_t capacity_;
  const std::atomic<bool>& cancel_;
  release_fn release_;
  fail_fn fail_;
  std::mutex m_;
  std::condition_variable queued_;  // the writer waits for items
  std::condition_variable freed_;   // acquire waits for a buffer
  std::vector<std::unique_ptr<input_block>> spares_;
  std::size_t out_ = 0;  // blocks handed out and not given back
  std::deque<item> queue_;
  bool stop_ = false;
  bool writing_ = false;  // the writer thread is inside a batch
  std::atomic<std::uint64_t> syncs_{0};
  std::thread thread_;
};

}  // namespace partita::detail
