#include <partita/scheduler/iterative/detail/state.hpp>

#include <cstring>
#include <map>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita::detail {

checkpoint_image iterative_state::to_image() const {
  checkpoint_image img;
  img.meta.model = model;
  img.meta.step = step_t{steps};
  img.meta.partition_count = partition_count;
  img.f64[reductions_key] = reductions;
  img.f64[cost_key] = cost;
  img.f64[run_seconds_key] = {run_seconds};
  if (!params.empty()) {
    const auto* p = reinterpret_cast<const std::byte*>(params.data());
    img.blobs[params_key] = bytes(p, p + params.size());
  }
  return img;
}

iterative_state iterative_state::from_image(const checkpoint_image& image, const std::string& file,
                                            std::size_t reduction_count) {
  const auto get = [&](const char* key, std::size_t n) -> const std::vector<double>& {
    const auto it = image.f64.find(key);
    if (it == image.f64.end()) throw checkpoint_error(file, fmt::format("dataset /{} is missing", key));
    if (it->second.size() != n)
      throw checkpoint_error(file, fmt::format("dataset /{} has {} values where {} were expected", key,
                                               it->second.size(), n));
    return it->second;
  };
  iterative_state s;
  s.steps = image.meta.step.value;
  s.partition_count = image.meta.partition_count;
  s.reductions = get(reductions_key, reduction_count);
  s.cost = get(cost_key, s.partition_count);
  s.run_seconds = get(run_seconds_key, 1).front();
  if (const auto it = image.blobs.find(params_key); it != image.blobs.end())
    s.params.assign(reinterpret_cast<const char*>(it->second.data()), it->second.size());
  return s;
}

void add_partition(checkpoint_image& image, std::uint64_t id, std::uint64_t step,
                   const std::vector<state_array>& arrays) {
  for (const auto& a : arrays)
    image.partitions.push_back(partition_blob{partition_id{id}, step_t{step}, a.name, a.data,
                                              a.doubles ? element_type::f64 : element_type::u8});
}

std::vector<state_array> arrays_of(const checkpoint_image& image, std::uint64_t id) {
  std::vector<state_array> out;
  for (const auto& b : image.partitions)
    if (b.id.value == id) out.push_back(state_array{b.name, b.data, b.type == element_type::f64});
  return out;
}

namespace {
void put_u64(bytes& out, std::uint64_t v) {
  const auto at = out.size();
  out.resize(at + 8);
  std::memcpy(out.data() + at, &v, 8);
}
std::uint64_t get_u64(std::span<const std::byte> in, std::size_t& pos) {
  if (in.size() - pos < 8 || pos > in.size()) throw error("a partition state message is truncated");
  std::uint64_t v;
  std::memcpy(&v, in.data() + pos, 8);
  pos += 8;
  return v;
}
}  // namespace

void encode_arrays(bytes& out, const std::vector<state_array>& arrays) {
  put_u64(out, arrays.size());
  for (const auto& a : arrays) {
    put_u64(out, a.name.size());
    put_u64(out, a.doubles ? 1 : 0);
    put_u64(out, a.data.size());
    const auto at = out.size();
    out.resize(at + a.name.size() + a.data.size());
    std::memcpy(out.data() + at, a.name.data(), a.name.size());
    if (!a.data.empty()) std::memcpy(out.data() + at + a.name.size(), a.data.data(), a.data.size());
  }
}

std::vector<state_array> decode_arrays(std::span<const std::byte> in, std::size_t& pos) {
  const auto n = get_u64(in, pos);
  if (n > in.size()) throw error("a partition state message is corrupt");
  std::vector<state_array> out(n);
  for (auto& a : out) {
    const auto name_len = get_u64(in, pos);
    a.doubles = get_u64(in, pos) != 0;
    const auto data_len = get_u64(in, pos);
    if (name_len > in.size() - pos || data_len > in.size() - pos - name_len)
      throw error("a partition state message is truncated");
    a.name.assign(reinterpret_cast<const char*>(in.data() + pos), name_len);
    pos += name_len;
    a.data.assign(in.begin() + static_cast<std::ptrdiff_t>(pos),
                  in.begin() + static_cast<std::ptrdiff_t>(pos + data_len));
    pos += data_len;
  }
  return out;
}

}  // namespace partita::detail
