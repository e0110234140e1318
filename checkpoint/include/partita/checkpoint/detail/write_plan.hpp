#pragma once
/// What the writer decides before it touches a file: the datasets of a checkpoint, who writes each, and the
/// manifest rows they make. Pure functions (no MPI or HDF5 calls), so that tests need neither.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint/detail/layout.hpp>
#include <partita/checkpoint/image.hpp>
#include <partita/checkpoint/writer.hpp>

namespace partita::detail {

/// One dataset of the file: its manifest row (path, size, checksum, step), its type, and who writes it. Value
/// type; travels between ranks through Boost.Serialization.
struct dataset_entry {
  manifest_row row;
  std::uint8_t kind = 0;    // a dataset_kind
  std::uint64_t id = 0;     // partition id (partitions only)
  int owner = 0;            // rank of the writing communicator that writes it
  std::uint64_t index = 0;  // position in the owner's partition list, or in rank 0's scheduler list
  dataset_kind element_kind() const noexcept { return static_cast<dataset_kind>(kind); }
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& row& kind& id& owner& index;
  }
};

/// What rank 0 decides and broadcasts: the metadata, where the file goes, and the scheduler datasets (blobs,
/// then u64, then f64, each in key order, their CRC-32s known). Value type.
struct write_plan {
  std::string job, model, code_version, dir;
  std::uint64_t params_hash = 0, epoch = 0, step = 0, partition_count = 0;
  std::int64_t rank_count = 1;
  std::uint32_t format_version = 0;
  int keep = 3;
  std::vector<dataset_entry> scheduler;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& job& model& code_version& dir& params_hash& epoch& step& partition_count& rank_count& format_version& keep&
        scheduler;
  }
  /// The metadata as the file stores it (code_version and format_version those of this build).
  checkpoint_meta meta() const;
};

/// Checks the metadata and the scheduler datasets of `img` (names, keys, no key both a dataset and a group) and
/// plans them; throws partita::error saying what is wrong. Cost: one CRC-32 pass over the scheduler datasets.
write_plan make_plan(const store_options& opt, const checkpoint_image& img);

/// The partition datasets of `img`, owned by `rank`, in its order (their CRC-32s come later, while the written
/// data goes to disk); throws partita::error for a bad name or a float64 dataset of a size not a multiple of 8.
std::vector<dataset_entry> local_partitions(const checkpoint_image& img, int rank);

/// Every rank's partition datasets (in rank order) as one list sorted by (id, path), the order of creation.
std::vector<dataset_entry> sorted_partitions(std::vector<std::vector<dataset_entry>> by_rank);

/// The problem if two ranks hold the same partition dataset of `sorted` (as sorted_partitions sorts them).
std::optional<std::string> shared_partition_problem(const std::vector<dataset_entry>& sorted);

/// An upper bound of the file's size: the data plus well over the metadata of every dataset and group (under
/// 2 KiB each), for the size-limit and free-space checks and for messages.
std::uint64_t file_size_bound(const write_plan& plan, const std::vector<dataset_entry>& partitions);

/// The manifest rows in file order: /meta, the scheduler datasets, then the partitions (from
/// first_partition_row(plan) on, their CRC-32s 0 until the data is written).
std::vector<manifest_row> manifest_rows(const write_plan& plan, const std::vector<dataset_entry>& partitions);
/// Where the partitions' rows start in manifest_rows.
inline std::size_t first_partition_row(const write_plan& plan) noexcept { return 1 + plan.scheduler.size(); }

}  // namespace partita::detail
