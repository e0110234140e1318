#include "rank_threads.hpp"

#include <algorithm>

namespace partita::simulate {

rank_threads::rank_threads(int threads, const std::vector<float>& costs, double overhead, thread_usage* usage)
    : costs_(costs), overhead_(overhead), usage_(usage), lanes_(static_cast<std::size_t>(std::max(threads, 0))) {}

void rank_threads::submit(std::vector<id_range> chunk, double now) {
  ++in_flight_;
  queued_.push_back(std::move(chunk));
  for (auto& l : lanes_)
    if (l.chunk.empty() && !queued_.empty()) start_next(l, now);
}

void rank_threads::begin_partition(lane& l, double at) {
  l.ends = at + static_cast<double>(costs_[l.next]) + overhead_;
  if (usage_ && l.last_end < 0) {
    ++usage_->started;
    usage_->first_start_sum += at;
    usage_->last_end_sum += at;
    l.last_end = at;
  }
}

void rank_threads::start_next(lane& l, double at) {
  // Skip empty chunks (none are sent, but stay safe).
  while (!queued_.empty()) {
    l.chunk = std::move(queued_.front());
    queued_.pop_front();
    l.range = 0;
    while (l.range < l.chunk.size() && l.chunk[l.range].size() == 0) ++l.range;
    if (l.range < l.chunk.size()) {
      l.next = l.chunk[l.range].begin;
      l.chunk_start = at;
      begin_partition(l, at);
      return;
    }
    --in_flight_;
  }
  l.chunk.clear();
  l.ends = std::numeric_limits<double>::infinity();
}

void rank_threads::advance(double now, std::vector<finished_partition>& out) {
  for (;;) {
    lane* first = nullptr;
    for (auto& l : lanes_)
      if (!l.chunk.empty() && l.ends <= now && (!first || l.ends < first->ends)) first = &l;
    if (!first) return;
    lane& l = *first;
    const double at = l.ends;
    const double took = static_cast<double>(costs_[l.next]);
    out.push_back({l.next, took});
    busy_ += took;
    if (usage_) {
      usage_->busy += took + overhead_;
      usage_->last_end_sum += at - l.last_end;
      l.last_end = at;
      usage_->last_end_max = std::max(usage_->last_end_max, at);
    }
    ++ran_;
    if (++l.next < l.chunk[l.range].end) {
      begin_partition(l, at);
      continue;
    }
    while (++l.range < l.chunk.size() && l.chunk[l.range].size() == 0) {
    }
    if (l.range < l.chunk.size()) {
      l.next = l.chunk[l.range].begin;
      begin_partition(l, at);
      continue;
    }
    // Chunk done: the executor's moving average of chunk times (old + (new - old) / 8).
    const double chunk_time = at - l.chunk_start;
    mean_chunk_ = mean_chunk_ == 0 ? chunk_time : mean_chunk_ + (chunk_time - mean_chunk_) / 8;
    --in_flight_;
    l.chunk.clear();
    start_next(l, at);
  }
}

namespace {
/// `ranges` without the ids of `taken`, in order; counts what it removed into `removed`.
std::vector<id_range> without(const std::vector<id_range>& ranges, const std::vector<id_range>& taken,
                              std::uint64_t& removed) {
  std::vector<id_range> out;
  for (auto r : ranges) {
    for (const auto& t : taken) {
      if (t.end <= r.begin || t.begin >= r.end) continue;
      if (t.begin > r.begin) out.push_back({r.begin, t.begin});
      removed += std::min(r.end, t.end) - std::max(r.begin, t.begin);
      r.begin = std::min(r.end, t.end);
    }
    if (r.begin < r.end) out.push_back(r);
  }
  return out;
}
}  // namespace

void rank_threads::take_back(const std::vector<id_range>& ids) {
  for (auto& chunk : queued_) chunk = without(chunk, ids, skipped_);  // an emptied chunk ends when it starts
  for (auto& l : lanes_) {
    if (l.chunk.empty()) continue;
    // What started stays (up to the running partition); the rest loses the taken ids.
    std::vector<id_range> kept(l.chunk.begin(), l.chunk.begin() + static_cast<long>(l.range));
    kept.push_back({l.chunk[l.range].begin, l.next + 1});
    std::vector<id_range> rest{{l.next + 1, l.chunk[l.range].end}};
    rest.insert(rest.end(), l.chunk.begin() + static_cast<long>(l.range) + 1, l.chunk.end());
    rest = without(rest, ids, skipped_);
    l.range = kept.size() - 1;
    kept.insert(kept.end(), rest.begin(), rest.end());
    l.chunk = std::move(kept);
  }
}

double rank_threads::next_finish() const {
  double t = std::numeric_limits<double>::infinity();
  for (const auto& l : lanes_)
    if (!l.chunk.empty()) t = std::min(t, l.ends);
  return t;
}

double rank_threads::poll_interval() const {
  if (mean_chunk_ == 0) return 500e-6;
  return std::clamp(mean_chunk_ / 4, 2e-6, 500e-6);
}

}  // namespace partita::simulate
