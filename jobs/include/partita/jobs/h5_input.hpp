#pragma once
/// A map/reduce job's declared HDF5 input, as the job builder keeps it: the dataset checked and described, cut into
/// row blocks, read on each rank by its own handle (docs/design.md, "Map/reduce data path").

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include <partita/checkpoint/h5_dataset.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/scheduler/input_block.hpp>

namespace partita {

/// The default target size of an input partition (64 MiB); `--param partition_mib=` or input(..., bytes) change it.
inline constexpr std::uint64_t default_partition_bytes = std::uint64_t{64} << 20;

namespace detail {

/// Rows of partitions [first, end) of a dataset cut into `per` rows each, `total` rows in all (the last is short).
inline std::uint64_t block_rows(std::uint64_t first, std::uint64_t end, std::uint64_t per, std::uint64_t total) {
  return std::min(end * per, total) - std::min(first * per, total);
}

/// A declared input: its description, the rows of each partition, and this rank's reader (opened at the first
/// read). Shared by the copies of a job; thread-safe.
class h5_input {
 public:
  /// Checks the dataset (usage_error, one line, on any problem) and cuts it into blocks of about `target_bytes`.
  h5_input(const std::string& file, const std::string& dataset, data_type type, std::uint64_t target_bytes);

  const h5_dataset_info& info() const noexcept { return info_; }
  std::uint64_t rows_per_partition() const noexcept { return rows_per_partition_; }
  std::uint64_t partition_count() const noexcept;
  /// The first row of partition `id` and its number of rows.
  std::uint64_t first_row(partition_id id) const noexcept { return id.value * rows_per_partition_; }
  std::uint64_t rows(partition_id id) const noexcept;
  /// Bytes of the blocks of partitions [first, end).
  std::uint64_t bytes_of(std::uint64_t first, std::uint64_t end) const noexcept {
    return block_rows(first, end, rows_per_partition_, info_.rows()) * info_.row_bytes();
  }
  /// Reads partition `id`'s block.
  void read(partition_id id, input_block& into) const;

 private:
  h5_dataset_info info_;
  std::uint64_t rows_per_partition_ = 1;
  std::shared_ptr<h5_block_reader> reader_;
};

}  // namespace detail
}  // namespace partita
