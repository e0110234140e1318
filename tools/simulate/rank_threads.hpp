#pragma once
/// A rank's kernel threads in simulated time: chunks queue FIFO, each runs on one thread, its partitions in order
/// (as partita::executor runs them on its TBB arena), each taking the workload's time for that partition.

#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include <partita/scheduler/map_reduce/dispatcher.hpp>

namespace partita::simulate {

/// A finished partition: its id and its kernel time.
struct finished_partition {
  std::uint64_t id = 0;
  double seconds = 0;
};

/// Where the threads of every rank spent the job, summed over threads (for where efficiency is lost: idle before a
/// thread's first partition, after its last, and in between).
struct thread_usage {
  std::uint64_t started = 0;   ///< threads that ran at least one partition
  double first_start_sum = 0;  ///< sum over those of when their first partition started
  double last_end_sum = 0;     ///< sum over those of when their last partition ended (so far)
  double busy = 0;             ///< kernel time and the executor's overhead, summed
  double last_end_max = 0;     ///< when the last partition so far ended
};

/// Value type. Not thread-safe (one simulated actor owns it).
class rank_threads {
 public:
  /// `costs[id]` is partition id's kernel time in seconds (it must outlive this object); each partition also
  /// takes `overhead` seconds of the thread (the executor's own work around the kernel). `usage`, when given,
  /// accumulates where the threads spent their time (it must outlive this object).
  rank_threads(int threads, const std::vector<float>& costs, double overhead = 0, thread_usage* usage = nullptr);

  /// Queues a chunk at simulated time `now`; it starts on the first free thread.
  void submit(std::vector<id_range> chunk, double now);
  /// The scheduler took these partitions back (executor::take_back): those not started are dropped from the
  /// queued chunks and from the rest of the running ones.
  void take_back(const std::vector<id_range>& ids);
  /// Partitions dropped by take_back.
  std::uint64_t skipped() const noexcept { return skipped_; }
  /// Moves every partition finished by `now` into `out`, starting queued chunks on threads that became free.
  void advance(double now, std::vector<finished_partition>& out);
  /// When the next partition finishes (infinity when nothing runs).
  double next_finish() const;
  /// Chunks submitted and not finished (what executor::in_flight() counts).
  int in_flight() const noexcept { return in_flight_; }
  int threads() const noexcept { return static_cast<int>(lanes_.size()); }
  /// How long the comm thread waits between looks at its threads: a quarter of the recent mean chunk time,
  /// between 2 us and 500 us (the rule of executor::poll_interval()).
  double poll_interval() const;
  /// The recent mean chunk time (0 before the first chunk ends; executor::mean_chunk_time()).
  double mean_chunk() const noexcept { return mean_chunk_; }
  double busy_seconds() const noexcept { return busy_; }
  std::uint64_t partitions_run() const noexcept { return ran_; }

 private:
  struct lane {
    std::vector<id_range> chunk;                            // running chunk (empty: idle)
    std::size_t range = 0;                                  // index of the running range
    std::uint64_t next = 0;                                 // id of the running partition
    double ends = std::numeric_limits<double>::infinity();  // when it finishes
    double chunk_start = 0;
    double last_end = -1;  // when its last partition ended (-1: none started yet)
  };
  void start_next(lane& l, double at);
  void begin_partition(lane& l, double at);

  const std::vector<float>& costs_;
  double overhead_;
  thread_usage* usage_;
  std::vector<lane> lanes_;
  std::deque<std::vector<id_range>> queued_;
  int in_flight_ = 0;
  double mean_chunk_ = 0;
  double busy_ = 0;
  std::uint64_t ran_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace partita::simulate
