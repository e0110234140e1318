#include <partita/checkpoint/detail/layout.hpp>

#include <bit>
#include <charconv>
#include <cstring>

#include <partita/checkpoint/detail/crc32.hpp>

namespace partita::detail {

static_assert(std::endian::native == std::endian::little,
              "checksums cover little-endian bytes; a big-endian port must byte-swap before crc32()");

const char* kind_name(dataset_kind k) noexcept {
  switch (k) {
    case dataset_kind::blob: return "uint8";
    case dataset_kind::u64: return "uint64";
    case dataset_kind::f64: return "float64";
  }
  return "?";
}

namespace {
void put_u64(bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_str(bytes& out, std::string_view s) {
  put_u64(out, s.size());
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}
bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}
}  // namespace

bytes encode_meta(const checkpoint_meta& m) {
  bytes out;
  put_str(out, m.job);
  put_u64(out, m.params_hash);
  put_u64(out, m.epoch.value);
  put_u64(out, m.step.value);
  put_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(m.rank_count)));
  put_str(out, m.model);
  put_u64(out, m.partition_count);
  put_u64(out, m.format_version);
  put_str(out, m.code_version);
  return out;
}

std::uint32_t manifest_crc(const std::vector<manifest_row>& rows) {
  std::uint32_t crc = 0;
  bytes buf;
  for (const auto& r : rows) {
    buf.clear();
    put_str(buf, r.path);
    put_u64(buf, r.bytes);
    put_u64(buf, r.crc);
    put_u64(buf, r.step);
    crc = crc32(buf, crc);
  }
  return crc;
}

std::vector<char> pack_manifest(const std::vector<manifest_row>& rows, std::size_t path_len) {
  const std::size_t row = manifest_row_size(path_len);
  std::vector<char> buf(rows.size() * row, '\0');
  for (std::size_t i = 0; i < rows.size(); ++i) {
    char* p = buf.data() + i * row;
    std::memcpy(p, rows[i].path.data(), rows[i].path.size());
    std::memcpy(p + path_len, &rows[i].bytes, 8);
    std::memcpy(p + path_len + 8, &rows[i].crc, 4);
    std::memcpy(p + path_len + 12, &rows[i].step, 8);
  }
  return buf;
}

std::vector<manifest_row> unpack_manifest(const std::vector<char>& packed, std::size_t path_len) {
  const std::size_t row = manifest_row_size(path_len);
  std::vector<manifest_row> rows(packed.size() / row);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const char* p = packed.data() + i * row;
    std::string path(p, path_len);
    if (auto nul = path.find('\0'); nul != std::string::npos) path.resize(nul);
    rows[i].path = std::move(path);
    std::memcpy(&rows[i].bytes, p + path_len, 8);
    std::memcpy(&rows[i].crc, p + path_len + 8, 4);
    std::memcpy(&rows[i].step, p + path_len + 12, 8);
  }
  return rows;
}

std::string partition_path(std::uint64_t id, std::string_view name) {
  std::string p = "/partitions/";
  p += std::to_string(id);
  p += '/';
  p += name;
  return p;
}

std::optional<std::pair<std::uint64_t, std::string>> parse_partition_path(std::string_view path) {
  constexpr std::string_view prefix = "/partitions/";
  if (!path.starts_with(prefix)) return std::nullopt;
  path.remove_prefix(prefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::string_view digits = path.substr(0, slash);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one spelling per id
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  const std::string_view name = path.substr(slash + 1);
  if (partition_name_problem(name)) return std::nullopt;
  return std::pair{id, std::string(name)};
}

std::optional<std::string> partition_name_problem(std::string_view name) {
  if (name.empty()) return "a partition dataset name is empty";
  if (name.size() > 255) return "partition dataset name longer than 255 bytes";
  if (name.find('/') != std::string_view::npos)
    return "partition dataset name '" + std::string(name) + "' contains '/'";
  if (name == "." || name == "..") return "partition dataset name '" + std::string(name) + "' is not a name";
  if (!printable(name)) return "partition dataset name contains control characters";
  return std::nullopt;
}

std::optional<std::string> key_problem(std::string_view key) {
  const std::string k(key);
  if (key.empty()) return "an empty dataset key";
  if (key.size() > 1024) return "dataset key longer than 1024 bytes";
  if (!printable(key)) return "dataset key '" + k + "' contains control characters";
  if (key.front() == '/' || key.back() == '/') return "dataset key '" + k + "' must be relative, like scheduler/cost";
  if (key.find("//") != std::string_view::npos) return "dataset key '" + k + "' has an empty component";
  std::string_view first = key.substr(0, key.find('/'));
  if (first == "meta" || first == "manifest" || first == "partitions")
    return "dataset key '" + k + "' is under /" + std::string(first) + ", which the format reserves";
  for (std::size_t b = 0; b <= key.size();) {
    const auto e = std::min(key.find('/', b), key.size());
    const auto part = key.substr(b, e - b);
    if (part == "." || part == "..") return "dataset key '" + k + "' has a '.' or '..' component";
    b = e + 1;
  }
  return std::nullopt;
}

}  // namespace partita::detail
