#include <partita/scheduler/detail/liveness.hpp>

#include <algorithm>

namespace partita::detail {

peer_table::peer_table(int ranks, rank_t self) : peers_(static_cast<std::size_t>(ranks)) {
  const auto now = clock::now();
  for (auto& p : peers_) p.last_heard = p.last_sent = now;
  (*this)[self.value].alive = false;  // not a remote peer
}

bool peer_table::any_alive() const {
  return std::any_of(peers_.begin(), peers_.end(), [](const peer& p) { return p.alive; });
}

std::vector<bool> peer_table::alive_mask() const {
  std::vector<bool> out;
  for (const auto& p : peers_) out.push_back(p.alive);
  return out;
}

}  // namespace partita::detail
