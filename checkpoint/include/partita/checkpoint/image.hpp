#pragma once
/// What one checkpoint holds, in memory: the metadata, the scheduler's state and the partitions' bytes.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita {

/// The on-disk format this build writes; the reader refuses files with a larger number.
/// 1: /meta attributes, /partitions/<id>/<name>, /<key> scheduler datasets, /manifest with CRC-32s.
/// 2: the same layout; a map/reduce accumulator is the fold of aligned id blocks (/scheduler/fold_block), so a
///    map/reduce job refuses format 1 (docs/design.md, "Folding aligned id blocks"); iterative files read either.
inline constexpr std::uint32_t checkpoint_format_version = 2;

/// Who wrote a checkpoint and where in the job it was taken. Value type. Stored as attributes of /meta.
struct checkpoint_meta {
  std::string job;                    ///< registered job name (letters, digits, '_', '-', '.')
  std::uint64_t params_hash = 0;      ///< hash of the job's parameters (the caller computes it)
  epoch_t epoch{0};                   ///< checkpoint number; the file is <dir>/<job>.<epoch>.h5
  step_t step{0};                     ///< iteration step (0 for map/reduce)
  int rank_count = 1;                 ///< ranks of the job that wrote it (not of the writing communicator)
  std::string model;                  ///< "map_reduce" or "iterative"
  std::uint64_t partition_count = 0;  ///< partitions of the whole job
  std::uint32_t format_version = 0;   ///< set by the writer to checkpoint_format_version
  std::string code_version;           ///< set by the writer to Partita's PROJECT_VERSION
  friend bool operator==(const checkpoint_meta&, const checkpoint_meta&) = default;
};

/// The element type of a partition dataset on disk.
enum class element_type : std::uint8_t {
  u8,   ///< opaque bytes (e.g. Boost.Serialization)
  f64,  ///< native doubles (`data.size()` a multiple of 8): h5dump shows them as float64 numbers
};

/// One named piece of one partition's state or result: stored as the dataset /partitions/<id>/<name>, of uint8 or
/// float64 elements. `name` is one path component (no '/'). Value type.
struct partition_blob {
  partition_id id;
  step_t step{0};
  std::string name;
  bytes data;
  element_type type = element_type::u8;
  friend bool operator==(const partition_blob&, const partition_blob&) = default;
};

/// A whole checkpoint. Keys of `blobs`, `u64` and `f64` are dataset paths without the leading '/'
/// ("scheduler/accumulator" -> /scheduler/accumulator); they may not start with meta/, manifest/ or
/// partitions/. Value type (copying copies every byte).
struct checkpoint_image {
  checkpoint_meta meta;
  std::map<std::string, bytes> blobs;                     ///< uint8 datasets
  std::map<std::string, std::vector<std::uint64_t>> u64;  ///< uint64 datasets (e.g. scheduler/done_ranges)
  std::map<std::string, std::vector<double>> f64;         ///< float64 datasets (e.g. scheduler/cost)
  /// On write: this rank's own partitions. On read: all of them, sorted by (id, name).
  std::vector<partition_blob> partitions;
  friend bool operator==(const checkpoint_image&, const checkpoint_image&) = default;
};

}  // namespace partita
