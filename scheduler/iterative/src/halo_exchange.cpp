#include <partita/scheduler/iterative/detail/halo_exchange.hpp>

#include <algorithm>

#include <partita/runtime/error.hpp>

namespace partita::detail {

void halo_exchange::plan(const placement& place) {
  place_ = place;
  begin_ = place.begin(me_.value);
  end_ = place.end(me_.value);
  expect_from_.clear();
  interior_.clear();
  boundary_.clear();
  inbox_.assign(end_ - begin_, {});
  for (auto p = begin_; p < end_; ++p) {
    inbox_[p - begin_].resize(neighbours_[p].size());
    bool remote = false;
    for (auto q : neighbours_[p]) {
      const int r = place.owner(q.value);
      if (r != me_.value) {
        ++expect_from_[r];
        remote = true;
      }
    }
    (remote ? boundary_ : interior_).push_back(p - begin_);
  }
}

std::size_t halo_exchange::slot_of(std::uint64_t to, partition_id from) const {
  const auto& nb = neighbours_[to];
  return static_cast<std::size_t>(std::find(nb.begin(), nb.end(), from) - nb.begin());
}

void halo_exchange::post(peer_link& link, halo_set& out) {
  std::map<int, bytes> messages;
  for (std::uint64_t i = 0; i < out.size(); ++i) {
    const partition_id p{begin_ + i};
    for (std::size_t j = 0; j < neighbours_[p.value].size(); ++j) {
      const auto q = neighbours_[p.value][j].value;
      const int r = place_.owner(q);
      if (r == me_.value) inbox_[q - begin_][slot_of(q, p)] = std::move(out[i][j]);
      else put_halo(messages[r], p, partition_id{q}, out[i][j]);
    }
  }
  for (auto& [r, message] : messages) link.send(rank_t{r}, iterative_tag::halo, std::move(message));
}

void halo_exchange::take(std::span<const std::byte> message) {
  read_halos(message, [&](halo_entry&& h) {
    if (h.to.value < begin_ || h.to.value >= end_)
      throw error("a halo message names a partition this rank does not own");
    const auto slot = slot_of(h.to.value, h.from);
    if (slot == neighbours_[h.to.value].size())
      throw error("a halo message comes from a partition that is not a neighbour");
    inbox_[h.to.value - begin_][slot] = std::move(h.values);
  });
}

}  // namespace partita::detail
