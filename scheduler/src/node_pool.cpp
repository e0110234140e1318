#include <partita/scheduler/detail/node_pool.hpp>

#include <partita/runtime/error.hpp>

namespace partita::detail {

node_pool::node_pool(const std::vector<int>& ranks) {
  for (int r : ranks) ranks_[r];
}

node_pool::rank_state& node_pool::at(int r) {
  const auto it = ranks_.find(r);
  if (it == ranks_.end()) throw error("node scheduler: rank " + std::to_string(r) + " is not one it serves");
  return it->second;
}

const node_pool::rank_state& node_pool::at(int r) const { return const_cast<node_pool*>(this)->at(r); }

void node_pool::add(std::vector<std::vector<id_range>> chunks) {
  for (auto& c : chunks)
    if (!c.empty()) pool_.push_back(std::move(c));
}

std::vector<std::vector<id_range>> node_pool::take(int r, std::uint32_t n) {
  auto& st = at(r);
  std::vector<std::vector<id_range>> out;
  if (st.tally.lost) return out;
  while (out.size() < n && !pool_.empty()) {
    auto chunk = std::move(pool_.front());
    pool_.pop_front();
    for (const auto& range : chunk) {
      if (range.begin >= range.end) continue;
      // Ranges handed to one rank never overlap: the root hands every id to one node once (a requeued id comes
      // back only after it was removed from its holder), so a plain insert keeps the map disjoint.
      st.held.emplace(range.begin, range.end);
      st.unfinished += range.size();
    }
    ++st.tally.chunks;
    out.push_back(std::move(chunk));
  }
  if (!out.empty()) ++st.tally.messages;
  return out;
}

void node_pool::complete(int r, std::uint64_t id) {
  auto& st = at(r);
  ++st.tally.partitions;
  auto it = st.held.upper_bound(id);
  if (it == st.held.begin()) return;  // not held here (a speculative copy's twin, or rerun after a requeue)
  --it;
  const auto begin = it->first, end = it->second;
  if (id >= end) return;
  st.held.erase(it);
  if (begin < id) st.held.emplace(begin, id);
  if (id + 1 < end) st.held.emplace(id + 1, end);
  --st.unfinished;
}

std::uint64_t node_pool::lose(int r) {
  auto& st = at(r);
  if (st.tally.lost) return 0;
  st.tally.lost = 1;
  std::uint64_t n = 0;
  std::vector<id_range> back;
  for (const auto& [b, e] : st.held) {
    back.push_back(id_range{b, e});
    n += e - b;
  }
  // One chunk per range, in id order, ahead of everything queued (they are the oldest work of the node).
  for (auto it = back.rbegin(); it != back.rend(); ++it) pool_.push_front({*it});
  st.held.clear();
  st.unfinished = 0;
  return n;
}

std::uint64_t node_pool::outstanding(int r) const { return at(r).unfinished; }

}  // namespace partita::detail
