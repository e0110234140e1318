#pragma once
/// The file layout shared by writer and reader: group and attribute names, manifest rows, bounds, and the
/// canonical byte encodings the manifest checksums cover.
///
///   /meta                       group; attributes job, params_hash, epoch, step, rank_count, model,
///                               partition_count, format_version, code_version
///   /partitions/<id>/<name>     uint8 datasets (partition state or result)
///   /<key>                      scheduler datasets: uint8 (blobs), uint64 (u64), float64 (f64)
///   /manifest                   compound dataset {path, bytes, crc32, step}, one row per dataset plus
///                               one for /meta; attribute crc32 covers all rows, attribute checksum names
///                               the algorithm (see crc32.hpp)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <partita/checkpoint/image.hpp>

namespace partita::detail {

inline constexpr const char* meta_group = "/meta";
inline constexpr const char* partitions_group = "/partitions";
inline constexpr const char* manifest_dataset = "/manifest";
inline constexpr std::string_view meta_row_path = "/meta";
inline constexpr const char* checksum_name = "CRC-32 (IEEE 802.3; zlib crc32, Boost crc_32_type)";

/// Bounds a reader applies before it allocates, on top of "not larger than the file".
inline constexpr std::size_t max_string_bytes = 4096;           ///< attribute strings, manifest paths
inline constexpr std::uint64_t max_manifest_rows = 1ull << 28;  ///< 268M datasets
inline constexpr std::uint64_t max_dataset_bytes = 1ull << 40;  ///< 1 TiB per dataset

/// The element type of a dataset.
enum class dataset_kind : std::uint8_t { blob = 0, u64 = 1, f64 = 2 };
inline constexpr std::size_t element_size(dataset_kind k) noexcept { return k == dataset_kind::blob ? 1 : 8; }
const char* kind_name(dataset_kind k) noexcept;

/// One manifest row: a dataset's HDF5 path, its size in bytes, the CRC-32 of its bytes (little-endian
/// element order) and the partition step (0 for other datasets).
struct manifest_row {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
  std::uint64_t step = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& path& bytes& crc& step;
  }
};

/// The elements of a dataset's bytes (little-endian, as read_dataset returns them) as values of T (uint64 or
/// double); a trailing partial element is dropped.
template <class T>
std::vector<T> elements_of(const bytes& data) {
  std::vector<T> v(data.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), data.data(), v.size() * sizeof(T));
  return v;
}

/// The size of one packed manifest row {char path[path_len]; u64 bytes; u32 crc32; u64 step}.
inline constexpr std::size_t manifest_row_size(std::size_t path_len) noexcept { return path_len + 20; }
/// `rows` packed, native byte order, each path NUL-padded to `path_len` bytes (which must exceed every path).
std::vector<char> pack_manifest(const std::vector<manifest_row>& rows, std::size_t path_len);
/// The rows of `packed` (as pack_manifest packs them); each path ends at its first NUL or after `path_len` bytes.
std::vector<manifest_row> unpack_manifest(const std::vector<char>& packed, std::size_t path_len);

/// The canonical bytes of the meta record (what the /meta row's CRC covers).
bytes encode_meta(const checkpoint_meta& meta);
/// The CRC-32 of all rows in order (what the manifest's crc32 attribute holds).
std::uint32_t manifest_crc(const std::vector<manifest_row>& rows);

/// "/partitions/<id>/<name>"
std::string partition_path(std::uint64_t id, std::string_view name);
/// The id and name of a "/partitions/<id>/<name>" path, if it is one.
std::optional<std::pair<std::uint64_t, std::string>> parse_partition_path(std::string_view path);

/// Problem text if `name` cannot be a partition dataset name (one non-empty component, printable, no '/').
std::optional<std::string> partition_name_problem(std::string_view name);
/// Problem text if `key` cannot name a scheduler dataset (relative path of non-empty printable components,
/// not under meta, manifest or partitions).
std::optional<std::string> key_problem(std::string_view key);

}  // namespace partita::detail
