#pragma once
/// A declared HDF5 dataset of the map/reduce data path: checked and described before MPI starts, cut into row
/// blocks along its slowest axis, read one block at a time on a rank's own read-only handle (docs/design.md,
/// "Map/reduce data path").

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <partita/checkpoint/data_type.hpp>

namespace partita {

/// What a dataset is: its file (absolute path), name, element type, shape, chunking, and the file's size and
/// modification time. Value type.
struct h5_dataset_info {
  std::string file;
  std::string dataset;
  data_type type = data_type::float64;
  std::vector<std::uint64_t> shape;  ///< slowest axis first; at least one axis
  std::vector<std::uint64_t> chunk;  ///< chunk shape; empty for a contiguous dataset
  std::uint64_t file_size = 0;
  std::int64_t mtime_ns = 0;

  /// Elements of one row (the product of every axis but the first; 1 for a 1-D dataset).
  std::uint64_t row_elements() const noexcept;
  std::uint64_t row_bytes() const noexcept { return row_elements() * data_type_size(type); }
  std::uint64_t rows() const noexcept { return shape.empty() ? 0 : shape[0]; }
  /// One line that names the input: what goes into the job's parameters hash, so that a restart against a
  /// changed input is refused.
  std::string identity() const;
};

/// Opens `file` read-only (HDF5 file locking off) and checks that `dataset` exists and holds elements of type
/// `want` (class, size and sign). Throws usage_error with one line naming the file and the problem: missing file,
/// not an HDF5 file, no such dataset, another element type, a scalar dataset. Local (no MPI); takes h5_lock().
h5_dataset_info inspect_h5_dataset(const std::string& file, const std::string& dataset, data_type want);

/// Rows per partition: whole chunks along the slowest axis (whole rows for a contiguous dataset), as many as fit
/// in `target_bytes` (at least one chunk).
std::uint64_t rows_per_partition(const h5_dataset_info& info, std::uint64_t target_bytes);

/// A rank's own read-only handle on a dataset (opened at the first read, file locking off, no chunk cache: blocks
/// are whole chunks). Every HDF5 call holds h5_lock(). Non-copyable; thread-safe (reads are serialised by the lock).
class h5_block_reader {
 public:
  /// `block_bytes`: the size of the largest block it will read (blocks are whole chunks: read without a chunk cache).
  h5_block_reader(h5_dataset_info info, std::uint64_t block_bytes);
  ~h5_block_reader();
  h5_block_reader(const h5_block_reader&) = delete;
  h5_block_reader& operator=(const h5_block_reader&) = delete;

  /// Reads rows [first_row, first_row + rows) into `out` (rows * row_bytes() bytes, native layout). Throws error
  /// naming the file, dataset and rows if HDF5 fails.
  void read(std::uint64_t first_row, std::uint64_t rows, void* out);

  const h5_dataset_info& info() const noexcept { return info_; }

 private:
  struct handles;
  h5_dataset_info info_;
  std::unique_ptr<handles> h_;
};

/// Writes a deterministic float64 test dataset of `rows` x `cols` (`partita make-input`): element (i, j) is a
/// value in [0, 1) from a hash of (seed, i * cols + j). Chunked by `chunk_rows` rows (0: contiguous). Creates or
/// truncates `file`. Throws error on failure.
void write_test_dataset(const std::string& file, const std::string& dataset, std::uint64_t rows, std::uint64_t cols,
                        std::uint64_t chunk_rows, std::uint64_t seed);

/// The value write_test_dataset puts at flat index `k` for `seed`.
double test_dataset_value(std::uint64_t seed, std::uint64_t k) noexcept;

}  // namespace partita
