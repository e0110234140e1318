#include <partita/scheduler/map_reduce/detail/straggler_watch.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace partita::detail {

namespace {
double seconds(straggler_watch::clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

straggler_watch::straggler_watch(speculation_options options, std::size_t workers)
    : options_(options), watched_(workers) {}

void straggler_watch::note_result(double seconds) {
  if (samples_.size() < sample_ring) samples_.push_back(static_cast<float>(seconds));
  else samples_[sample_count_ % sample_ring] = static_cast<float>(seconds);
  ++sample_count_;
  sample_sum_ += seconds;
  unchanged_ = false;  // the median and the mean moved: the shared list's order may be another
  // Keys made from now on assume half the mean; those made before assumed less, so they are early, not wrong, and
  // most_overdue() moves them to their place when it meets them.
  if (const double mean = sample_sum_ / static_cast<double>(sample_count_); mean > 4 * due_mean_) due_mean_ = mean / 2;
}

double straggler_watch::median_seconds() const {
  if (sample_count_ < std::max<std::uint64_t>(1, options_.min_samples)) return 0;
  if (median_at_ != sample_count_) {  // at most 1024 samples: a few microseconds
    auto copy = samples_;
    auto mid = copy.begin() + static_cast<long>(copy.size() / 2);
    std::nth_element(copy.begin(), mid, copy.end());
    median_ = *mid;
    median_at_ = sample_count_;
  }
  return median_;
}

void straggler_watch::watch(int w, const held_chunk& first, int threads, std::uint64_t lowest) {
  if (!options_.enabled) return;
  auto due = due_key(first, threads);
  auto& watched = watched_.at(static_cast<std::size_t>(w));
  if (watched) {
    const auto [was_due, was_lowest] = *watched;
    if (was_due <= due && was_lowest <= lowest) return;
    holders_.erase({was_due, was_lowest, w});
    due = std::min(due, was_due);
    lowest = std::min(lowest, was_lowest);
  }
  watched = place{due, lowest};
  holders_.emplace(due, lowest, w);
  unchanged_ = false;  // new holdings: the shared list may miss them
}

void straggler_watch::forget(int w) {
  auto& watched = watched_.at(static_cast<std::size_t>(w));
  if (watched) holders_.erase({watched->first, watched->second, w});
  watched.reset();
  unchanged_ = false;
}

std::vector<speculative_copy> straggler_watch::copy_for(int w, std::uint64_t want, clock::time_point now,
                                                        holdings& of) {
  std::vector<speculative_copy> out;
  if (want == 0 || median_seconds() <= 0) return out;
  for (const auto& c : shared_overdue(w, want, now, of)) {
    copied_.emplace(c.id, copy_state{c.holder, w, w});
    out.push_back(speculative_copy{partition_id{c.id}, rank_t{c.holder}, rank_t{w}, c.outstanding});
  }
  copies_.insert(copies_.end(), out.begin(), out.end());
  return out;
}

std::vector<straggler_watch::overdue_partition> straggler_watch::shared_overdue(int w, std::uint64_t want,
                                                                                clock::time_point now, holdings& of) {
  // Whether the last search was a moment ago with no result and no new holding since (unchanged_).
  const bool recent = unchanged_ && now >= searched_at_ && now - searched_at_ < share_window;
  if (!recent) shared_valid_ = false;
  if (!shared_valid_) {
    searched_at_ = now;
    unchanged_ = true;
    // The first request of a moment searches alone, as every request of a running job does (results come between
    // them): a list for many would cost that walk more for nothing.
    if (!recent) return most_overdue(w, want, now, of);
    // A second one: requests are being answered in a row (serve_parked); a list for those that follow.
    const auto size = std::max(want, share_batch);
    shared_ = most_overdue(-1, size, now, of);  // every holder's: a request skips its own below
    shared_from_ = 0;
    shared_cut_ = shared_.size() == size;
    shared_valid_ = true;
  }
  // Taken in order from shared_from_ on, until `want` are found: what is done or copied since goes, what is this
  // request's own stays (moved up to just before where the scan stopped, in order), the rest is not looked at.
  std::vector<overdue_partition> out, own;
  const auto& done = of.done();
  auto i = shared_from_;
  for (; i < shared_.size() && out.size() < want; ++i) {
    const auto& p = shared_[i];
    if (done.contains(p.id) || copied_.count(p.id) != 0) continue;
    if (p.holder == w) own.push_back(p);
    else out.push_back(p);
  }
  shared_from_ = i - own.size();
  std::copy(own.begin(), own.end(), shared_.begin() + static_cast<std::ptrdiff_t>(shared_from_));
  if (out.size() < want && shared_cut_) {
    // The list was cut: more may be overdue beyond it. Alone, as before the shared list.
    shared_valid_ = false;
    return most_overdue(w, want, now, of);
  }
  return out;
}

straggler_watch::settled straggler_watch::settle(int w, std::uint64_t id) {
  settled s;
  if (copied_.empty()) return s;  // the common case: no speculative copy was ever made
  if (const auto it = copied_.find(id); it != copied_.end()) {
    std::size_t n = 0;
    for (int h : {it->second.original, it->second.copy})
      if (h >= 0 && h != w) s.others[n++] = h;
    // A win also when the copy carried on as the original after its holder was lost.
    if (it->second.by == w) {
      s.won = true;
      ++copies_won_;
    }
  }
  return s;
}

bool straggler_watch::runs_elsewhere(int w, std::uint64_t id) {
  const auto it = copied_.find(id);
  if (it == copied_.end()) return false;
  auto& st = it->second;
  if (st.copy == w) {  // the original still runs on its holder
    st.copy = -1;
    return true;
  }
  if (st.copy >= 0) {  // w ran the original: the copy carries on as the original
    st.original = st.copy;
    st.copy = -1;
    return true;
  }
  st.original = -1;  // nobody runs it any more
  return false;
}

straggler_watch::clock::time_point straggler_watch::due_key(const held_chunk& c, int threads) const {
  const double before = static_cast<double>(c.ahead) / std::max(1, threads);
  const double wait = std::max(options_.floor_seconds, options_.factor * before * due_mean_);
  // Truncated: never later than the time it stands for.
  return c.since + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait));
}

std::optional<straggler_watch::place> straggler_watch::place_of(int h, holdings& of) const {
  std::optional<place> at;
  const int threads = of.threads(h);
  for (const auto& c : of.chunks(h))
    if (const auto id = first_candidate(c.range, c.range.begin, of.done()); id < c.range.end) {
      const auto due = due_key(c, threads);
      at = at ? place{std::min(at->first, due), std::min(at->second, id)} : place{due, id};
    }
  return at;
}

void straggler_watch::rekey(double mean, holdings& of) {
  due_mean_ = mean;
  holders_.clear();
  for (std::size_t h = 0; h < watched_.size(); ++h) {
    auto& watched = watched_[h];
    if (!watched) continue;
    watched = place_of(static_cast<int>(h), of);
    if (watched) holders_.emplace(watched->first, watched->second, static_cast<int>(h));
  }
}

std::uint64_t straggler_watch::first_candidate(id_range r, std::uint64_t from, const id_set& done) const {
  for (auto id = from;; ++id) {
    id = done.next_absent(id);
    if (id >= r.end) return r.end;
    if (copied_.empty() || copied_.count(id) == 0) return id;
  }
}

/// One search of most_overdue(): the rule's figures at `now`, and the best found so far (a heap of at most `want`,
/// the least overdue of them on top).
struct straggler_watch::search {
  clock::time_point now;
  std::uint64_t want;
  double median;
  double mean;
  bool bounded;  // the walk may stop early (below)
  double least;  // the least any partition is allowed
  clock::duration floor;
  std::vector<overdue_partition> best;

  // Most overdue first; ids are distinct, so the order is total and the same whatever order the holders are met in.
  static bool ahead_of(const overdue_partition& a, const overdue_partition& b) {
    return a.overdue != b.overdue ? a.overdue > b.overdue : a.id < b.id;
  }
};

std::vector<straggler_watch::overdue_partition> straggler_watch::most_overdue(int w, std::uint64_t want,
                                                                              clock::time_point now, holdings& of) {
  if (want == 0) return {};
  ++searches_;
  search s{now, want, median_seconds(), sample_sum_ / static_cast<double>(sample_count_), false, 0, {}, {}};
  // With a finite mean >= 0 a partition's allowance (offer()) grows with what is queued before it, so it is never
  // below `least`, and along a chunk the first candidate is the most overdue one. A holder's place is its earliest
  // due_key(): hand-out time plus D = max(floor, factor * ahead / threads * due_mean_), due_mean_ <= mean. For a
  // candidate outstanding o = A + D (A: how long ago that key passed), outstanding / allowed is at most
  // max(1, (A + floor) / least): if D = floor, allowed >= least; otherwise allowed >= factor * median + D and
  // (A + D) / (factor * median + D) is at most 1 or falls with D. So a holder can offer nothing once A + floor <=
  // least, and nothing above (A + floor) / least: the walk over holders_, earliest first, stops there. (Otherwise
  // it looks at every holder.) Keys of queued chunks lie later by their queue: the walk passes over few of them.
  s.bounded = std::isfinite(s.median) && std::isfinite(s.mean) && s.mean >= 0;
  if (s.bounded && s.mean < due_mean_) rekey(s.mean / 2, of);  // keys later than the truth: rare (the mean halved)
  s.least = std::max(options_.floor_seconds, options_.factor * s.median);
  // The floor as due_key() adds it: (now - due) + floor is then exactly the outstanding time of a chunk whose key is
  // its hand-out time plus the floor, so a holder that can only tie is seen to (walk()).
  s.floor = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(options_.floor_seconds));
  walk(s, w, of);
  std::sort_heap(s.best.begin(), s.best.end(), search::ahead_of);
  return std::move(s.best);
}

void straggler_watch::walk(search& s, int w, holdings& of) {
  for (auto it = holders_.begin(); it != holders_.end();) {
    const auto [due, lowest, h] = *it;
    const double most = seconds(s.now - due + s.floor) / s.least;
    if (s.bounded && most <= 1) break;
    if (s.bounded && s.best.size() == s.want) {
      if (most < s.best.front().overdue) break;
      if (most == s.best.front().overdue && lowest > s.best.front().id) {
        // The holders placed at `due` can at best tie with the last of the best, and lose on the id (their lowest
        // candidate is higher): on to the later ones.
        it = holders_.upper_bound({due, std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<int>::max()});
        continue;
      }
    }
    const auto next = std::next(it);
    if (h == w) {  // never its own partitions
      it = next;
      continue;
    }
    // If its place is earlier than place_of() says, partitions finished (or were copied) since, and the holder is
    // met again further on in its true place (or not at all if it holds no candidate).
    const auto truth = place_of(h, of);
    if (truth != place{due, lowest}) {
      holders_.erase(it);
      watched_[static_cast<std::size_t>(h)] = truth;
      if (truth) holders_.emplace(truth->first, truth->second, h);
      it = holders_.upper_bound({due, lowest, h});  // its true place is later, maybe before `next`
      continue;
    }
    const double threads = std::max(1, of.threads(h));
    for (const auto& c : of.chunks(h)) offer(s, c, h, threads, of.done());
    it = next;
  }
}

void straggler_watch::offer(search& s, const held_chunk& c, int h, double threads, const id_set& done) const {
  const auto& o = options_;
  const double outstanding = seconds(s.now - c.since);
  if (outstanding <= o.floor_seconds) return;
  for (auto id = first_candidate(c.range, c.range.begin, done); id < c.range.end;
       id = first_candidate(c.range, id + 1, done)) {
    // Queued before it on the holder: its chunk-mates (run in order on one thread) and what was ahead.
    const double before = static_cast<double>(c.ahead) / threads + static_cast<double>(id - c.range.begin);
    const double allowed = std::max(o.floor_seconds, o.factor * (s.median + before * s.mean));
    if (!(outstanding > allowed)) {
      if (s.bounded) return;  // the rest of the chunk is allowed as long or longer
      continue;
    }
    const overdue_partition p{outstanding / allowed, id, h, outstanding};
    auto& best = s.best;
    if (best.size() < s.want) {
      best.push_back(p);
      std::push_heap(best.begin(), best.end(), search::ahead_of);
    } else if (search::ahead_of(p, best.front())) {
      std::pop_heap(best.begin(), best.end(), search::ahead_of);
      best.back() = p;
      std::push_heap(best.begin(), best.end(), search::ahead_of);
    } else if (s.bounded) {
      return;  // the rest of the chunk comes after it
    }
  }
}

}  // namespace partita::detail
