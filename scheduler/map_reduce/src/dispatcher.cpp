#include <partita/scheduler/map_reduce/dispatcher.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {
constexpr double ema_weight = 0.05;
double ema(double old, double sample) { return old == 0 ? sample : old + ema_weight * (sample - old); }
}  // namespace

dispatcher::dispatcher(std::uint64_t partitions, std::vector<int> threads, std::unique_ptr<policy> p,
                       dispatcher_options options)
    : total_(partitions), policy_(std::move(p)), options_(std::move(options)) {
  if (threads.empty()) throw error("dispatcher: no workers");
  workers_.resize(threads.size());
  for (std::size_t w = 0; w < threads.size(); ++w) {
    workers_[w].threads = std::max(0, threads[w]);  // 0: a dedicated scheduler, never assigned work
    total_threads_ += workers_[w].threads;
  }
  if (total_threads_ == 0) throw error("dispatcher: no worker has a thread to run partitions on");
  for (int w : options_.splitting) workers_.at(static_cast<std::size_t>(w)).splits = true;
  done_ = std::move(options_.done);
  if (!done_.empty() && done_.ranges().back().end > total_) throw error("dispatcher: done set has ids past the last partition");
  done_count_ = done_.count();
  unassigned_ = total_ - done_count_;
  if (!options_.held.empty()) {
    const auto now = clock::now();
    for (const auto& [w, ranges] : options_.held) {
      auto& wk = workers_.at(static_cast<std::size_t>(w));
      std::vector<id_range> chunk;
      for (const auto& r : ranges)
        for (auto id = r.begin; id < std::min(r.end, total_); ++id)
          if (!done_.contains(id) && adopted_.insert(id)) {
            push_id(chunk, id);
            --unassigned_;
          }
      auto lowest = std::numeric_limits<std::uint64_t>::max();
      for (const auto& range : chunk) {
        wk.held.push_back(held_chunk{range, now, wk.unfinished});
        wk.unfinished += range.size();
        lowest = std::min(lowest, range.begin);
      }
      // The first chunk is due first: the least queued before it.
      if (!chunk.empty() && options_.speculation.enabled)
        watch(w, due_key(wk.held[wk.held.size() - chunk.size()], wk.threads), lowest);
    }
    options_.held.clear();
  }
  if (!(options_.speculation.factor > 0)) throw error("dispatcher: the speculation factor must be positive");

  int ranks_with_threads = 0;
  for (const auto& wk : workers_) ranks_with_threads += wk.threads > 0 ? 1 : 0;
  check_fits(total_, policy_->name(), ranks_with_threads);
  if (policy_->order() == queue_order::by_cost) {
    order_.reserve(unassigned_);
    for (std::uint64_t i = 0; i < total_; ++i)
      if (!done_.contains(i)) order_.push_back(i);
    const auto& costs = options_.costs;
    auto key = [&](std::uint64_t i) { return i < costs.size() && !std::isnan(costs[i]) ? costs[i] : 0.0f; };
    std::stable_sort(order_.begin(), order_.end(), [&](auto a, auto b) { return key(a) > key(b); });
    std::vector<float>().swap(options_.costs);  // needed for the order only
  } else if (policy_->order() == queue_order::static_blocks) {
    // Blocks in proportion to each worker's threads.
    std::uint64_t begin = 0;
    int threads_before = 0;
    for (auto& wk : workers_) {
      threads_before += wk.threads;
      const auto end = total_ * static_cast<std::uint64_t>(threads_before) / static_cast<std::uint64_t>(total_threads_);
      wk.block = id_range{begin, end};
      begin = end;
    }
  }
}

void dispatcher::check_fits(std::uint64_t partitions, std::string_view policy, int workers) {
  if (partitions <= cost_policy_limit) return;
  if (policy == "cost")
    throw usage_error(fmt::format("--policy cost keeps an order of every partition and takes at most {} partitions, "
                                  "this job has {}: use --policy adaptive (or split the job)",
                                  cost_policy_limit, partitions));
  if (policy == "static" && workers > 1)
    throw usage_error(fmt::format("--policy static on {} ranks holds the results of every block until the blocks "
                                  "before it are folded, and takes at most {} partitions, this job has {}: use "
                                  "--policy adaptive (or split the job)", workers, cost_policy_limit, partitions));
}

void dispatcher::push_id(std::vector<id_range>& out, std::uint64_t id) {
  if (!out.empty() && out.back().end == id) ++out.back().end;
  else out.push_back(id_range{id, id + 1});
}

// Up to `count` ids of `from` that are not done, as whole runs (one range per run of not-done ids). Returns how
// many; the ids of `from` it did not reach are from.begin + (what it consumed) onwards: see the callers.
std::uint64_t dispatcher::take_range(id_range from, std::uint64_t count, std::vector<id_range>& out, skip what) {
  std::uint64_t got = 0;
  auto id = from.begin;
  while (got < count && id < from.end) {
    id = done_.next_absent(id);
    if (what == skip::adopted && id < from.end && adopted_.contains(id)) {  // a failover's adopted partitions
      id = adopted_.next_absent(id);
      continue;
    }
    if (id >= from.end) break;
    auto end = std::min({from.end, done_.next_present(id), id + (count - got)});
    if (what == skip::adopted) end = std::min(end, adopted_.next_present(id));
    if (!out.empty() && out.back().end == id) out.back().end = end;
    else out.push_back(id_range{id, end});
    got += end - id;
    id = end;
  }
  consumed_to_ = std::min(id, from.end);
  return got;
}

std::uint64_t dispatcher::take(int w, std::uint64_t count, std::vector<id_range>& out) {
  std::uint64_t got = 0;
  while (got < count && !retry_.empty()) {
    const auto r = retry_.pop_front(count - got);
    got += take_range(r, count - got, out);
    if (consumed_to_ < r.end) retry_.insert(id_range{consumed_to_, r.end});  // what it did not reach goes back
  }
  switch (policy_->order()) {
    case queue_order::by_id:
      if (got < count && cursor_ < total_) {
        got += take_range(id_range{cursor_, total_}, count - got, out, skip::adopted);
        cursor_ = consumed_to_;
      }
      break;
    case queue_order::by_cost:
      while (got < count && cursor_ < order_.size()) {
        const auto id = order_[cursor_++];
        if (done_.contains(id) || adopted_.contains(id)) continue;
        push_id(out, id);
        ++got;
      }
      break;
    case queue_order::static_blocks: {
      auto& b = workers_[static_cast<std::size_t>(w)].block;
      if (got < count && b.begin < b.end) {
        got += take_range(b, count - got, out, skip::adopted);
        b.begin = consumed_to_;
      }
      break;
    }
  }
  return got;
}

namespace {
// Partitions per second of kernel time over everything the worker finished. A cumulative mean, not a moving
// average: with widely spread partition costs (lognormal, sigma 1.5) a short window measures which partitions
// a worker happened to get, not how fast it is, and adaptive's chunk sizes would follow that noise.
double speed_of(const worker_tally& t) {
  return t.partitions > 0 && t.busy_seconds > 0 ? static_cast<double>(t.partitions) / t.busy_seconds : 0;
}
}  // namespace

double dispatcher::counted_speed(const worker& wk) {
  return wk.tally.lost ? 0 : speed_of(wk.tally);
}

double dispatcher::mean_speed() const { return speeds_counted_ ? speed_sum_ / speeds_counted_ : 0; }

// assign() reads the mean speed for every chunk, so it is kept as a running sum (a sum over the workers each time
// made every assign cost O(workers): 10^10 operations for 10^6 messages to 10^4 workers). The running sum's
// rounding is bounded by summing afresh, in worker order, once every `workers` updates (O(1) amortised).
void dispatcher::note_speed(double before, double after) {
  if (before > 0) {
    speed_sum_ -= before;
    --speeds_counted_;
  }
  if (after > 0) {
    speed_sum_ += after;
    ++speeds_counted_;
  }
  if (speeds_counted_ == 0) speed_sum_ = 0;
  if (++speed_updates_ < workers_.size()) return;
  speed_updates_ = 0;
  speed_sum_ = 0;
  speeds_counted_ = 0;
  for (const auto& wk : workers_)
    if (const double v = counted_speed(wk); v > 0) {
      speed_sum_ += v;
      ++speeds_counted_;
    }
}

std::uint64_t dispatcher::min_chunk() const {
  if (options_.fixed_chunk > 0) return options_.fixed_chunk;
  if (ema_partition_ <= 0 || ema_message_ <= 0) return 1;
  // Keep the scheduler at most half busy: P threads finishing a chunk of c partitions each t seconds need P/(c t)
  // chunks a second; each costs it m seconds, its time per message over the chunks a message takes (one, from a
  // worker; two levels: a node scheduler asks for many at once); so c >= 2 P m / t.
  const double per_chunk = ema_message_ / std::max(1.0, ema_chunks_);
  const double c = std::ceil(2.0 * total_threads_ * per_chunk / ema_partition_);
  const double cap = std::max(1.0, std::floor(static_cast<double>(unassigned_) / (2.0 * total_threads_)));
  return static_cast<std::uint64_t>(std::clamp(c, 1.0, cap));
}

std::vector<std::vector<id_range>> dispatcher::assign(rank_t worker, int chunks, clock::time_point now) {
  const int w = worker.value;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  std::vector<std::vector<id_range>> out;
  if (wk.tally.lost || wk.threads == 0) return out;
  // A splitting worker's chunk is `pieces` one-thread chunks; it asks for chunks of that many (node_pool). A
  // speculative copy is one id, so each chunk asked for stands for `pieces` copies (speculate() still fills only
  // idle threads).
  const int pieces = wk.splits ? std::max(1, wk.threads) : 1;
  if (unassigned_ == 0)
    return options_.speculation.enabled ? speculate(w, chunks * pieces, now) : out;
  const std::uint64_t floor = min_chunk();
  const std::uint64_t cap = options_.max_chunk > 0 ? std::max(options_.max_chunk, options_.fixed_chunk) : 0;
  const double speed = speed_of(wk.tally), mean = mean_speed();
  std::vector<std::uint64_t> sizes;  // the chunk's pieces
  std::uint64_t handed = 0;          // one-thread chunks handed out (pieces)
  auto lowest = std::numeric_limits<std::uint64_t>::max();  // the lowest id handed out
  const auto held_before = wk.held.size();  // the first piece handed out now is due first (the least before it)
  for (int c = 0; c < chunks && unassigned_ > 0; ++c) {
    // The policy sizes the pieces as if they were handed out one after another: what remains shrinks and what the
    // worker holds grows with each, so a guided or factoring size is the same as for one chunk per thread.
    sizes.clear();
    std::uint64_t size = 0;
    for (int k = 0; k < pieces && size < unassigned_; ++k) {
      chunk_request r;
      r.remaining = unassigned_ - size;
      r.total = total_;
      r.total_threads = total_threads_;
      r.worker_threads = wk.threads;
      r.worker_speed = speed;
      r.mean_speed = mean;
      r.min_chunk = floor;
      r.worker_unfinished = wk.unfinished + size;
      std::uint64_t piece = policy_->chunk_size(r);
      if (cap > 0) piece = std::min(piece, cap);
      piece = std::clamp<std::uint64_t>(piece, 1, unassigned_ - size);
      sizes.push_back(piece);
      size += piece;
    }
    std::vector<id_range> chunk;
    const std::uint64_t got = take(w, size, chunk);
    if (got == 0) break;  // static: this worker's block is empty
    unassigned_ -= got;
    // Held (for speculation's allowances and the prune) piece by piece, as the worker runs them: a piece's ids
    // wait behind their piece-mates on one thread, not behind the whole chunk. (The node splits evenly: the same
    // pieces when the policy sized them alike, pieces of the mean size otherwise.)
    std::size_t k = 0;
    std::uint64_t left = sizes[0];  // ids of piece k not recorded yet
    for (auto range : chunk) {
      lowest = std::min(lowest, range.begin);
      while (range.begin < range.end) {
        if (left == 0 && k + 1 < sizes.size()) left = sizes[++k];
        const auto end = left > 0 ? std::min(range.end, range.begin + left) : range.end;
        wk.held.push_back(held_chunk{id_range{range.begin, end}, now, wk.unfinished});
        wk.unfinished += end - range.begin;
        left -= std::min(left, end - range.begin);
        range.begin = end;
      }
    }
    handed += k + 1;
    ++wk.tally.chunks;
    out.push_back(std::move(chunk));
  }
  if (!out.empty()) {
    ++wk.tally.messages;
    if (options_.speculation.enabled)
      watch(w, due_key(wk.held[held_before], wk.threads), lowest);
  }
  chunks_since_note_ += handed;
  if (wk.held.size() > 256) prune(wk);
  return out;
}

double dispatcher::median_seconds() const {
  if (sample_count_ < std::max<std::uint64_t>(1, options_.speculation.min_samples)) return 0;
  if (median_at_ != sample_count_) {  // at most 1024 samples: a few microseconds
    auto copy = samples_;
    auto mid = copy.begin() + static_cast<long>(copy.size() / 2);
    std::nth_element(copy.begin(), mid, copy.end());
    median_ = *mid;
    median_at_ = sample_count_;
  }
  return median_;
}

std::vector<std::vector<id_range>> dispatcher::speculate(int w, int chunks, clock::time_point now) {
  std::vector<std::vector<id_range>> out;
  auto& wk = workers_[static_cast<std::size_t>(w)];
  // Copies go to idle threads only: queued behind the worker's own partitions a copy would rarely win.
  const auto idle = wk.unfinished >= static_cast<std::uint64_t>(wk.threads)
                        ? 0
                        : static_cast<std::uint64_t>(wk.threads) - wk.unfinished;
  const auto want = std::min<std::uint64_t>(idle, static_cast<std::uint64_t>(std::max(0, chunks)));
  const double median = median_seconds();
  if (want == 0 || median <= 0) return out;
  for (const auto& c : most_overdue(w, want, now)) {
    copied_.emplace(c.id, copy_state{c.holder, w, w});
    wk.held.push_back(held_chunk{id_range{c.id, c.id + 1}, now, wk.unfinished});
    ++wk.unfinished;
    ++wk.tally.chunks;
    ++wk.tally.copies;
    copies_.push_back(speculative_copy{partition_id{c.id}, rank_t{c.holder}, rank_t{w}, c.outstanding});
    out.push_back({id_range{c.id, c.id + 1}});
  }
  if (!out.empty()) ++wk.tally.messages;
  if (wk.held.size() > 256) prune(wk);
  return out;
}

void dispatcher::watch(int w, clock::time_point due, std::uint64_t lowest) {
  auto& wk = workers_[static_cast<std::size_t>(w)];
  if (wk.watched) {
    const auto [was_due, was_lowest] = *wk.watched;
    if (was_due <= due && was_lowest <= lowest) return;
    holders_.erase({was_due, was_lowest, w});
    due = std::min(due, was_due);
    lowest = std::min(lowest, was_lowest);
  }
  wk.watched = {due, lowest};
  holders_.emplace(due, lowest, w);
}

dispatcher::clock::time_point dispatcher::due_key(const held_chunk& c, int threads) const {
  const auto& o = options_.speculation;
  const double before = static_cast<double>(c.ahead) / std::max(1, threads);
  const double wait = std::max(o.floor_seconds, o.factor * before * due_mean_);
  // Truncated: never later than the time it stands for.
  return c.since + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait));
}

std::optional<std::pair<dispatcher::clock::time_point, std::uint64_t>> dispatcher::place_of(const worker& wk) const {
  std::optional<std::pair<clock::time_point, std::uint64_t>> place;
  for (const auto& c : wk.held)
    if (const auto id = first_candidate(c.range, c.range.begin); id < c.range.end) {
      const auto due = due_key(c, wk.threads);
      place = place ? std::pair{std::min(place->first, due), std::min(place->second, id)} : std::pair{due, id};
    }
  return place;
}

void dispatcher::rekey_holders(double mean) {
  due_mean_ = mean;
  holders_.clear();
  for (std::size_t h = 0; h < workers_.size(); ++h) {
    auto& wk = workers_[h];
    if (!wk.watched) continue;
    prune(wk);
    wk.watched = place_of(wk);
    if (wk.watched) holders_.emplace(wk.watched->first, wk.watched->second, static_cast<int>(h));
  }
}

std::uint64_t dispatcher::first_candidate(id_range r, std::uint64_t from) const {
  for (auto id = from;; ++id) {
    id = done_.next_absent(id);
    if (id >= r.end) return r.end;
    if (copied_.empty() || copied_.count(id) == 0) return id;
  }
}

std::vector<dispatcher::overdue_partition> dispatcher::most_overdue(int w, std::uint64_t want, clock::time_point now) {
  std::vector<overdue_partition> best;  // a heap of at most `want`, the least overdue of them on top
  if (want == 0) return best;
  const double median = median_seconds();
  const double mean = sample_sum_ / static_cast<double>(sample_count_);
  const auto& o = options_.speculation;
  auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  // Most overdue first; ids are distinct, so the order is total and the same whatever order the holders are met in.
  auto ahead_of = [](const overdue_partition& a, const overdue_partition& b) {
    return a.overdue != b.overdue ? a.overdue > b.overdue : a.id < b.id;
  };
  // With a finite mean >= 0 a partition's allowance (below) grows with what is queued before it, so it is never
  // below `least`, and along a chunk the first candidate is the most overdue one. A holder's place is its earliest
  // due_key(): hand-out time plus D = max(floor, factor * ahead / threads * due_mean_), due_mean_ <= mean. For a
  // candidate outstanding o = A + D (A: how long ago that key passed), outstanding / allowed is at most
  // max(1, (A + floor) / least): if D = floor, allowed >= least; otherwise allowed >= factor * median + D and
  // (A + D) / (factor * median + D) is at most 1 or falls with D. So a holder can offer nothing once A + floor <=
  // least, and nothing above (A + floor) / least: the walk over holders_, earliest first, stops there. (Otherwise
  // it looks at every holder.) Keys of queued chunks lie later by their queue: the walk passes over few of them.
  const bool bounded = std::isfinite(median) && std::isfinite(mean) && mean >= 0;
  if (bounded && mean < due_mean_) rekey_holders(mean / 2);  // keys later than the truth: rare (the mean halved)
  const double least = std::max(o.floor_seconds, o.factor * median);
  // The floor as due_key() adds it: (now - due) + floor is then exactly the outstanding time of a chunk whose key is
  // its hand-out time plus the floor, so a holder that can only tie is seen to (below).
  const auto floor = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.floor_seconds));
  for (auto it = holders_.begin(); it != holders_.end();) {
    const auto [due, lowest, h] = *it;
    const double most = seconds(now - due + floor) / least;
    if (bounded && most <= 1) break;
    if (bounded && best.size() == want) {
      if (most < best.front().overdue) break;
      if (most == best.front().overdue && lowest > best.front().id) {
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
    auto& other = workers_[static_cast<std::size_t>(h)];
    prune(other);
    // If its place is earlier than place_of() says, partitions finished (or were copied) since, and the holder is
    // met again further on in its true place (or not at all if it holds no candidate).
    const auto truth = place_of(other);
    if (truth != std::pair{due, lowest}) {
      holders_.erase(it);
      other.watched = truth;
      if (truth) holders_.emplace(truth->first, truth->second, h);
      it = holders_.upper_bound({due, lowest, h});  // its true place is later, maybe before `next`
      continue;
    }
    const double threads = std::max(1, other.threads);
    for (const auto& c : other.held) {
      const double outstanding = seconds(now - c.since);
      if (outstanding <= o.floor_seconds) continue;
      for (auto id = first_candidate(c.range, c.range.begin); id < c.range.end; id = first_candidate(c.range, id + 1)) {
        // Queued before it on the holder: its chunk-mates (run in order on one thread) and what was ahead.
        const double before = static_cast<double>(c.ahead) / threads + static_cast<double>(id - c.range.begin);
        const double allowed = std::max(o.floor_seconds, o.factor * (median + before * mean));
        if (!(outstanding > allowed)) {
          if (bounded) break;  // the rest of the chunk is allowed as long or longer
          continue;
        }
        const overdue_partition p{outstanding / allowed, id, h, outstanding};
        if (best.size() < want) {
          best.push_back(p);
          std::push_heap(best.begin(), best.end(), ahead_of);
        } else if (ahead_of(p, best.front())) {
          std::pop_heap(best.begin(), best.end(), ahead_of);
          best.back() = p;
          std::push_heap(best.begin(), best.end(), ahead_of);
        } else if (bounded) {
          break;  // the rest of the chunk comes after it
        }
      }
    }
    it = next;
  }
  std::sort_heap(best.begin(), best.end(), ahead_of);
  return best;
}

void dispatcher::prune(worker& wk) {
  while (!wk.held.empty()) {
    auto& r = wk.held.front().range;
    r.begin = std::min(r.end, done_.next_absent(r.begin));
    if (r.begin < r.end) break;
    wk.held.pop_front();
  }
}

void dispatcher::settle(int w, std::uint64_t id) {
  // Neither holder runs it for the job any more; whichever is still busy with it will be dropped.
  auto done_with = [&](int h) {
    auto& wk = workers_[static_cast<std::size_t>(h)];
    if (wk.unfinished > 0) --wk.unfinished;
  };
  done_with(w);
  if (copied_.empty()) return;  // the common case: no speculative copy was ever made
  if (const auto it = copied_.find(id); it != copied_.end())
    for (int h : {it->second.original, it->second.copy})
      if (h >= 0 && h != w) done_with(h);
}

bool dispatcher::complete(rank_t worker, partition_id partition, double seconds) {
  const int w = worker.value;
  const std::uint64_t id = partition.value;
  if (id >= total_) throw error("dispatcher: result for partition " + std::to_string(id) + " of " + std::to_string(total_));
  if (!done_.insert(id)) return false;
  ++done_count_;
  // Requeued after a loss, yet its first holder's result came (e.g. a rank that turned to the root): it no longer
  // counts as unassigned, and take() skips it in retry_ as it skips every done id.
  if (retry_.contains(id)) --unassigned_;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  settle(w, id);
  // A win also when the copy carried on as the original after its holder was lost.
  if (const auto it = copied_.empty() ? copied_.end() : copied_.find(id); it != copied_.end() && it->second.by == w) {
    ++copies_won_;
    ++wk.tally.copies_won;
  }
  ema_partition_ = ema(ema_partition_, std::max(seconds, 1e-9));
  if (samples_.size() < sample_ring) samples_.push_back(static_cast<float>(seconds));
  else samples_[sample_count_ % sample_ring] = static_cast<float>(seconds);
  ++sample_count_;
  sample_sum_ += seconds;
  // Keys made from now on assume half the mean; those made before assumed less, so they are early, not wrong, and
  // most_overdue() moves them to their place when it meets them.
  if (const double mean = sample_sum_ / static_cast<double>(sample_count_); mean > 4 * due_mean_) due_mean_ = mean / 2;
  const double speed_before = counted_speed(wk);
  ++wk.tally.partitions;
  wk.tally.busy_seconds += seconds;
  note_speed(speed_before, counted_speed(wk));
  return true;
}

std::uint64_t dispatcher::lose(rank_t worker) {
  const int w = worker.value;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  if (wk.tally.lost) return 0;
  if (wk.watched) holders_.erase({wk.watched->first, wk.watched->second, w});
  wk.watched.reset();
  const double speed_before = counted_speed(wk);
  wk.tally.lost = true;
  note_speed(speed_before, 0);
  std::uint64_t n = 0;
  for (const auto& c : wk.held)
    for (auto id = c.range.begin; id < c.range.end; ++id) {
      if (done_.contains(id)) continue;
      if (const auto it = copied_.find(id); it != copied_.end()) {
        auto& st = it->second;
        if (st.copy == w) {  // the original still runs on its holder
          st.copy = -1;
          continue;
        }
        if (st.copy >= 0) {  // w ran the original: the copy carries on as the original
          st.original = st.copy;
          st.copy = -1;
          continue;
        }
        st.original = -1;  // nobody runs it any more
      }
      if (retry_.insert(id)) {
        ++unassigned_;
        ++n;
      }
    }
  wk.held.clear();
  wk.unfinished = 0;
  // Its static block, if any, goes to whoever asks next (those ids were counted as unassigned all along; take()
  // skips the done ones).
  retry_.insert(wk.block);
  wk.block = {};
  return n;
}

bool dispatcher::adopt(rank_t worker, int threads) {
  auto& wk = workers_.at(static_cast<std::size_t>(worker.value));
  if (wk.tally.lost || wk.threads > 0 || threads <= 0) return false;
  wk.threads = threads;
  total_threads_ += threads;
  return true;
}

void dispatcher::note_message_cost(double seconds) {
  ema_message_ = ema(ema_message_, seconds);
  ema_chunks_ = ema(ema_chunks_, static_cast<double>(std::exchange(chunks_since_note_, 0)));
}

}  // namespace partita
