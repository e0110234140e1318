#pragma once
/// Helpers for checkpoint tests: temporary directories, deterministic images, damaging files, child processes.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint.hpp>

namespace partita::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction. Move-only.
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "ckpt");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// The deterministic image of `epoch` of job `job`: meta, scheduler blobs/u64/f64, and `partitions` partitions
/// (each with a "state" blob of about `bytes_per_partition` bytes and a "result" blob), all derived from
/// (job, epoch). With `rank`/`size`, only the partitions id % size == rank (the collective layout).
checkpoint_image make_image(const std::string& job, std::uint64_t epoch, std::uint64_t partitions = 6,
                            std::size_t bytes_per_partition = 1000, int rank = 0, int size = 1);

/// The expectation that make_image's files satisfy.
checkpoint_expectation expectation_for(const std::string& job);

/// Writes make_image(job, epoch, ...) alone (MPI_COMM_SELF).
commit_result write_epoch(const std::filesystem::path& dir, const std::string& job, std::uint64_t epoch, int keep = 3,
                          std::size_t bytes_per_partition = 1000);

/// The byte offset in the file of the first byte of dataset `path` (contiguous datasets), via H5Dget_offset.
std::uint64_t dataset_offset(const std::filesystem::path& file, const std::string& path);
/// XORs the byte at `offset` with `mask`.
void flip_byte(const std::filesystem::path& file, std::uint64_t offset, unsigned char mask = 0x5a);
/// Copies a file.
void copy_file(const std::filesystem::path& from, const std::filesystem::path& to);

/// How a child process ended.
struct child_result {
  bool exited = false;
  int exit_code = -1;
  bool signaled = false;
  int signal = 0;
  std::string output;  ///< stdout and stderr together
};

/// Runs `argv` (argv[0] is the program path) with this environment minus the MPI launcher's variables (so
/// the child starts as an MPI singleton), plus `extra_env` ("NAME=value"). Waits for it.
child_result run_child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

/// Peak resident set size of this process so far, in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace partita::testing
