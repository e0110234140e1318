#pragma once
/// The fold's shape, fixed by partition ids: a job's value is the fold of aligned id blocks' values, in id order.

#include <cstdint>
#include <functional>
#include <map>
#include <span>

#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/map_reduce/detail/held_results.hpp>

namespace partita {
class map_job_model;
}

namespace partita::detail {

/// The size B of the aligned id blocks [kB, (k+1)B) a job of `partitions` partitions is folded over: the largest
/// power of two whose fourth power is at most the partition count, at most 4096 (1 below 16 partitions). It
/// depends on the partition count alone, never on ranks, levels or policy, so every run and every restart of a job
/// folds the same shape (docs/design.md, "Folding aligned id blocks").
/// (Inline: the checkpoint reader, map_reduce_state, needs it without the rest of the model.)
constexpr std::uint64_t fold_block_size(std::uint64_t partitions) noexcept {
  // The largest power of two b with b^4 <= partitions: blocks large enough to spare the root most of its
  // per-result work, small enough that a node's chunks, even the last and smallest ones, hold whole blocks.
  std::uint64_t b = 1;
  while (b < 4096 && (2 * b) * (2 * b) * (2 * b) * (2 * b) <= partitions) b *= 2;
  return b;
}

/// The job model's fold, type-erased (map_job_model, a test's, or nothing at all in the simulator).
struct fold_ops {
  /// Folds one result into the live accumulator (the first one initialises it).
  std::function<void(std::span<const std::byte>)> result;
  /// Folds a value (accumulator bytes: a block's fold) into the live accumulator (the first one initialises it).
  std::function<void(std::span<const std::byte>)> value;
  /// The live accumulator's bytes (empty: nothing folded).
  std::function<bytes()> get;
  /// Sets the live accumulator (empty: nothing folded).
  std::function<void(std::span<const std::byte>)> set;
  /// Swaps the live accumulator with a second one and returns true; empty, or false: there is no second one.
  std::function<bool()> swap;
};

/// The fold of `job` (map_job_model::fold, fold_value, accumulator, restore). The job must outlive the result.
fold_ops fold_ops_of(map_job_model& job);

/// The root's fold over aligned id blocks of `fold_block_size(partitions)` ids: the folded prefix of whole blocks,
/// the partial fold of the current block (in the live accumulator of `ops`), the results committed ahead of the
/// fold (held_results) and the block values committed ahead of it (a node scheduler folded them). Results fold into
/// the current block in id order; a block's value, once whole, folds into the prefix. A block value replaces the
/// individual results of its block, whichever of them came too (a partition's result is the same bits wherever it
/// ran). Single-threaded. Move-only in practice (it owns the held results).
class block_fold {
 public:
  block_fold(std::uint64_t partitions, fold_ops ops);

  /// Starts from a saved state: `prefix` (the fold of the whole blocks below `folded`), `partial` (the fold of ids
  /// from the current block's start to `folded`), and what was held; what continues the prefix is folded now.
  void start(bytes prefix, bytes partial, std::uint64_t folded, const std::map<std::uint64_t, bytes>& held,
             std::map<std::uint64_t, bytes> held_blocks);

  /// A result committed now (partition `id`, never committed before). Call end_batch() after a message's results.
  void add_result(std::uint64_t id, std::span<const std::byte> result);
  /// Block `k`'s value (the in-order fold of its ids), committed now (it brought ids not committed before).
  void add_block(std::uint64_t k, std::span<const std::byte> value);
  /// Closes the run of held results a message's results made.
  void end_batch() { held_.close(); }

  std::uint64_t block_size() const noexcept { return block_; }
  std::uint64_t block_count() const noexcept { return (total_ + block_ - 1) / block_; }
  /// The ids of block `k`.
  std::uint64_t block_begin(std::uint64_t k) const noexcept { return k * block_; }
  std::uint64_t block_end(std::uint64_t k) const noexcept;
  /// Partitions folded (ids below this), into the prefix or the current block.
  std::uint64_t folded() const noexcept { return folded_; }
  /// The fold of the whole blocks below folded(): the job's value once folded() is the partition count.
  bytes prefix();
  /// The partial fold of the current block (ids from its start to folded()).
  bytes partial() const { return folded_ == total_ ? bytes{} : ops_.get(); }
  /// Results and block values held ahead of the fold (as the checkpoint keeps them).
  std::map<std::uint64_t, bytes> held() const { return held_.to_map(); }
  const std::map<std::uint64_t, bytes>& held_blocks() const noexcept { return blocks_; }
  std::uint64_t held_count() const noexcept { return held_.size(); }

 private:
  void fold_one(std::span<const std::byte> r);          // into the current block; closes it at its end
  void fold_into_prefix(std::span<const std::byte> v);  // a whole block's value
  void advance();                                       // folds what continues the prefix

  /// Where the prefix is kept: as bytes (prefix_), or live in the second accumulator of ops_.swap (the
  /// current block's partial fold in the first), or, once everything is folded, live in the first.
  enum class kept { as_bytes, second, first };

  std::uint64_t total_;
  std::uint64_t block_;
  fold_ops ops_;
  kept prefix_kept_ = kept::as_bytes;
  bytes prefix_;  // with kept::as_bytes
  std::uint64_t folded_ = 0;
  held_results held_;
  std::map<std::uint64_t, bytes> blocks_;  // block index -> value, blocks ahead of the fold
};

}  // namespace partita::detail
