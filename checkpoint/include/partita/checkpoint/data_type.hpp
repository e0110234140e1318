#pragma once
/// The element types a declared HDF5 dataset may hold (the map/reduce data path), and the C++ type of each.

#include <cstdint>
#include <string>
#include <type_traits>

namespace partita {

/// An element type of a declared input or output dataset. Plain enum over the native types Partita reads and writes.
enum class data_type : std::uint8_t { float64 = 1, float32, int64, int32, uint64, uint32, uint8 };

/// The name a user writes (`--param type=float64`) and messages show.
const char* data_type_name(data_type t) noexcept;
/// Parses data_type_name's output; false if `name` is none of them.
bool parse_data_type(const std::string& name, data_type& out) noexcept;
/// Size of one element in bytes.
std::size_t data_type_size(data_type t) noexcept;

/// The data_type of a C++ type (compile error for a type Partita does not map).
template <class T>
constexpr data_type data_type_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, double>) return data_type::float64;
  else if constexpr (std::is_same_v<U, float>) return data_type::float32;
  else if constexpr (std::is_same_v<U, std::int64_t>) return data_type::int64;
  else if constexpr (std::is_same_v<U, std::int32_t>) return data_type::int32;
  else if constexpr (std::is_same_v<U, std::uint64_t>) return data_type::uint64;
  else if constexpr (std::is_same_v<U, std::uint32_t>) return data_type::uint32;
  else if constexpr (std::is_same_v<U, std::uint8_t>) return data_type::uint8;
  else static_assert(sizeof(U) == 0, "element type not supported by the data path");
}

}  // namespace partita
