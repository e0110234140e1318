#pragma once
/// The type-erased map/reduce job the scheduler runs; the jobs layer adapts typed kernels to it.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <partita/checkpoint/output_io.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/context.hpp>
#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/job_model.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// A map/reduce job as the scheduler sees it: dense partitions 0..N-1, a kernel that turns one into result
/// bytes, and an accumulator that folds result bytes in partition-id order. Every rank builds the same model
/// (SPMD), so partitions travel as ids, never as payloads.
class map_job_model : public job_model {
 public:
  model_kind kind() const noexcept final { return model_kind::map_reduce; }

  /// A relative cost estimate for partition `id`; 0 or less means unknown.
  virtual double cost_hint(partition_id id) const = 0;

  /// Runs the kernel on one partition and appends its serialized result to `out`. Called concurrently
  /// from arena threads. Exceptions propagate (the executor turns them into a job failure). With an output
  /// (has_output), the kernel fills the block the executor set in `ctx` (shape_output); the executor has it written
  /// (write_output, sync_output) before the result leaves the rank.
  virtual void run(partition_id id, context& ctx, bytes& out) = 0;

  /// Folds one serialized result into the accumulator (the first one initialises it). Called by the scheduler
  /// only, in partition-id order.
  virtual void fold(std::span<const std::byte> result) = 0;
  /// Folds a value in accumulator() bytes (the fold of an aligned id block: docs/design.md, "Folding aligned id
  /// blocks") into the accumulator, as fold() folds a result (the first one initialises it). The default is fold(),
  /// right for a job whose results are its accumulator's type and carry nothing else (no output CRC trailer).
  virtual void fold_value(std::span<const std::byte> value) { fold(value); }
  /// Resets the accumulator to "nothing folded yet".
  virtual void reset() = 0;
  /// The accumulator's bytes (for checkpoints and the final broadcast); empty if nothing was folded.
  virtual bytes accumulator() const = 0;
  /// Sets the accumulator from accumulator() bytes.
  virtual void restore(std::span<const std::byte> acc) = 0;
  /// Swaps the accumulator with a second one the model keeps (empty at first) and returns true; false (the
  /// default) if it keeps none. With it the root keeps the fold of the blocks so far live instead of as bytes, so a
  /// large accumulator is not serialized and parsed again for every block folded into it (docs/design.md, "Folding
  /// aligned id blocks").
  virtual bool swap_accumulator() { return false; }
  /// True if the job declared an input dataset: each partition's block is read on its rank (read_input) before
  /// its kernel runs, and the kernel sees it through context::input().
  virtual bool has_input() const { return false; }
  /// Reads partition `id`'s block of the declared input into `into`. Called by the rank's reader thread (or a
  /// kernel thread whose block was not read ahead); the reads of a rank are serialised (h5_lock).
  virtual void read_input(partition_id /*id*/, input_block& /*into*/) {}

  /// True if the job declared a per-partition output dataset: each partition's block is written in its place by
  /// the rank that ran it, and the scheduler records which blocks are committed (docs/design.md, "Map/reduce data
  /// path").
  virtual bool has_output() const { return false; }
  /// Scheduler rank, before any partition runs: creates the output file (or, when `resume`, keeps this job's file
  /// with its committed blocks). Returns the dataset's offset, which every rank then gets (open_output). Throws
  /// usage_error if the file is another job's and not `overwrite`.
  virtual std::uint64_t prepare_output(std::uint64_t /*params_hash*/, bool /*resume*/, bool /*overwrite*/) { return 0; }
  /// Every rank: where the output dataset's bytes start (prepare_output's answer), and how to write them.
  virtual void open_output(std::uint64_t /*offset*/, output_io /*io*/) {}
  /// Makes `into` partition `id`'s output block, zeroed, for its kernel to fill (context::output): reuses `into`'s
  /// buffer when it is large enough. Thread-safe.
  virtual void shape_output(partition_id /*id*/, input_block& /*into*/) const {}
  /// Appends to partition `id`'s result bytes `result` (what run() produced) what the scheduler records with its filled
  /// output block (block_crc: the block's CRC-32). Called on the kernel's thread once the kernel returned, before the
  /// block goes to the writer: the checksum's pass over the block is kernel-side work, beside the fill. Thread-safe.
  virtual void seal_output(partition_id /*id*/, const input_block& /*block*/, bytes& /*result*/) const {}
  /// Writes partition `id`'s filled block into its place in the output file, not yet durable (sync_output). Called
  /// by the rank's writer thread only (detail::block_writer). Throws error on failure.
  virtual void write_output(partition_id /*id*/, const input_block& /*block*/) {}
  /// Makes every block write_output wrote so far durable (one fdatasync). Called by the rank's writer thread only.
  virtual void sync_output() {}
  /// Scheduler rank: records the committed partitions (`committed[i]` 1 for partition i), the CRC-32 of each
  /// committed block (`crcs[i]`, block_crc) and whether the job is complete, in the output file.
  virtual void record_output(const std::vector<std::uint8_t>& /*committed*/, const std::vector<std::uint32_t>& /*crcs*/,
                             bool /*complete*/) {}
  /// The CRC-32 of the output block partition `result` came from, as the rank that wrote it computed it: it travels
  /// at the end of the result's bytes (what run() appended), so it takes every path a result takes. nullopt for a
  /// job without an output (or a result without one).
  virtual std::optional<std::uint32_t> block_crc(std::span<const std::byte> /*result*/) const { return std::nullopt; }
  /// What this rank wrote of the output so far (zeros without one). Thread-safe.
  virtual output_stats write_stats() const { return {}; }
  /// Bytes of the declared input's and output's blocks of partitions [first, end): what the live metrics count
  /// for the partitions done (zeros for a job without a data path).
  struct block_bytes {
    std::uint64_t input = 0, output = 0;
  };
  virtual block_bytes data_bytes(std::uint64_t /*first*/, std::uint64_t /*end*/) const { return {}; }

  /// The final result as printed (summaries, the JSON `result` field), from accumulator() bytes.
  virtual std::string describe(std::span<const std::byte> acc) const = 0;
};

}  // namespace partita
