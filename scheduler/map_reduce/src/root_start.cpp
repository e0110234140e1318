#include <partita/scheduler/map_reduce/detail/root_start.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita::detail {

map_reduce_state resume_state(map_reduce_state from, std::uint64_t partitions, const survivor_work& work,
                              failover_summary& f) {
  auto st = std::move(from);
  f.from_checkpoint = st.done_count();
  for (const auto* b : work.results)
    for (std::size_t i = 0; i < b->size(); ++i) {
      const auto id = b->ids[i];
      if (id >= partitions)
        throw error(fmt::format("failover: a survivor reported partition {} of {}", id, partitions));
      if (!st.done.insert(id)) continue;
      st.note_cost(id, static_cast<float>(static_cast<double>(b->nanos[i]) * 1e-9));
      const auto r = b->result(i);
      st.held.emplace(id, bytes(r.begin(), r.end()));
      ++f.from_workers;
    }
  return st;
}

std::uint64_t rerun_count(const dispatcher& d, const survivor_work& work) {
  const auto n = d.total();
  std::vector<bool> running(n, false);
  std::uint64_t top = 0;
  for (const auto* ranges : work.running)
    for (const auto& r : *ranges) {
      for (auto id = r.begin; id < std::min(r.end, n); ++id) running[id] = true;
      top = std::max(top, std::min(r.end, n));
    }
  for (std::uint64_t id = 0; id < n; ++id)
    if (d.is_done(partition_id{id})) top = std::max(top, id + 1);
  std::uint64_t rerun = 0;
  for (std::uint64_t id = 0; id < top; ++id)
    if (!d.is_done(partition_id{id}) && !running[id]) ++rerun;
  return rerun;
}

std::vector<float> seeded_costs(const map_job_model& job, const map_reduce_state& st) {
  const auto n = job.partition_count();
  std::vector<float> costs(n);
  double hinted = 0, measured = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    costs[i] = static_cast<float>(job.cost_hint(partition_id{i}));
    if (const float m = st.cost_of(i); !std::isnan(m) && costs[i] > 0) {
      hinted += costs[i];
      measured += m;
    }
  }
  const double scale = hinted > 0 ? measured / hinted : 1.0;
  for (std::uint64_t i = 0; i < n; ++i)
    if (const float m = st.cost_of(i); !std::isnan(m)) costs[i] = m;
    else costs[i] = static_cast<float>(costs[i] * scale);
  return costs;
}

}  // namespace partita::detail
