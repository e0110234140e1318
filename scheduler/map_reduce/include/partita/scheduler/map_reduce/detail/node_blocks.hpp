#pragma once
/// A node scheduler's fold of the aligned id blocks handed to it whole (MPI-free: the node scheduler and the model
/// of large runs both run it).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include <partita/scheduler/map_reduce/detail/block_fold.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/id_set.hpp>

namespace partita::detail {

/// Which results a node scheduler keeps to fold into their block's value, and which go up one by one
/// (docs/design.md, "Folding aligned id blocks"). A block is folded here when every one of its ids was handed to
/// this node by the root before the first of its results came in, and each of its ids is reported once (a
/// speculative twin or an id rerun after a member's loss is dropped here, as the root would drop it); its value is
/// then the in-order fold of its results, exactly what the root would fold from them. A block not wholly handed to
/// this node when its first result comes (split across nodes, a requeued or copied id) goes up result by result,
/// all of it. Single-threaded. Value type.
class node_blocks {
 public:
  using clock = std::chrono::steady_clock;
  /// How long a result may wait here for the rest of its block once the job's tail began: half of speculation's
  /// floor (speculation_options::floor_seconds), the least time the root gives any partition before it may copy it,
  /// so that a finished partition rarely looks overdue to the root because it waited here, and a block held up by a
  /// straggler (which the root may copy elsewhere) goes up result by result well before the copy's result comes.
  static constexpr std::chrono::milliseconds tail_wait{50};

  /// Blocks of fold_block_size(partitions); `enabled` false keeps nothing (every result goes up on its own: a job
  /// with a per-partition output, whose CRC-32s ride on each result).
  node_blocks(std::uint64_t partitions, bool enabled);

  /// The root handed this node `chunk` (its ids become the node's).
  void handed(const std::vector<id_range>& chunk);
  /// What offer() did with a result.
  enum class verdict : std::uint8_t {
    up,       ///< its block is not held whole here: it goes up on its own
    kept,     ///< kept for its block's value
    dropped,  ///< its id was reported here before (a twin, a rerun): nothing goes up
  };
  /// A result of partition `id` (`nanos` its time), reported by one of the node's ranks or its own threads at
  /// `now`. Copies it when kept.
  verdict offer(std::uint64_t id, std::uint64_t nanos, std::span<const std::byte> result, clock::time_point now);
  /// offer() for each result of `in`; those that go up are appended to `up`.
  void sort(const result_batch& in, result_batch& up, clock::time_point now);
  /// Folds every block all of whose results are in, in id order with `fold` (its live accumulator is used and
  /// reset), and appends its value to `out` (ids: the block index; nanos: the sum of its partitions' times).
  /// Returns how many blocks.
  std::size_t take_whole(const fold_ops& fold, result_batch& out);
  /// Orders folded blocks (take_whole's output, gathered over several calls) by block index before they go up:
  /// blocks become whole in the order their last partitions finish, on whichever thread, and the root commits a
  /// run of consecutive blocks as one range (root_core::commit_blocks). Cost: O(n log n) when out of order.
  static void order(result_batch& blocks);

  /// The job's tail began at `now` (the root said its queue is empty: from now on it may hand out speculative
  /// copies of what looks overdue). From then on a result waits here at most tail_wait for the rest of its block
  /// (counted from `now` for those kept already): release() sends the results of a block that waited longer one by
  /// one. Blocks are still folded here. Idempotent.
  void begin_tail(clock::time_point now);
  /// Whether the tail began.
  bool in_tail() const noexcept { return tail_; }
  /// In the tail: the results kept for each block not whole yet whose oldest kept result (or the tail's start, if
  /// later) is tail_wait old at `now` go up one by one (appended to `up`, in id order within a block), and so do
  /// that block's later results. Returns how many results went up. Cost: O(blocks released + their size), and
  /// O(1) when none is due.
  std::uint64_t release(clock::time_point now, result_batch& up);
  /// When release() next has something to send (none: nothing is kept, or the tail has not begun). Forgets the
  /// blocks folded or released since they were kept. Amortised O(1).
  std::optional<clock::time_point> next_release();

  bool enabled() const noexcept { return enabled_; }
  std::uint64_t block_size() const noexcept { return block_; }
  /// Results kept for blocks not whole yet.
  std::uint64_t kept() const noexcept { return kept_; }
  /// Blocks folded so far, and results sent up one by one.
  std::uint64_t blocks_folded() const noexcept { return folded_; }
  std::uint64_t results_alone() const noexcept { return alone_; }

 private:
  enum class state : std::uint8_t { open, sent, alone };
  struct block {
    state st = state::open;
    clock::time_point since;           // when its first result was kept
    std::uint64_t have = 0;            // results in
    std::vector<bytes> results;        // by id - first id of the block
    std::vector<std::uint64_t> nanos;  // each one's measured time
    std::vector<bool> in;
  };
  std::uint64_t end_of(std::uint64_t k) const noexcept;

  std::uint64_t total_;
  std::uint64_t block_;
  bool enabled_;
  id_set handed_;
  std::map<std::uint64_t, block> blocks_;  // by index: open (results kept), sent (folded), alone (results go up)
  std::vector<std::uint64_t> whole_;       // open blocks all of whose results are in
  std::deque<std::uint64_t> opened_;       // blocks with kept results in the order they were kept (some may have
                                           // been folded or released since: skipped)
  bool tail_ = false;
  clock::time_point tail_start_;
  std::uint64_t kept_ = 0;
  std::uint64_t folded_ = 0;
  std::uint64_t alone_ = 0;
};

}  // namespace partita::detail
