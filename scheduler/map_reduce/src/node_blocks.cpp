#include <partita/scheduler/map_reduce/detail/node_blocks.hpp>

#include <algorithm>
#include <numeric>

namespace partita::detail {

namespace {
void push(result_batch& out, std::uint64_t id, std::uint64_t nanos, std::span<const std::byte> r) {
  out.ids.push_back(id);
  out.nanos.push_back(nanos);
  out.data.insert(out.data.end(), r.begin(), r.end());
  out.ends.push_back(static_cast<std::uint32_t>(out.data.size()));
}
}  // namespace

node_blocks::node_blocks(std::uint64_t partitions, bool enabled)
    : total_(partitions), block_(fold_block_size(partitions)), enabled_(enabled && block_ > 1) {}

std::uint64_t node_blocks::end_of(std::uint64_t k) const noexcept { return std::min(total_, (k + 1) * block_); }

void node_blocks::handed(const std::vector<id_range>& chunk) {
  if (!enabled_) return;
  for (const auto& r : chunk)
    if (r.begin < r.end && r.end <= total_) handed_.insert(r);
}

node_blocks::verdict node_blocks::offer(std::uint64_t id, std::uint64_t nanos, std::span<const std::byte> result,
                                        clock::time_point now) {
  if (!enabled_ || id >= total_) {  // the root judges a stray id
    ++alone_;
    return verdict::up;
  }
  const auto k = id / block_;
  auto it = blocks_.find(k);
  if (it == blocks_.end()) {
    // The block's first result decides: folded here only if all of its ids were handed to this node by now.
    block b;
    const auto first = k * block_, end = end_of(k);
    if (handed_.next_absent(first) >= end) {
      b.since = now;
      opened_.push_back(k);
      b.results.resize(end - first);
      b.nanos.assign(end - first, 0);
      b.in.assign(end - first, false);
    } else {
      b.st = state::alone;
    }
    it = blocks_.emplace(k, std::move(b)).first;
  }
  auto& b = it->second;
  if (b.st == state::alone) {
    ++alone_;
    return verdict::up;
  }
  if (b.st == state::sent) return verdict::dropped;  // a twin of an id folded already: the root would drop it too
  const auto slot = id - k * block_;
  if (b.in[slot]) return verdict::dropped;  // reported before (a speculative twin, a rerun after a member's loss)
  b.in[slot] = true;
  b.results[slot].assign(result.begin(), result.end());
  b.nanos[slot] = nanos;
  ++kept_;
  if (++b.have == b.results.size()) whole_.push_back(k);
  return verdict::kept;
}

void node_blocks::sort(const result_batch& in, result_batch& up, clock::time_point now) {
  for (std::size_t i = 0; i < in.size(); ++i)
    if (offer(in.ids[i], in.nanos[i], in.result(i), now) == verdict::up) push(up, in.ids[i], in.nanos[i], in.result(i));
}

void node_blocks::begin_tail(clock::time_point now) {
  if (tail_) return;
  tail_ = true;
  tail_start_ = now;
}

std::optional<node_blocks::clock::time_point> node_blocks::next_release() {
  if (!tail_) return std::nullopt;
  // Blocks are kept in the order they were opened, so the first still open is the oldest.
  while (!opened_.empty()) {
    const auto& b = blocks_.at(opened_.front());
    if (b.st == state::open && b.have < b.results.size()) return std::max(b.since, tail_start_) + tail_wait;
    opened_.pop_front();
  }
  return std::nullopt;
}

std::uint64_t node_blocks::release(clock::time_point now, result_batch& up) {
  std::uint64_t n = 0;
  for (auto due = next_release(); due && *due <= now; due = next_release()) {
    const auto k = opened_.front();
    opened_.pop_front();
    auto& b = blocks_.at(k);
    for (std::size_t i = 0; i < b.results.size(); ++i)
      if (b.in[i]) {
        push(up, k * block_ + i, b.nanos[i], b.results[i]);
        ++n;
      }
    kept_ -= std::min<std::uint64_t>(kept_, b.have);
    b.st = state::alone;
    b.results = {};
    b.nanos = {};
    b.in = {};
  }
  alone_ += n;
  return n;
}

std::size_t node_blocks::take_whole(const fold_ops& fold, result_batch& out) {
  const auto n = whole_.size();
  for (const auto k : whole_) {
    auto& b = blocks_.at(k);
    fold.set({});
    for (const auto& r : b.results) fold.result(r);
    std::uint64_t nanos = 0;
    for (const auto t : b.nanos) nanos += t;
    push(out, k, nanos, fold.get());
    fold.set({});
    kept_ -= b.have;
    b.st = state::sent;
    b.results = {};
    b.nanos = {};
    b.in = {};
    ++folded_;
  }
  whole_.clear();
  return n;
}

void node_blocks::order(result_batch& blocks) {
  if (std::is_sorted(blocks.ids.begin(), blocks.ids.end())) return;
  std::vector<std::size_t> by_id(blocks.size());
  std::iota(by_id.begin(), by_id.end(), std::size_t{0});
  std::sort(by_id.begin(), by_id.end(), [&](std::size_t a, std::size_t b) { return blocks.ids[a] < blocks.ids[b]; });
  result_batch sorted;
  sorted.ids.reserve(blocks.size());
  sorted.nanos.reserve(blocks.size());
  sorted.ends.reserve(blocks.size());
  sorted.data.reserve(blocks.data.size());
  for (const auto i : by_id) push(sorted, blocks.ids[i], blocks.nanos[i], blocks.result(i));
  blocks = std::move(sorted);
}

}  // namespace partita::detail
