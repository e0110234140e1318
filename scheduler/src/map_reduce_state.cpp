#include <partita/scheduler/map_reduce_state.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {
// Every dataset key of a map/reduce checkpoint, defined once.
constexpr const char* key_accumulator = "scheduler/accumulator";
constexpr const char* key_folded = "scheduler/folded_prefix";
constexpr const char* key_done_ranges = "scheduler/done_ranges";
constexpr const char* key_held_ids = "scheduler/held_ids";
constexpr const char* key_held_ends = "scheduler/held_ends";
constexpr const char* key_held_results = "scheduler/held_results";
constexpr const char* key_cost = "scheduler/cost";
constexpr const char* key_run_seconds = "scheduler/run_seconds";

template <class Map>
const typename Map::mapped_type* find(const Map& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}
}  // namespace

map_reduce_state map_reduce_state::fresh(std::uint64_t partitions) {
  map_reduce_state s;
  s.done.assign(partitions, false);
  s.measured.assign(partitions, std::nanf(""));
  return s;
}

std::uint64_t map_reduce_state::done_count() const {
  return static_cast<std::uint64_t>(std::count(done.begin(), done.end(), true));
}

std::uint64_t map_reduce_state::measured_count() const {
  return static_cast<std::uint64_t>(std::count_if(measured.begin(), measured.end(), [](float x) { return std::isfinite(x); }));
}

void map_reduce_state::to_image(checkpoint_image& img) const {
  img.blobs[key_accumulator] = accumulator;
  img.u64[key_folded] = {folded};
  auto& ranges = img.u64[key_done_ranges];
  const auto n = done.size();
  for (std::uint64_t i = 0; i < n;) {
    if (!done[i]) {
      ++i;
      continue;
    }
    std::uint64_t e = i;
    while (e < n && done[e]) ++e;
    ranges.push_back(i);
    ranges.push_back(e);
    i = e;
  }
  img.f64[key_cost].assign(measured.begin(), measured.end());
  img.f64[key_run_seconds] = {run_seconds};
  auto& ids = img.u64[key_held_ids];
  auto& ends = img.u64[key_held_ends];
  auto& data = img.blobs[key_held_results];
  for (const auto& [id, b] : held) {
    ids.push_back(id);
    data.insert(data.end(), b.begin(), b.end());
    ends.push_back(data.size());
  }
}

map_reduce_state map_reduce_state::from_image(const checkpoint_image& image, std::uint64_t n, const std::string& file) {
  auto bad = [&](const std::string& what) { return checkpoint_error(file, what); };
  if (image.meta.partition_count != n)
    throw bad(fmt::format("it has {} partitions, this job {}", image.meta.partition_count, n));
  const auto* acc = find(image.blobs, key_accumulator);
  const auto* folded = find(image.u64, key_folded);
  const auto* ranges = find(image.u64, key_done_ranges);
  if (!acc || !folded || !ranges || folded->size() != 1 || ranges->size() % 2 != 0)
    throw bad("the scheduler state (accumulator, folded prefix, done ranges) is missing or malformed");
  map_reduce_state r = fresh(n);
  r.accumulator = *acc;
  r.folded = (*folded)[0];
  if (r.folded > n) throw bad("its folded prefix is past the last partition");
  for (std::size_t i = 0; i < ranges->size(); i += 2) {
    const auto b = (*ranges)[i], e = (*ranges)[i + 1];
    if (b >= e || e > n) throw bad(fmt::format("done range [{}, {}) is outside 0..{}", b, e, n));
    for (auto id = b; id < e; ++id) r.done[id] = true;
  }
  for (std::uint64_t id = 0; id < r.folded; ++id)
    if (!r.done[id]) throw bad(fmt::format("partition {} is folded but not marked done", id));
  const auto* ids = find(image.u64, key_held_ids);
  const auto* ends = find(image.u64, key_held_ends);
  const auto* data = find(image.blobs, key_held_results);
  if (!ids || !ends || !data || ids->size() != ends->size())
    throw bad("the held results (held_ids, held_ends, held_results) are missing or disagree");
  std::uint64_t begin = 0;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const auto id = (*ids)[i], end = (*ends)[i];
    if (id >= n || id < r.folded || !r.done[id] || r.held.count(id))
      throw bad(fmt::format("stray result for partition {}", id));
    if (end < begin || end > data->size()) throw bad(fmt::format("result of partition {} is out of bounds", id));
    r.held.emplace(id, bytes(data->begin() + static_cast<long>(begin), data->begin() + static_cast<long>(end)));
    begin = end;
  }
  for (std::uint64_t id = r.folded; id < n; ++id)
    if (r.done[id] && !r.held.count(id)) throw bad(fmt::format("partition {} is done but its result is missing", id));
  if (const auto* cost = find(image.f64, key_cost); cost && cost->size() == n)
    for (std::uint64_t id = 0; id < n; ++id)
      if (std::isfinite((*cost)[id])) r.measured[id] = static_cast<float>((*cost)[id]);
  if (const auto* run = find(image.f64, key_run_seconds); run && run->size() == 1 && std::isfinite((*run)[0]) && (*run)[0] >= 0)
    r.run_seconds = (*run)[0];
  return r;
}

}  // namespace partita
