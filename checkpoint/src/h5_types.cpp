#include <partita/checkpoint/detail/h5_types.hpp>

#include <partita/checkpoint/h5_check.hpp>

namespace partita::detail {

namespace {
/// The element types of a dataset kind: on disk (little-endian) and in memory (native).
struct element_types {
  hid_t file, memory;
};
element_types types_of(dataset_kind k) noexcept {
  switch (k) {
    case dataset_kind::blob: return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
    case dataset_kind::u64: return {H5T_STD_U64LE, H5T_NATIVE_UINT64};
    case dataset_kind::f64: return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE};
  }
  return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
}
}  // namespace

hid_t file_type_of(dataset_kind k) noexcept { return types_of(k).file; }
hid_t mem_type_of(dataset_kind k) noexcept { return types_of(k).memory; }

h5_handle string_type(std::size_t size, H5T_str_t pad) {
  h5_handle t(PARTITA_H5(H5Tcopy(H5T_C_S1)), h5_kind::datatype);
  PARTITA_H5(H5Tset_size(t.get(), size));
  PARTITA_H5(H5Tset_strpad(t.get(), pad));
  return t;
}

h5_handle manifest_row_type(std::size_t path_len, row_place place, H5T_str_t pad) {
  const bool file = place == row_place::file;
  h5_handle str = string_type(path_len, pad);
  h5_handle row(PARTITA_H5(H5Tcreate(H5T_COMPOUND, manifest_row_size(path_len))), h5_kind::datatype);
  PARTITA_H5(H5Tinsert(row.get(), "path", 0, str.get()));
  PARTITA_H5(H5Tinsert(row.get(), "bytes", path_len, file ? H5T_STD_U64LE : H5T_NATIVE_UINT64));
  PARTITA_H5(H5Tinsert(row.get(), "crc32", path_len + 8, file ? H5T_STD_U32LE : H5T_NATIVE_UINT32));
  PARTITA_H5(H5Tinsert(row.get(), "step", path_len + 12, file ? H5T_STD_U64LE : H5T_NATIVE_UINT64));
  return row;
}

}  // namespace partita::detail
