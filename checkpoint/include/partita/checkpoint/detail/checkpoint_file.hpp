#pragma once
/// A checkpoint file opened for reading, as untrusted input: every read checks shape, type and size
/// against the file and the bounds of layout.hpp before it allocates.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/layout.hpp>
#include <partita/checkpoint/image.hpp>
#include <partita/checkpoint/reader.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

/// A problem in one dataset (what verify reports as first_bad): a checkpoint_error that also carries the
/// dataset path and the problem alone.
class bad_dataset : public checkpoint_error {
 public:
  bad_dataset(const std::string& file, std::string dataset, std::string problem)
      : checkpoint_error(file, "dataset " + dataset + ": " + problem), dataset_(std::move(dataset)),
        problem_(std::move(problem)) {}
  const std::string& dataset() const noexcept { return dataset_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string dataset_;
  std::string problem_;
};

/// One open checkpoint file (read-only, sec2 driver, file locking off). Move-only; not thread-safe.
/// Every member throws checkpoint_error naming the file (bad_dataset for a dataset's problem); HDF5
/// failures are turned into checkpoint_error too.
class checkpoint_file {
 public:
  explicit checkpoint_file(std::filesystem::path file);

  const std::filesystem::path& path() const noexcept { return path_; }
  std::uint64_t file_size() const noexcept { return size_; }

  /// The /meta attributes; refuses a format version newer than this build's (naming both) or 0.
  checkpoint_meta read_meta();
  /// The manifest rows, after checking its type, its size and its own CRC-32, and the /meta row's CRC-32
  /// against `meta`.
  std::vector<manifest_row> read_manifest(const checkpoint_meta& meta);
  /// Reads the dataset of `row` after checking kind, shape and size; checks its CRC-32. The bytes are the
  /// elements in little-endian order.
  bytes read_dataset(const manifest_row& row, dataset_kind& kind);

  /// What for_each_dataset hands on: a dataset's row, its element kind and its bytes, checked.
  using dataset_fn = std::function<void(const manifest_row& row, dataset_kind kind, bytes&& data)>;
  /// What for_each_dataset tells of a bad dataset when the pass goes on past it.
  using bad_dataset_fn = std::function<void(const bad_dataset& e)>;
  /// The one pass of every reader: reads the datasets `rows` lists, in order, each as read_dataset does, and
  /// hands each to `use`. The first bad dataset throws bad_dataset, unless `on_bad` is given: then it goes
  /// there and the pass goes on with the next row. Cost: one dataset in memory at a time (plus what `use` keeps).
  void for_each_dataset(const std::vector<manifest_row>& rows, const dataset_fn& use,
                        const bad_dataset_fn& on_bad = {});

 private:
  [[noreturn]] void fail(const std::string& problem) const;
  std::size_t manifest_path_len(hid_t row_type) const;  // checks the row type's members
  std::vector<manifest_row> data_rows(const std::vector<manifest_row>& rows, const checkpoint_meta& meta) const;
  std::filesystem::path path_;
  std::string name_;  // path_.string(), for errors
  std::uint64_t size_ = 0;
  h5_handle lapl_;
  h5_handle file_;
  std::uint64_t bytes_read_ = 0;  // all datasets together may not exceed the file
};

/// The problem of the exception being handled, for reports that do not throw (verify, restart selection):
/// a checkpoint_error's problem(), "out of memory while verifying it", or another std::exception's what().
/// Call it only inside a catch block; an exception of another type goes on up.
std::string problem_of_current_exception();

/// Why `meta` does not fit `expect` (other job, other parameters hash, other model), if it does not.
std::optional<std::string> expectation_mismatch(const checkpoint_meta& meta, const checkpoint_expectation& expect);


/// Sets HDF5_USE_FILE_LOCKING=FALSE in the environment unless the user set it (once, before any open),
/// and silences HDF5's automatic error printing.
void prepare_hdf5() noexcept;

/// A file-access property list with file locking off (H5Pset_file_locking) and the 1.10 format bounds
/// (object headers and superblock with checksums).
h5_handle make_fapl();

}  // namespace partita::detail
