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

/// Value type. Not thread-safe (one simulated actor owns it).
class rank_threads {
 public:
  /// `costs[id]` is partition id's kernel time in seconds (it must outlive this object); each partition also
  /// takes `overhead` seconds of the thread (the executor's own work around the kernel).
  rank_threads(int threads, const std::vector<float>& costs, double overhead = 0);

  /// Queues a chunk at simulated time `now`; it starts on the first free thread.
  void submit(std::vector<id_range> chunk, double now);
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
  };
  void start_next(lane& l, double at);
  void begin_partition(lane& l, double at);

  const std::vector<float>& costs_;
  double overhead_;
  std::vector<lane> lanes_;
  std::deque<std::vector<id_range>> queued_;
  int in_flight_ = 0;
  double mean_chunk_ = 0;
  double busy_ = 0;
  std::uint64_t ran_ = 0;
};

}  // namespace partita::simulate
