#include <partita/scheduler/map_reduce/detail/node_pool.hpp>

#include <algorithm>
#include <string>

#include <partita/runtime/error.hpp>

namespace partita::detail {

double node_result_age_seconds(int node_schedulers) {
  return std::clamp(result_batch_age_seconds * node_schedulers / 16.0, result_batch_age_seconds, 1.0);
}

std::uint32_t node_batch_pieces_per_thread(int node_schedulers) { return node_schedulers >= 512 ? 4 : 2; }

std::vector<std::vector<id_range>> split_chunk(const std::vector<id_range>& chunk, std::size_t pieces) {
  std::uint64_t n = 0;
  for (const auto& r : chunk) n += r.begin < r.end ? r.size() : 0;
  const std::uint64_t k = std::min<std::uint64_t>(std::max<std::size_t>(pieces, 1), n);
  std::vector<std::vector<id_range>> out;
  if (k == 0) return out;
  out.reserve(static_cast<std::size_t>(k));
  auto range = chunk.begin();
  std::uint64_t at = range->begin;
  for (std::uint64_t i = 0; i < k; ++i) {
    std::uint64_t want = n / k + (i < n % k ? 1 : 0);
    auto& piece = out.emplace_back();
    while (want > 0) {
      while (at >= range->end) at = (++range)->begin;  // past this range (or an empty one): the next
      const auto end = std::min(range->end, at + want);
      piece.push_back(id_range{at, end});
      want -= end - at;
      at = end;
    }
  }
  return out;
}

node_pool::node_pool(int self, int self_threads, std::vector<node_member> members, int node_schedulers)
    : self_(self), members_(std::move(members)) {
  int node_threads = std::max(0, self_threads);
  for (const auto& m : members_) {
    ranks_[m.rank].threads = std::max(1, m.threads);
    node_threads += m.threads;
  }
  if (self_threads > 0) ranks_[self_].threads = self_threads;
  // At least one piece per rank it serves waits in the pool, so a rank that asks is answered without a round trip
  // to the root. Below that it asks for two pieces per thread of the node: the root hears from the node about once
  // per two pieces per thread; more would hold back work other nodes need at the end, except where the root's
  // load is what the job waits for (thousands of node schedulers: node_batch_pieces_per_thread).
  reserve_ = static_cast<std::uint32_t>(std::max<std::size_t>(1, ranks_.size()));
  batch_ = std::max<std::uint32_t>(reserve_, node_batch_pieces_per_thread(node_schedulers) *
                                                 static_cast<std::uint32_t>(node_threads));
  pieces_ = static_cast<std::uint32_t>(std::max(1, node_threads));
}

node_pool::rank_state& node_pool::at(int r) {
  const auto it = ranks_.find(r);
  if (it == ranks_.end()) throw error("node scheduler: rank " + std::to_string(r) + " is not one it serves");
  return it->second;
}

const node_pool::rank_state& node_pool::at(int r) const { return const_cast<node_pool*>(this)->at(r); }

void node_pool::add(std::vector<chunk> chunks, std::uint32_t answers) {
  requested_ -= static_cast<std::uint32_t>(std::min<std::uint64_t>(requested_, std::uint64_t{answers} * pieces_));
  // Once dry, for good: what the root hands out after that are speculative copies (or a lost rank's partitions),
  // and their results are what the end of the job waits for.
  if (chunks.empty() && answers == 0) root_dry_ = true;
  // The root sized each chunk as pieces_ one-thread chunks in a row (dispatcher::assign): even pieces give each
  // thread what the root would have given it when those were alike (a request's first chunk: one thread's share
  // per piece; later ones: the floor per piece); a chunk that mixes both (the node still held part of its share)
  // becomes pieces of the mean size. A speculative copy (one id) stays whole.
  for (const auto& c : chunks)
    for (auto& piece : split_chunk(c, pieces_)) pool_.push_back(std::move(piece));
}

std::vector<node_pool::chunk> node_pool::take(int r, std::uint32_t n) { return take(r, n, 0); }

std::vector<node_pool::chunk> node_pool::take(int r, std::uint32_t first, std::uint32_t more) {
  auto& st = at(r);
  std::vector<chunk> out;
  if (st.tally.lost) return out;
  while (out.size() < std::size_t{first} + more && !pool_.empty()) {
    const bool back = out.size() >= first;
    auto c = std::move(back ? pool_.back() : pool_.front());
    if (back) pool_.pop_back();
    else pool_.pop_front();
    for (const auto& range : c) {
      if (range.begin >= range.end) continue;
      // Ranges handed to one rank never overlap: the root hands every id to one node once (a requeued id comes
      // back only after it was removed from its holder), so a plain insert keeps the map disjoint.
      st.held.emplace(range.begin, range.end);
      st.unfinished += range.size();
    }
    ++st.tally.chunks;
    out.push_back(std::move(c));
  }
  if (!out.empty()) {
    ++st.tally.messages;
    st.served = true;
  }
  return out;
}

void node_pool::complete(int r, std::uint64_t id, std::uint64_t nanos) {
  auto& st = at(r);
  ++st.tally.partitions;
  if (nanos > 0) {
    ++st.timed;
    st.timed_nanos += nanos;
  }
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
  st.waiting = 0;
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

void node_pool::ask(int r, std::uint32_t n) {
  auto& st = at(r);
  if (!st.tally.lost) st.waiting += n;
}

std::size_t node_pool::unserved_shares() const {
  std::size_t n = 0;
  for (const auto& m : members_)
    if (const auto& st = at(m.rank); !st.tally.lost && !st.served) n += share_of(m);
  return n;
}

std::size_t node_pool::spare() const {
  const std::size_t queued = pool_.size(), held = unserved_shares();
  return queued > held ? queued - held : 0;
}

std::vector<node_pool::grant> node_pool::serve_waiting() {
  std::vector<grant> out;
  std::size_t left = pool_.size();
  if (left == 0) return out;
  std::size_t first_shares = unserved_shares();
  std::vector<std::uint32_t> allot(members_.size(), 0);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const auto& st = at(members_[i].rank);
    if (st.tally.lost) continue;
    const bool first = !st.served;
    const std::size_t usable = first ? left : (left > first_shares ? left - first_shares : 0);
    allot[i] = static_cast<std::uint32_t>(std::min({static_cast<std::size_t>(st.waiting), share_of(members_[i]),
                                                    usable}));
    left -= allot[i];
    if (first && allot[i] > 0) first_shares -= std::min(first_shares, share_of(members_[i]));
  }
  const auto first_part = allot;
  for (std::size_t i = 0; i < members_.size() && left > reserve_ + first_shares; ++i) {
    const auto& st = at(members_[i].rank);
    if (st.tally.lost) continue;
    const auto extra = std::min<std::size_t>(st.waiting - allot[i], left - reserve_ - first_shares);
    allot[i] += static_cast<std::uint32_t>(extra);
    left -= extra;
  }
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (allot[i] == 0) continue;
    const int r = members_[i].rank;
    auto chunks = take(r, first_part[i], allot[i] - first_part[i]);
    // Answers what it gives; the rest stays waiting here until the pool has more.
    at(r).waiting -= static_cast<std::uint32_t>(chunks.size());
    out.push_back(grant{r, std::move(chunks)});
  }
  return out;
}

std::vector<node_pool::chunk> node_pool::take_own(std::uint32_t free_threads) {
  const auto n = std::min<std::size_t>(free_threads, spare());
  if (n == 0) return {};
  return take(self_, static_cast<std::uint32_t>(n));
}

void node_pool::enable_take_back(double min_seconds) { take_back_min_s_ = min_seconds; }

std::vector<node_pool::take_back_grant> node_pool::take_backs(std::uint32_t own_free) {
  std::vector<take_back_grant> out;
  if (!take_back_min_s_ || !root_dry_ || !pool_.empty()) return out;
  // Idle here: a member waiting for a chunk with fewer partitions than threads, or this rank's own free threads.
  std::vector<int> takers;
  for (const auto& m : members_)
    if (const auto& st = at(m.rank);
        !st.tally.lost && st.waiting > 0 && st.unfinished < static_cast<std::uint64_t>(st.threads))
      takers.push_back(m.rank);
  if (own_free > 0 && ranks_.count(self_) != 0) takers.push_back(self_);
  for (const int taker : takers) {
    auto& tk = at(taker);
    // The largest backlog in time: partitions beyond one per thread, at the holder's own time per partition.
    int from = -1;
    double most = 0, from_per = 0;
    for (auto& [h, hs] : ranks_) {
      if (h == taker || hs.tally.lost || hs.timed == 0 || hs.unfinished <= static_cast<std::uint64_t>(hs.threads))
        continue;
      const double per = static_cast<double>(hs.timed_nanos) / static_cast<double>(hs.timed) * 1e-9;
      const double t = backlog_seconds(hs.unfinished, hs.threads, per);
      if (t > most) {
        most = t;
        from = h;
        from_per = per;
      }
    }
    if (from < 0) break;  // no backlog left for any taker
    auto& hs = at(from);
    const auto tw = static_cast<std::uint64_t>(taker == self_ ? std::min<std::uint32_t>(own_free, tk.threads)
                                                              : static_cast<std::uint32_t>(tk.threads));
    const auto share = take_back_share(hs.unfinished, hs.threads, tw);
    if (static_cast<double>(share) * from_per < *take_back_min_s_) continue;
    // The back of its ranges, highest ids first (a rank runs its chunks in the order given, each in id order).
    std::vector<id_range> ids;  // descending while cut
    std::uint64_t got = 0;
    while (got < share && !hs.held.empty()) {
      auto last = std::prev(hs.held.end());
      const auto begin = last->first, end = last->second;
      const auto n = std::min(share - got, end - begin);
      if (!ids.empty() && ids.back().begin == end) ids.back().begin = end - n;  // adjacent ranges: one
      else ids.push_back(id_range{end - n, end});
      hs.held.erase(last);
      if (begin < end - n) hs.held.emplace(begin, end - n);
      got += n;
    }
    std::reverse(ids.begin(), ids.end());
    hs.unfinished -= got;
    for (const auto& r : ids) tk.held.emplace(r.begin, r.end);
    tk.unfinished += got;
    tk.tally.taken += got;
    ++tk.tally.chunks;
    ++tk.tally.messages;
    tk.served = true;
    if (taker != self_) --tk.waiting;
    out.push_back(take_back_grant{from, taker, std::move(ids)});
  }
  return out;
}

std::uint32_t node_pool::to_ask(std::uint32_t own_free) {
  std::uint64_t waiting = own_free;  // chunks the node's ranks wait for now
  for (const auto& m : members_)
    if (const auto& st = at(m.rank); !st.tally.lost) waiting += st.waiting;
  // What is kept for members that have not asked yet is theirs: it does not count as having work for the others.
  const std::uint64_t have = spare() + requested_;
  if (have >= waiting + reserve_) return 0;
  const std::uint64_t want = waiting + batch_ - have;  // pieces
  const auto chunks = static_cast<std::uint32_t>((want + pieces_ - 1) / pieces_);
  requested_ += chunks * pieces_;
  return chunks;
}

double node_pool::result_wait(double age) const {
  if (!root_dry_ || !pool_.empty()) return age;
  for (const auto& [r, st] : ranks_)
    if (!st.tally.lost && st.unfinished > 0) return std::min(age, result_batch_age_seconds);
  return 0;
}

}  // namespace partita::detail
