#include <partita/checkpoint/detail/write_plan.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <iterator>
#include <set>
#include <span>

#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/files.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

checkpoint_meta write_plan::meta() const {
  checkpoint_meta m;
  m.job = job;
  m.params_hash = params_hash;
  m.epoch = epoch_t{epoch};
  m.step = step_t{step};
  m.rank_count = static_cast<int>(rank_count);
  m.model = model;
  m.partition_count = partition_count;
  m.format_version = format_version;
  m.code_version = code_version;
  return m;
}

namespace {

write_plan plan_meta(const store_options& opt, const checkpoint_meta& m) {
  if (auto why = job_name_problem(m.job)) throw error(*why);
  if (m.model.empty()) throw error("the job model is empty (expected map_reduce or iterative)");
  if (m.model.size() > 256 || m.code_version.size() > 256) throw error("the model name is longer than 256 bytes");
  if (m.rank_count < 1) throw error(fmt::format("rank_count is {}, must be at least 1", m.rank_count));
  if (opt.dir.empty()) throw error("no checkpoint directory given");
  write_plan p;
  p.job = m.job;
  p.model = m.model;
  p.code_version = PARTITA_CODE_VERSION;
  p.dir = opt.dir.string();
  p.params_hash = m.params_hash;
  p.epoch = m.epoch.value;
  p.step = m.step.value;
  p.partition_count = m.partition_count;
  p.rank_count = m.rank_count;
  p.format_version = checkpoint_format_version;
  p.keep = std::max(1, opt.keep);
  return p;
}

// A key may not be both a dataset and a group ("a" and "a/b").
void check_no_key_is_a_group(const std::set<std::string>& keys) {
  for (const auto& k : keys) {
    auto it = keys.upper_bound(k + "/");
    if (it != keys.end() && it->starts_with(k + "/"))
      throw error("dataset key '" + k + "' is also the group of '" + *it + "'");
  }
}

}  // namespace

write_plan make_plan(const store_options& opt, const checkpoint_image& img) {
  write_plan p = plan_meta(opt, img.meta);
  std::set<std::string> keys;
  auto add = [&](const std::string& key, dataset_kind kind, std::span<const std::byte> data, std::uint64_t index) {
    if (auto why = key_problem(key)) throw error(*why);
    if (!keys.insert(key).second) throw error("dataset key '" + key + "' is used twice (blobs, u64, f64)");
    dataset_entry e;
    e.row = {"/" + key, data.size(), crc32(data), 0};
    e.kind = static_cast<std::uint8_t>(kind);
    e.index = index;
    p.scheduler.push_back(std::move(e));
  };
  std::uint64_t i = 0;
  for (const auto& [k, v] : img.blobs) add(k, dataset_kind::blob, v, i++);
  i = 0;
  for (const auto& [k, v] : img.u64) add(k, dataset_kind::u64, std::as_bytes(std::span(v)), i++);
  i = 0;
  for (const auto& [k, v] : img.f64) add(k, dataset_kind::f64, std::as_bytes(std::span(v)), i++);
  check_no_key_is_a_group(keys);
  return p;
}

std::vector<dataset_entry> local_partitions(const checkpoint_image& img, int rank) {
  std::vector<dataset_entry> out;
  out.reserve(img.partitions.size());
  for (std::size_t i = 0; i < img.partitions.size(); ++i) {
    const auto& b = img.partitions[i];
    if (auto why = partition_name_problem(b.name)) throw error(*why);
    dataset_entry e;
    e.row.path = partition_path(b.id.value, b.name);
    if (b.type == element_type::f64 && b.data.size() % 8 != 0)
      throw error("partition dataset " + e.row.path + " is float64 but holds " + std::to_string(b.data.size()) +
                  " bytes, not a multiple of 8");
    e.kind = static_cast<std::uint8_t>(b.type == element_type::f64 ? dataset_kind::f64 : dataset_kind::blob);
    e.row.bytes = b.data.size();
    e.row.step = b.step.value;
    e.id = b.id.value;
    e.owner = rank;
    e.index = i;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<dataset_entry> sorted_partitions(std::vector<std::vector<dataset_entry>> by_rank) {
  std::vector<dataset_entry> all;
  for (auto& v : by_rank) all.insert(all.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  std::sort(all.begin(), all.end(), [](const dataset_entry& a, const dataset_entry& b) {
    return a.id != b.id ? a.id < b.id : a.row.path < b.row.path;
  });
  return all;
}

std::optional<std::string> shared_partition_problem(const std::vector<dataset_entry>& sorted) {
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].row.path == sorted[i - 1].row.path)
      return fmt::format("partition dataset {} is held by ranks {} and {}", sorted[i].row.path, sorted[i - 1].owner,
                         sorted[i].owner);
  }
  return std::nullopt;
}

std::uint64_t file_size_bound(const write_plan& plan, const std::vector<dataset_entry>& partitions) {
  std::uint64_t data_bytes = 0;
  for (const auto& e : plan.scheduler) data_bytes += e.row.bytes;
  for (const auto& e : partitions) data_bytes += e.row.bytes;
  return data_bytes + 16384 + 2048 * (plan.scheduler.size() + 2 * partitions.size());
}

std::vector<manifest_row> manifest_rows(const write_plan& plan, const std::vector<dataset_entry>& partitions) {
  std::vector<manifest_row> rows;
  rows.reserve(1 + plan.scheduler.size() + partitions.size());
  const bytes enc = encode_meta(plan.meta());
  rows.push_back({std::string(meta_row_path), enc.size(), crc32(enc), 0});
  for (const auto& e : plan.scheduler) rows.push_back(e.row);
  for (const auto& e : partitions) rows.push_back(e.row);
  return rows;
}

}  // namespace partita::detail
