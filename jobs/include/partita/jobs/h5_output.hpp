#pragma once
/// A map/reduce job's declared per-partition HDF5 output, as the job builder keeps it: each partition's block written
/// in its place by the rank that ran it; the scheduler records the committed blocks (docs/design.md, "Map/reduce
/// data path").

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint/block_output.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/scheduler/input_block.hpp>

namespace partita::detail {

/// What a job declared with map_reduce_job::output: resolved against its input when the job is built. Value type.
struct h5_output_decl {
  std::string file, dataset;
  data_type type = data_type::float64;
  std::optional<std::vector<std::uint64_t>> row_shape;  ///< the axes after the first (default: the input's)
  std::uint64_t rows_per_partition = 0;                 ///< 0: the input's blocks, row for row
};

/// A declared output: its shape, each partition's rows, and this rank's writer. Shared by a job's copies.
/// shape_block/write/sync are thread-safe (kernel threads and the rank's writer thread call them); prepare/record run
/// on the scheduler's thread.
class h5_output {
 public:
  /// `rows_per_partition` rows for each of `partitions` partitions but the last, `total_rows` in all.
  h5_output(const h5_output_decl& decl, std::vector<std::uint64_t> row_shape, std::uint64_t rows_per_partition,
            std::uint64_t total_rows, std::uint64_t partitions, std::string job);

  /// "file=...;dataset=...;type=...;shape=...": part of the job's parameters.
  std::string identity() const;
  std::uint64_t prepare(std::uint64_t params_hash, bool resume, bool overwrite);
  /// Every rank: opens this rank's writer of the dataset at byte `offset`, writing with `io`.
  void open(std::uint64_t offset, output_io io);
  /// Makes `into` partition `id`'s block (its rows, shape and first row), its bytes zeroed. The buffer is reused as it
  /// is when it is large enough (a block of a previous partition): no allocation, no page faults, one memset.
  void shape_block(partition_id id, input_block& into) const;
  /// The CRC-32 of a block's bytes, as they will be in the file (what `partita verify` recomputes).
  static std::uint32_t checksum(const input_block& block);
  /// Writes partition `id`'s block into its place (pwrite: not durable before sync()).
  void write(partition_id id, const input_block& block);
  /// Makes every block this rank wrote durable (one fdatasync).
  void sync();
  void record(const std::vector<std::uint8_t>& committed, const std::vector<std::uint32_t>& crcs, bool complete);
  /// What this rank wrote so far. Thread-safe.
  output_stats stats() const;
  /// Bytes of the blocks of partitions [first, end).
  std::uint64_t bytes_of(std::uint64_t first, std::uint64_t end) const noexcept;

 private:
  std::uint64_t rows(partition_id id) const noexcept;
  std::uint64_t row_bytes() const noexcept;
  block_output_spec spec_;
  std::uint64_t rows_per_partition_;
  std::unique_ptr<block_file_writer> writer_;
  std::atomic<std::uint64_t> bytes_{0}, blocks_{0}, nanos_{0};
};

}  // namespace partita::detail
