#pragma once
/// Reading the scalar attributes of a Partita output file (block_output.cpp writes them, output_check.cpp reads
/// them too).

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/h5_check.hpp>

namespace partita::detail {

/// Attribute `name` of `obj` as an unsigned integer (HDF5 converts any integer type); nullopt if absent.
inline std::optional<std::uint64_t> get_u64_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return std::nullopt;
  h5_handle a(PARTITA_H5(H5Aopen(obj, name, H5P_DEFAULT)), h5_kind::attribute);
  std::uint64_t v = 0;
  PARTITA_H5(H5Aread(a.get(), H5T_NATIVE_UINT64, &v));
  return v;
}

/// Attribute `name` of `obj` as a fixed-length string of at most 4 KiB; nullopt if absent or of another kind.
inline std::optional<std::string> get_string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return std::nullopt;
  h5_handle a(PARTITA_H5(H5Aopen(obj, name, H5P_DEFAULT)), h5_kind::attribute);
  h5_handle type(PARTITA_H5(H5Aget_type(a.get())), h5_kind::datatype);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) return std::nullopt;
  const auto size = H5Tget_size(type.get());
  if (size == 0 || size > 4096) return std::nullopt;
  std::string v(size, '\0');
  PARTITA_H5(H5Aread(a.get(), type.get(), v.data()));
  v.resize(std::strlen(v.c_str()));
  return v;
}

}  // namespace partita::detail
