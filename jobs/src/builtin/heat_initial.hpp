#pragma once
/// The heat job's initial field read from a 2-D HDF5 dataset (`--param initial=FILE:DATASET`), one block at a time.
/// Internal to the built-in jobs.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace partita::detail {

/// A 2-D floating-point dataset of `rows` x `cols` values, opened read-only (HDF5 file locking off) and read one
/// block at a time. Every HDF5 call holds partita::h5_lock(): init() runs on TBB threads and Debian's HDF5 is not
/// thread-safe. Copies share the open file (shared_ptr). Thread-safe.
class heat_initial_field {
 public:
  /// Checks `spec` ("FILE:DATASET") names a 2-D floating-point dataset of `rows` x `cols`. Throws usage_error
  /// naming the problem and the fix (a missing file or dataset, not HDF5, another rank, shape or type). Local.
  heat_initial_field(const std::string& spec, std::uint64_t rows, std::uint64_t cols);

  /// The input's identity, part of the job's parameters (`initial.identity`): the absolute file name, the dataset,
  /// its shape, the file's size and modification time (ns). A restart against a changed file is refused.
  const std::string& identity() const noexcept { return identity_; }

  /// The `side` x `side` block whose first cell is (row, col), row-major, as doubles. Throws error if the read fails.
  std::vector<double> block(std::uint64_t row, std::uint64_t col, std::uint64_t side) const;

 private:
  struct open_file;  // the HDF5 file and dataset, opened at the first read
  std::string file_, dataset_, identity_;
  std::shared_ptr<open_file> open_;
};

}  // namespace partita::detail
