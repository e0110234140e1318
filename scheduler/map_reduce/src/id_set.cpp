#include <partita/scheduler/map_reduce/id_set.hpp>

#include <algorithm>

namespace partita {

bool id_set::insert(std::uint64_t id) {
  // Fast path: the id extends the range touched last (the next result of the same chunk).
  if (last_ != ranges_.end() && last_->second == id) {
    const auto next = std::next(last_);
    if (next != ranges_.end() && next->first == id + 1) {
      last_->second = next->second;
      ranges_.erase(next);
    } else {
      last_->second = id + 1;
    }
    ++count_;
    return true;
  }
  return insert(id_range{id, id + 1}) == 1;
}

std::uint64_t id_set::insert(id_range r) {
  if (r.begin >= r.end) return 0;
  // The first range that touches [begin, end] (overlaps or is adjacent).
  auto it = ranges_.upper_bound(r.begin);
  if (it != ranges_.begin() && std::prev(it)->second >= r.begin) --it;
  std::uint64_t covered = 0;
  auto overlap = [&](map::const_iterator x) {
    const auto b = std::max(r.begin, x->first), e = std::min(r.end, x->second);
    return e > b ? e - b : 0;
  };
  if (it != ranges_.end() && it->first <= r.begin) {
    // Extend this range in place, swallowing the ranges it now reaches.
    if (it->second >= r.end) return 0;
    covered += overlap(it);
    auto next = std::next(it);
    std::uint64_t end = r.end;
    while (next != ranges_.end() && next->first <= r.end) {
      covered += overlap(next);
      end = std::max(end, next->second);
      next = ranges_.erase(next);
    }
    it->second = end;
    last_ = it;
  } else {
    std::uint64_t end = r.end;
    while (it != ranges_.end() && it->first <= r.end) {
      covered += overlap(it);
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    last_ = ranges_.emplace_hint(it, r.begin, end);
  }
  const auto added = r.size() - covered;
  count_ += added;
  return added;
}

std::uint64_t id_set::erase(id_range r) {
  if (r.begin >= r.end) return 0;
  // The first range that overlaps [begin, end).
  auto it = ranges_.upper_bound(r.begin);
  if (it != ranges_.begin() && std::prev(it)->second > r.begin) --it;
  std::uint64_t removed = 0;
  while (it != ranges_.end() && it->first < r.end) {
    const auto b = it->first, e = it->second;
    removed += std::min(e, r.end) - std::max(b, r.begin);
    it = ranges_.erase(it);
    if (b < r.begin) ranges_.emplace_hint(it, b, r.begin);   // the part before stays
    if (e > r.end) it = ranges_.emplace_hint(it, r.end, e);  // the part after stays (and ends the loop)
  }
  count_ -= removed;
  last_ = ranges_.end();
  return removed;
}

bool id_set::contains(std::uint64_t id) const {
  if (last_ != ranges_.end() && last_->first <= id && id < last_->second) return true;
  auto it = ranges_.upper_bound(id);
  if (it == ranges_.begin()) return false;
  return id < std::prev(it)->second;
}

std::uint64_t id_set::next_present(std::uint64_t from) const {
  auto it = ranges_.upper_bound(from);
  if (it != ranges_.begin() && from < std::prev(it)->second) return from;
  return it == ranges_.end() ? none : it->first;
}

std::uint64_t id_set::next_absent(std::uint64_t from) const {
  auto it = ranges_.upper_bound(from);
  if (it != ranges_.begin() && from < std::prev(it)->second) return std::prev(it)->second;  // ranges never touch
  return from;
}

id_range id_set::pop_front(std::uint64_t max) {
  if (ranges_.empty() || max == 0) return {};
  auto it = ranges_.begin();
  const id_range out{it->first, std::min(it->second, it->first + max)};
  if (out.end == it->second) {
    if (last_ == it) last_ = ranges_.end();
    ranges_.erase(it);
  } else {
    // The key changes: re-insert the rest.
    const auto end = it->second;
    if (last_ == it) last_ = ranges_.end();
    ranges_.erase(it);
    ranges_.emplace(out.end, end);
  }
  count_ -= out.size();
  return out;
}

std::vector<id_range> id_set::ranges() const {
  std::vector<id_range> out;
  out.reserve(ranges_.size());
  for (const auto& [b, e] : ranges_) out.push_back({b, e});
  return out;
}

}  // namespace partita
