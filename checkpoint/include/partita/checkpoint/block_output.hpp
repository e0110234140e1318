#pragma once
/// A map/reduce job's per-partition HDF5 output (docs/design.md, "Map/reduce data path"): one contiguous dataset,
/// allocated when the file is made, each partition's block written in its place by the rank that ran it (pwrite at
/// the dataset's offset, O_DIRECT where it can; the dataset starts on a page), and a record of the committed blocks
/// kept by the scheduler.
///
/// In the file: the dataset, and
///   /partita/committed   uint8 [partitions]  1 where the partition's block is committed (exactly once)
///   /partita/block_crc32 uint32 [partitions] the CRC-32 of each committed block's bytes (as the rank that wrote it
///                                            computed it), 0 where not committed
///   attributes of /: partita_job (string), partita_params_hash (uint64), partita_partitions (uint64),
///                    partita_complete (uint8: 1 once every block is committed and the job completed),
///                    partita_dataset (string), partita_rows_per_partition (uint64): partition i's block is rows
///                    [i × rows_per_partition, (i + 1) × rows_per_partition) of the dataset (fewer for the last)

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <partita/checkpoint/data_type.hpp>
#include <partita/checkpoint/output_io.hpp>

namespace partita {

/// What a job's output is. Value type.
struct block_output_spec {
  std::filesystem::path file;
  std::string dataset;
  data_type type = data_type::float64;
  std::vector<std::uint64_t> shape;  ///< the whole dataset: rows first
  std::uint64_t partitions = 0;
  std::uint64_t rows_per_partition = 1;  ///< partition i's block starts at row i × rows_per_partition
  std::string job;
  std::uint64_t params_hash = 0;
};

/// Where a restarted job's output stands.
enum class output_start {
  fresh,  ///< (re)create the file: nothing is committed
  resume  ///< keep the file if it is this job's (same parameters), with its committed blocks
};

/// Scheduler rank, before any block is written: creates the file and the dataset (contiguous, allocated now), or
/// with output_start::resume reopens this job's file of the same shape. A file that is not this job's (another job,
/// other parameters, not an output of Partita) is refused with usage_error naming the problem and the fix, unless
/// `overwrite`. Returns the dataset's byte offset in the file (what block writers pwrite at). Takes h5_lock().
std::uint64_t prepare_block_output(const block_output_spec& spec, output_start start, bool overwrite);

/// Scheduler rank: records which blocks are committed (`committed[i]` 1 for partition i), their CRC-32s (`crcs[i]`,
/// written where committed, 0 elsewhere) and whether the job is complete. Takes h5_lock(). Throws error if the file
/// cannot be written.
void record_block_output(const block_output_spec& spec, const std::vector<std::uint8_t>& committed,
                         const std::vector<std::uint32_t>& crcs, bool complete);

/// Writes blocks into the dataset at `offset` with pwrite, and makes them durable with sync (one fdatasync for every
/// block written before it): a block counts as on disk only after a sync that follows its write. No HDF5 call.
///
/// With output_io::direct, the page-aligned part of a block whose place in the file and whose buffer both start on a
/// page (block_alignment) is written with O_DIRECT, straight from the buffer to the disk; its unaligned tail, and a
/// block that does not start on a page, go through the page cache. A file system that refuses O_DIRECT (at open,
/// or EINVAL at a write) turns direct writes off for this writer: the block is written through the page cache and so
/// are the next ones. Either way the sync is the same fdatasync (of the file, whichever descriptor wrote it), which
/// also flushes the disk's cache and the extents direct writes allocated.
/// Opened at the first write; thread-safe (pwrite, fdatasync). Non-copyable.
class block_file_writer {
 public:
  block_file_writer(std::filesystem::path file, std::uint64_t offset, output_io io = output_io::direct);
  ~block_file_writer();
  block_file_writer(const block_file_writer&) = delete;
  block_file_writer& operator=(const block_file_writer&) = delete;
  /// Writes `size` bytes at byte `at` of the dataset (not durable before sync()). Throws error naming the file on
  /// failure. Sleeps in the disk's write of the direct part; the rest costs a copy into the page cache.
  void write(std::uint64_t at, const void* data, std::size_t size);
  /// Makes every block written so far durable (fdatasync). Throws error naming the file on failure. Costs the disk's
  /// flush of what is still dirty in the file, and of its cache.
  void sync();
  /// Bytes written with O_DIRECT so far (the others went through the page cache). Thread-safe.
  std::uint64_t direct_bytes() const noexcept { return direct_bytes_.load(std::memory_order_relaxed); }
  /// Whether writes may still go direct: false with output_io::page_cache or once the file system refused O_DIRECT.
  bool direct() const noexcept { return direct_.load(std::memory_order_relaxed); }

 private:
  int fd();
  /// The O_DIRECT descriptor, or -1 if the file system refused it (direct writes are then off).
  int direct_fd();
  /// Writes what it can of [p, p + size) at `pos` with O_DIRECT, whole pages; returns the bytes written (fewer than
  /// `size`, even 0, when the file system refused: direct writes are then off).
  std::size_t write_direct(const char* p, std::size_t size, std::uint64_t pos);
  void refused(const char* why) noexcept;
  std::filesystem::path file_;
  std::uint64_t offset_;
  std::mutex open_;  // the first writes open the descriptors
  int fd_ = -1, direct_fd_ = -1;
  std::atomic<bool> direct_;
  std::atomic<std::uint64_t> direct_bytes_{0};
};

}  // namespace partita
