#include <partita/scheduler/map_reduce/state.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/block_fold.hpp>

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
constexpr const char* key_cost_stride = "scheduler/cost_stride";
constexpr const char* key_run_seconds = "scheduler/run_seconds";
constexpr const char* key_block_crc = "scheduler/block_crc32";
constexpr const char* key_fold_block = "scheduler/fold_block";
constexpr const char* key_block_accumulator = "scheduler/block_accumulator";
constexpr const char* key_held_block_ids = "scheduler/held_block_ids";
constexpr const char* key_held_block_ends = "scheduler/held_block_ends";
constexpr const char* key_held_block_values = "scheduler/held_block_values";

/// Packs `m` into ids, ends and data (held results, held block values).
void pack(const std::map<std::uint64_t, bytes>& m, std::vector<std::uint64_t>& ids, std::vector<std::uint64_t>& ends,
          bytes& data) {
  for (const auto& [id, b] : m) {
    ids.push_back(id);
    data.insert(data.end(), b.begin(), b.end());
    ends.push_back(data.size());
  }
}

template <class Map>
const typename Map::mapped_type* find(const Map& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}
}  // namespace

map_reduce_state map_reduce_state::fresh(std::uint64_t partitions) {
  map_reduce_state s;
  s.fold_block = detail::fold_block_size(partitions);
  s.cost_stride = partitions <= cost_sample_limit ? 1 : (partitions + cost_sample_limit - 1) / cost_sample_limit;
  s.measured.assign((partitions + s.cost_stride - 1) / s.cost_stride, std::nanf(""));
  return s;
}

float map_reduce_state::cost_of(std::uint64_t id) const {
  if (id % cost_stride != 0 || id / cost_stride >= measured.size()) return std::nanf("");
  return measured[id / cost_stride];
}

std::uint64_t map_reduce_state::done_count() const { return done.count(); }

std::uint64_t map_reduce_state::measured_count() const {
  return static_cast<std::uint64_t>(std::count_if(measured.begin(), measured.end(),
                                                  [](float x) { return std::isfinite(x); }));
}

void map_reduce_state::to_image(checkpoint_image& img) const {
  img.blobs[key_accumulator] = accumulator;
  img.u64[key_folded] = {folded};
  auto& ranges = img.u64[key_done_ranges];
  for (const auto& r : done.ranges()) {
    ranges.push_back(r.begin);
    ranges.push_back(r.end);
  }
  img.f64[key_cost].assign(measured.begin(), measured.end());
  img.u64[key_cost_stride] = {cost_stride};
  img.f64[key_run_seconds] = {run_seconds};
  if (!params.empty())
    img.blobs[params_key] = bytes(reinterpret_cast<const std::byte*>(params.data()),
                                  reinterpret_cast<const std::byte*>(params.data() + params.size()));
  if (!block_crc.empty()) img.u64[key_block_crc].assign(block_crc.begin(), block_crc.end());
  pack(held, img.u64[key_held_ids], img.u64[key_held_ends], img.blobs[key_held_results]);
  img.u64[key_fold_block] = {fold_block};
  img.blobs[key_block_accumulator] = block_accumulator;
  pack(held_blocks, img.u64[key_held_block_ids], img.u64[key_held_block_ends], img.blobs[key_held_block_values]);
}

map_reduce_state map_reduce_state::from_image(const checkpoint_image& image, std::uint64_t n, const std::string& file) {
  auto bad = [&](const std::string& what) { return checkpoint_error(file, what); };
  if (image.meta.partition_count != n)
    throw bad(fmt::format("it has {} partitions, this job {}", image.meta.partition_count, n));
  // (0: an image made in memory, not read from a file; the reader refuses format 0 in a file.)
  if (image.meta.format_version != 0 && image.meta.format_version < first_block_format)
    throw bad(fmt::format("it was written in checkpoint format {}, before results were folded over aligned id blocks "
                          "(format {}): its accumulator cannot be continued bit for bit; start the job afresh",
                          image.meta.format_version, first_block_format));
  const std::uint64_t block = detail::fold_block_size(n);
  const auto* fold_block = find(image.u64, key_fold_block);
  if (!fold_block || fold_block->size() != 1 || (*fold_block)[0] != block)
    throw bad(fmt::format("its fold block size is {}, this job folds blocks of {} partitions",
                          fold_block && fold_block->size() == 1 ? std::to_string((*fold_block)[0]) : "missing", block));
  const auto* acc = find(image.blobs, key_accumulator);
  const auto* folded = find(image.u64, key_folded);
  const auto* ranges = find(image.u64, key_done_ranges);
  if (!acc || !folded || !ranges || folded->size() != 1 || ranges->size() % 2 != 0)
    throw bad("the scheduler state (accumulator, folded prefix, done ranges) is missing or malformed");
  map_reduce_state r = fresh(n);
  r.accumulator = *acc;
  r.folded = (*folded)[0];
  r.fold_block = block;
  if (r.folded > n) throw bad("its folded prefix is past the last partition");
  const auto* block_acc = find(image.blobs, key_block_accumulator);
  if (!block_acc) throw bad("the current block's accumulator (block_accumulator) is missing");
  if (!block_acc->empty() && (r.folded % block == 0 || r.folded == n))
    throw bad("it has a partial block accumulator at a block boundary");
  r.block_accumulator = *block_acc;
  for (std::size_t i = 0; i < ranges->size(); i += 2) {
    const auto b = (*ranges)[i], e = (*ranges)[i + 1];
    if (b >= e || e > n) throw bad(fmt::format("done range [{}, {}) is outside 0..{}", b, e, n));
    r.done.insert(id_range{b, e});
  }
  if (const auto gap = r.done.next_absent(0); gap < r.folded)
    throw bad(fmt::format("partition {} is folded but not marked done", gap));
  const auto* ids = find(image.u64, key_held_ids);
  const auto* ends = find(image.u64, key_held_ends);
  const auto* data = find(image.blobs, key_held_results);
  if (!ids || !ends || !data || ids->size() != ends->size())
    throw bad("the held results (held_ids, held_ends, held_results) are missing or disagree");
  std::uint64_t begin = 0;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const auto id = (*ids)[i], end = (*ends)[i];
    if (id >= n || id < r.folded || !r.done.contains(id) || r.held.count(id))
      throw bad(fmt::format("stray result for partition {}", id));
    if (end < begin || end > data->size()) throw bad(fmt::format("result of partition {} is out of bounds", id));
    r.held.emplace(id, bytes(data->begin() + static_cast<long>(begin), data->begin() + static_cast<long>(end)));
    begin = end;
  }
  const auto* bids = find(image.u64, key_held_block_ids);
  const auto* bends = find(image.u64, key_held_block_ends);
  const auto* bdata = find(image.blobs, key_held_block_values);
  if (!bids || !bends || !bdata || bids->size() != bends->size())
    throw bad("the held block values (held_block_ids, held_block_ends, held_block_values) are missing or disagree");
  begin = 0;
  const std::uint64_t blocks = (n + block - 1) / block;
  for (std::size_t i = 0; i < bids->size(); ++i) {
    const auto k = (*bids)[i], end = (*bends)[i];
    if (k >= blocks || k * block < r.folded || r.held_blocks.count(k) || end < begin || end > bdata->size() ||
        end == begin)
      throw bad(fmt::format("stray or malformed value of block {}", k));
    const std::uint64_t first = k * block, last = std::min(n, first + block);
    if (r.done.next_absent(first) < last) throw bad(fmt::format("block {} has a value but is not done", k));
    r.held_blocks.emplace(k, bytes(bdata->begin() + static_cast<long>(begin), bdata->begin() + static_cast<long>(end)));
    begin = end;
  }
  // Every done id past the folded prefix must have its result (or its block's value) (a walk over the done ranges; it
  // stops at the first missing one, so a huge bogus range costs nothing).
  for (auto id = r.done.next_present(r.folded); id != id_set::none && id < n; id = r.done.next_present(id + 1)) {
    if (r.held_blocks.count(id / block)) {
      id = std::min(n, (id / block + 1) * block) - 1;  // the block's value stands for its ids
      continue;
    }
    if (!r.held.count(id)) throw bad(fmt::format("partition {} is done but its result is missing", id));
  }
  // Costs are advisory (the cost policy's order): a sample that does not fit this job is ignored.
  const auto* stride = find(image.u64, key_cost_stride);
  const std::uint64_t step = stride && stride->size() == 1 && (*stride)[0] > 0 ? (*stride)[0] : 1;
  if (const auto* cost = find(image.f64, key_cost); cost && cost->size() == (n + step - 1) / step) {
    r.cost_stride = step;
    r.measured.assign(cost->size(), std::nanf(""));
    for (std::size_t i = 0; i < cost->size(); ++i)
      if (std::isfinite((*cost)[i])) r.measured[i] = static_cast<float>((*cost)[i]);
  }
  if (const auto* run = find(image.f64, key_run_seconds);
      run && run->size() == 1 && std::isfinite((*run)[0]) && (*run)[0] >= 0)
    r.run_seconds = (*run)[0];
  if (const auto* crc = find(image.u64, key_block_crc)) {
    if (crc->size() != n) throw bad(fmt::format("it has {} output block checksums for {} partitions", crc->size(), n));
    r.block_crc.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if ((*crc)[i] > 0xffffffffu) throw bad(fmt::format("output block checksum {} is not a CRC-32", i));
      r.block_crc[i] = static_cast<std::uint32_t>((*crc)[i]);
    }
  }
  if (const auto it = image.blobs.find(params_key); it != image.blobs.end())
    r.params.assign(reinterpret_cast<const char*>(it->second.data()), it->second.size());
  return r;
}

}  // namespace partita
