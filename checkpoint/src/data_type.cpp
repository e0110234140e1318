#include <partita/checkpoint/data_type.hpp>

namespace partita {

namespace {
struct entry {
  data_type type;
  const char* name;
  std::size_t size;
};
constexpr entry table[] = {{data_type::float64, "float64", 8}, {data_type::float32, "float32", 4},
                           {data_type::int64, "int64", 8},     {data_type::int32, "int32", 4},
                           {data_type::uint64, "uint64", 8},   {data_type::uint32, "uint32", 4},
                           {data_type::uint8, "uint8", 1}};
}  // namespace

const char* data_type_name(data_type t) noexcept {
  for (const auto& e : table)
    if (e.type == t) return e.name;
  return "unknown";
}

bool parse_data_type(const std::string& name, data_type& out) noexcept {
  for (const auto& e : table)
    if (name == e.name) {
      out = e.type;
      return true;
    }
  return false;
}

std::size_t data_type_size(data_type t) noexcept {
  for (const auto& e : table)
    if (e.type == t) return e.size;
  return 0;
}

}  // namespace partita
