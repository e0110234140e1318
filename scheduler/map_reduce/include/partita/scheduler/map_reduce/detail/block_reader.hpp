#pragma once
/// A rank's one reader thread of the map/reduce data path: reads the input blocks of the partitions queued on the
/// rank, in order, ahead of the kernels (docs/design.md, "Map/reduce data path").

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>

namespace partita::detail {

/// Reads blocks with map_job_model::read_input on its own thread (I/O, not compute: it sleeps in the reads), at
/// most `ahead` blocks beyond those the kernels took. A kernel whose block is neither read nor being read reads it
/// itself (a miss), so no order of the arena's chunks can deadlock it. The buffers of blocks the kernels let go are
/// reused for the next reads (at most `ahead` kept). Non-copyable; the destructor stops the thread.
/// enqueue/take/stats are thread-safe.
class block_reader {
 public:
  block_reader(map_job_model& job, std::size_t ahead);
  ~block_reader();
  block_reader(const block_reader&) = delete;
  block_reader& operator=(const block_reader&) = delete;

  /// Queues the partitions of a chunk, in order, to be read ahead.
  void enqueue(const std::vector<id_range>& chunk);
  /// Partition `id`'s block: taken from those read ahead (a hit), waited for if it is being read, else read on the
  /// calling thread. Throws what the read threw.
  std::shared_ptr<const input_block> take(partition_id id);
  /// Forgets the partitions of `ids` (they will not run here): not read if still queued, let go of if read ahead
  /// (waits for a read of one under way). Cost: O(queued × ranges).
  void drop(const std::vector<id_range>& ids);
  /// Drops the queue and the blocks read ahead (the job is being stopped).
  void cancel();
  input_stats stats() const;

 private:
  struct spare_blocks;
  void loop();
  std::shared_ptr<input_block> read(partition_id id);
  /// A block to read into: a spare one (its buffer already the right size and in memory) or a new one; when its last
  /// user lets go of it, it goes back to the spares.
  std::shared_ptr<input_block> make_block();

  map_job_model& job_;
  std::size_t ahead_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::uint64_t> queue_;
  std::map<std::uint64_t, std::shared_ptr<input_block>> ready_;
  std::map<std::uint64_t, std::exception_ptr> failed_;
  std::optional<std::uint64_t> reading_;
  bool stop_ = false;
  input_stats stats_;
  std::shared_ptr<spare_blocks> spares_;  // shared with the blocks' deleters: a block may outlive the reader
  std::thread thread_;
};

}  // namespace partita::detail
