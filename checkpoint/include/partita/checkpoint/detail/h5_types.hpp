#pragma once
/// The HDF5 datatypes of the file layout (layout.hpp): the element types of each dataset kind, fixed-length
/// strings, and the manifest's compound row, built in one place for the writer and the reader.

#include <hdf5.h>

#include <cstddef>

#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/layout.hpp>

namespace partita::detail {

/// The element type on disk of a dataset of kind `k` (little-endian uint8, uint64 or float64).
hid_t file_type_of(dataset_kind k) noexcept;
/// The element type in memory of a dataset of kind `k` (native uint8, uint64 or double).
hid_t mem_type_of(dataset_kind k) noexcept;

/// A fixed-length string type of `size` bytes, padded with `pad`. Throws hdf5_error.
h5_handle string_type(std::size_t size, H5T_str_t pad);

/// Where a manifest row type describes rows: in the file (little-endian) or in memory (native).
enum class row_place { file, memory };

/// The packed manifest row {char path[path_len]; u64 bytes; u32 crc32; u64 step} (path_len + 20 bytes, the
/// layout pack_manifest writes and unpack_manifest reads), its paths padded with `pad`. Throws hdf5_error.
h5_handle manifest_row_type(std::size_t path_len, row_place place, H5T_str_t pad);

}  // namespace partita::detail
