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
    : total_(partitions), policy_(std::move(p)), options_(std::move(options)),
      watch_(options_.speculation, threads.size()) {
  if (threads.empty()) throw error("dispatcher: no workers");
  workers_.resize(threads.size());
  for (std::size_t w = 0; w < threads.size(); ++w) {
    workers_[w].threads = std::max(0, threads[w]);  // 0: a dedicated scheduler, never assigned work
    total_threads_ += workers_[w].threads;
  }
  if (total_threads_ == 0) throw error("dispatcher: no worker has a thread to run partitions on");
  for (int w : options_.splitting) workers_.at(static_cast<std::size_t>(w)).splits = true;
  done_ = std::move(options_.done);
  if (!done_.empty() && done_.ranges().back().end > total_)
    throw error("dispatcher: done set has ids past the last partition");
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
      if (!chunk.empty()) watch_.watch(w, wk.held[wk.held.size() - chunk.size()], wk.threads, lowest);
    }
    options_.held.clear();
  }
  if (!(options_.speculation.factor > 0)) throw error("dispatcher: the speculation factor must be positive");
  // Static is the baseline without balancing: each worker runs its own block.
  if (policy_->order() == queue_order::static_blocks) options_.take_back = false;

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
                                  "--policy adaptive (or split the job)",
                                  workers, cost_policy_limit, partitions));
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

double dispatcher::counted_speed(const worker& wk) { return wk.tally.lost ? 0 : speed_of(wk.tally); }

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

namespace {
// The policy sizes the pieces of a chunk as if they were handed out one after another: what remains (of
// `unassigned`) shrinks and what the worker holds (`unfinished` before) grows with each, so a guided or factoring
// size is the same as for one chunk per thread. Returns the chunk's size, its pieces' in `sizes`.
std::uint64_t size_pieces(policy& p, chunk_request r, std::uint64_t unassigned, std::uint64_t unfinished, int pieces,
                          std::uint64_t cap, std::vector<std::uint64_t>& sizes) {
  sizes.clear();
  std::uint64_t size = 0;
  for (int k = 0; k < pieces && size < unassigned; ++k) {
    r.remaining = unassigned - size;
    r.worker_unfinished = unfinished + size;
    std::uint64_t piece = p.chunk_size(r);
    if (cap > 0) piece = std::min(piece, cap);
    piece = std::clamp<std::uint64_t>(piece, 1, unassigned - size);
    sizes.push_back(piece);
    size += piece;
  }
  return size;
}

// Records `chunk` as held (for speculation's allowances and the prune) piece by piece, as the worker runs them: a
// piece's ids wait behind their piece-mates on one thread, not behind the whole chunk. (The node splits evenly: the
// same pieces when the policy sized them alike, pieces of the mean size otherwise.) Returns how many pieces.
std::size_t hold_pieces(std::deque<detail::held_chunk>& held, std::uint64_t& unfinished,
                        const std::vector<id_range>& chunk, const std::vector<std::uint64_t>& sizes,
                        dispatcher::clock::time_point now, std::uint64_t& lowest) {
  std::size_t k = 0;
  std::uint64_t left = sizes[0];  // ids of piece k not recorded yet
  for (auto range : chunk) {
    lowest = std::min(lowest, range.begin);
    while (range.begin < range.end) {
      if (left == 0 && k + 1 < sizes.size()) left = sizes[++k];
      const auto end = left > 0 ? std::min(range.end, range.begin + left) : range.end;
      held.push_back(detail::held_chunk{id_range{range.begin, end}, now, unfinished});
      unfinished += end - range.begin;
      left -= std::min(left, end - range.begin);
      range.begin = end;
    }
  }
  return k + 1;
}
}  // namespace

std::vector<std::vector<id_range>> dispatcher::assign(rank_t worker, int chunks, clock::time_point now) {
  const int w = worker.value;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  std::vector<std::vector<id_range>> out;
  if (wk.tally.lost || wk.threads == 0) return out;
  // A splitting worker's chunk is `pieces` one-thread chunks; it asks for chunks of that many (node_pool). A
  // speculative copy is one id, so each chunk asked for stands for `pieces` copies (speculate() still fills only
  // idle threads).
  const int pieces = wk.splits ? std::max(1, wk.threads) : 1;
  if (unassigned_ == 0) {
    if (options_.take_back && !wk.splits)
      if (auto back = take_back_for(w, now); !back.empty()) return back;
    return options_.speculation.enabled ? speculate(w, chunks * pieces, now) : out;
  }
  chunk_request request;  // what stays the same for every piece of this call
  request.total = total_;
  request.total_threads = total_threads_;
  request.worker_threads = wk.threads;
  request.worker_speed = speed_of(wk.tally);
  request.mean_speed = mean_speed();
  request.min_chunk = min_chunk();
  const std::uint64_t cap = options_.max_chunk > 0 ? std::max(options_.max_chunk, options_.fixed_chunk) : 0;
  std::vector<std::uint64_t> sizes;                         // the chunk's pieces
  std::uint64_t handed = 0;                                 // one-thread chunks handed out (pieces)
  auto lowest = std::numeric_limits<std::uint64_t>::max();  // the lowest id handed out
  const auto held_before = wk.held.size();  // the first piece handed out now is due first (the least before it)
  for (int c = 0; c < chunks && unassigned_ > 0; ++c) {
    std::uint64_t size = size_pieces(*policy_, request, unassigned_, wk.unfinished, pieces, cap, sizes);
    if (wk.splits) size = block_aligned(size);
    std::vector<id_range> chunk;
    const std::uint64_t got = take(w, size, chunk);
    if (got == 0) break;  // static: this worker's block is empty
    unassigned_ -= got;
    handed += hold_pieces(wk.held, wk.unfinished, chunk, sizes, now, lowest);
    ++wk.tally.chunks;
    out.push_back(std::move(chunk));
  }
  if (!out.empty()) {
    ++wk.tally.messages;
    watch_.watch(w, wk.held[held_before], wk.threads, lowest);
  }
  chunks_since_note_ += handed;
  if (wk.held.size() > 256) detail::prune_done(wk.held, done_);
  return out;
}

std::uint64_t dispatcher::block_aligned(std::uint64_t size) const {
  const std::uint64_t b = options_.fold_block;
  if (b <= 1 || size < b || !retry_.empty() || policy_->order() != queue_order::by_id) return size;
  const std::uint64_t end = std::min(total_, (cursor_ + size + b / 2) / b * b);  // the nearest block boundary
  return end > cursor_ ? end - cursor_ : size;
}

double dispatcher::median_seconds() const { return watch_.median_seconds(); }

class dispatcher::holdings_view final : public detail::holdings {
 public:
  explicit holdings_view(dispatcher& d) : d_(d) {}
  const id_set& done() const override { return d_.done_; }
  int threads(int h) const override { return d_.workers_[static_cast<std::size_t>(h)].threads; }
  const std::deque<held_chunk>& chunks(int h) override {
    auto& wk = d_.workers_[static_cast<std::size_t>(h)];
    detail::prune_done(wk.held, d_.done_);
    return wk.held;
  }

 private:
  dispatcher& d_;
};

std::vector<std::vector<id_range>> dispatcher::speculate(int w, int chunks, clock::time_point now) {
  std::vector<std::vector<id_range>> out;
  auto& wk = workers_[static_cast<std::size_t>(w)];
  // Copies go to idle threads only: queued behind the worker's own partitions a copy would rarely win.
  const auto idle = wk.unfinished >= static_cast<std::uint64_t>(wk.threads)
                        ? 0
                        : static_cast<std::uint64_t>(wk.threads) - wk.unfinished;
  const auto want = std::min<std::uint64_t>(idle, static_cast<std::uint64_t>(std::max(0, chunks)));
  if (want == 0 || watch_.median_seconds() <= 0) return out;
  holdings_view of(*this);
  for (const auto& c : watch_.copy_for(w, want, now, of)) {
    const auto id = c.id.value;
    wk.held.push_back(held_chunk{id_range{id, id + 1}, now, wk.unfinished});
    ++wk.unfinished;
    ++wk.tally.chunks;
    ++wk.tally.copies;
    out.push_back({id_range{id, id + 1}});
  }
  if (!out.empty()) ++wk.tally.messages;
  if (wk.held.size() > 256) detail::prune_done(wk.held, done_);
  return out;
}

std::vector<std::vector<id_range>> dispatcher::take_back_for(int w, clock::time_point now) {
  std::vector<std::vector<id_range>> out;
  auto& wk = workers_[static_cast<std::size_t>(w)];
  if (wk.unfinished >= static_cast<std::uint64_t>(wk.threads)) return out;  // no idle thread
  if (!backlogs_known_) {  // once per tail: who held more than its threads could run when the queue ran dry
    backlogs_.clear();
    for (std::size_t h = 0; h < workers_.size(); ++h) {
      const auto& hk = workers_[h];
      if (!hk.splits && hk.threads > 0 && hk.unfinished > static_cast<std::uint64_t>(hk.threads))
        backlogs_.push_back(static_cast<int>(h));
    }
    backlogs_known_ = true;
  }
  // The largest backlog in time: partitions queued beyond its threads, at its own measured time per partition. A
  // worker whose backlog is gone leaves the list (in the tail backlogs only shrink, except a taker's).
  auto per_partition = [&](const worker& hk) {
    return hk.tally.partitions > 0 ? hk.tally.busy_seconds / static_cast<double>(hk.tally.partitions) : ema_partition_;
  };
  int from = -1;
  double most = 0, from_per = 0;  // the largest backlog's time, and its holder's time per partition
  for (std::size_t i = 0; i < backlogs_.size();) {
    const int h = backlogs_[i];
    const auto& hk = workers_[static_cast<std::size_t>(h)];
    if (hk.tally.lost || hk.unfinished <= static_cast<std::uint64_t>(hk.threads)) {
      backlogs_[i] = backlogs_.back();
      backlogs_.pop_back();
      continue;
    }
    const double per = per_partition(hk);
    const double t = detail::backlog_seconds(hk.unfinished, hk.threads, per);
    if (h != w && t > most) {
      most = t;
      from = h;
      from_per = per;
    }
    ++i;
  }
  if (from < 0) return out;
  auto& hk = workers_[static_cast<std::size_t>(from)];
  const auto tw = static_cast<std::uint64_t>(wk.threads);
  const auto share = detail::take_back_share(hk.unfinished, hk.threads, tw);
  if (static_cast<double>(share) * from_per < options_.take_back_min_seconds) return out;
  auto ids = cut_tail(hk.held, share);
  if (ids.empty()) return out;
  std::uint64_t n = 0;
  for (const auto& r : ids) {
    for (auto id = r.begin; id < r.end; ++id) taken_[id] = taken_id{from, w};
    wk.held.push_back(held_chunk{r, now, wk.unfinished + n});
    n += r.size();
  }
  hk.unfinished -= std::min(hk.unfinished, n);
  watch_.watch(w, wk.held[wk.held.size() - ids.size()], wk.threads, ids.front().begin);
  wk.unfinished += n;
  wk.tally.taken += n;
  ++wk.tally.chunks;
  ++wk.tally.messages;
  if (wk.unfinished > tw) backlogs_.push_back(w);  // the loop above removed it (it had an idle thread)
  ++take_back_count_;
  taken_back_ += n;
  take_backs_.push_back(take_back{rank_t{from}, rank_t{w}, ids});
  out.push_back(std::move(ids));
  return out;
}

double detail::backlog_seconds(std::uint64_t unfinished, int threads, double per_partition_s) {
  const auto t = static_cast<std::uint64_t>(std::max(threads, 1));
  return unfinished > t ? static_cast<double>(unfinished - t) * per_partition_s / static_cast<double>(t) : 0;
}

std::uint64_t detail::take_back_share(std::uint64_t unfinished, int holder_threads, std::uint64_t taker_threads) {
  const auto hw = static_cast<std::uint64_t>(std::max(holder_threads, 1));
  if (unfinished <= hw || taker_threads == 0) return 0;
  return ((unfinished - hw) * taker_threads + hw + taker_threads - 1) / (hw + taker_threads);
}

std::vector<id_range> dispatcher::cut_tail(std::deque<held_chunk>& held, std::uint64_t count) {
  std::vector<id_range> cut;  // descending while cut
  std::uint64_t got = 0;
  bool blocked = false;  // met a copied id: what lies before it stays with the holder
  while (got < count && !blocked && !held.empty()) {
    auto& c = held.back();
    auto end = c.range.end;
    while (got < count && end > c.range.begin) {
      const auto id = end - 1;
      if (!done_.contains(id)) {
        if (watch_.copied(id)) {
          blocked = true;
          break;
        }
        if (!cut.empty() && cut.back().begin == id + 1) cut.back().begin = id;
        else cut.push_back(id_range{id, id + 1});
        ++got;
      }
      end = id;
    }
    c.range.end = end;
    if (c.range.begin < c.range.end) break;
    held.pop_back();
  }
  std::reverse(cut.begin(), cut.end());
  return cut;
}

void dispatcher::settle(int w, std::uint64_t id) {
  // Neither holder runs it for the job any more; whichever is still busy with it will be dropped.
  auto done_with = [&](int h) {
    auto& wk = workers_[static_cast<std::size_t>(h)];
    if (wk.unfinished > 0) --wk.unfinished;
  };
  bool counted = true;  // w's unfinished count holds it
  if (!taken_.empty())
    if (const auto it = taken_.find(id); it != taken_.end()) {
      const auto t = it->second;
      taken_.erase(it);
      if (t.from == w) counted = false;  // its holder ran it before it heard: its count let go when it was taken
      if (t.to != w) done_with(t.to);    // the taker's run of it is moot
    }
  if (counted) done_with(w);
  const auto copy = watch_.settle(w, id);
  for (int h : copy.others)
    if (h >= 0) done_with(h);
  if (copy.won) ++workers_[static_cast<std::size_t>(w)].tally.copies_won;
}

bool dispatcher::complete(rank_t worker, partition_id partition, double seconds) {
  const int w = worker.value;
  const std::uint64_t id = partition.value;
  if (id >= total_)
    throw error("dispatcher: result for partition " + std::to_string(id) + " of " + std::to_string(total_));
  if (!done_.insert(id)) return false;
  ++done_count_;
  // Requeued after a loss, yet its first holder's result came (e.g. a rank that turned to the root): it no longer
  // counts as unassigned, and take() skips it in retry_ as it skips every done id.
  if (retry_.contains(id)) --unassigned_;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  settle(w, id);  // and counts a won copy
  ema_partition_ = ema(ema_partition_, std::max(seconds, 1e-9));
  watch_.note_result(seconds);
  const double speed_before = counted_speed(wk);
  ++wk.tally.partitions;
  wk.tally.busy_seconds += seconds;
  note_speed(speed_before, counted_speed(wk));
  return true;
}

std::uint64_t dispatcher::complete_range(rank_t worker, id_range ids, double seconds) {
  if (ids.end > total_ || ids.begin >= ids.end)
    throw error("dispatcher: results for partitions [" + std::to_string(ids.begin) + ", " + std::to_string(ids.end) +
                ") of " + std::to_string(total_));
  const double mean = seconds / static_cast<double>(ids.size());
  // The slow path: some ids were committed before (a copy, a requeued id's other holder), requeued ids among them,
  // or speculative copies to settle: each id as complete() would take it.
  if (!fresh(ids)) {
    std::uint64_t n = 0;
    for (auto id = ids.begin; id < ids.end; ++id) n += complete(worker, partition_id{id}, mean) ? 1 : 0;
    return n;
  }
  const auto n = done_.insert(ids);
  done_count_ += n;
  auto& wk = workers_.at(static_cast<std::size_t>(worker.value));
  wk.unfinished -= std::min(wk.unfinished, n);
  ema_partition_ = ema(ema_partition_, std::max(mean, 1e-9));
  watch_.note_result(mean);
  const double speed_before = counted_speed(wk);
  wk.tally.partitions += n;
  wk.tally.busy_seconds += seconds;
  note_speed(speed_before, counted_speed(wk));
  return n;
}

bool dispatcher::fresh(id_range ids) const {
  return done_.next_present(ids.begin) >= ids.end && watch_.no_copies() && retry_.empty() && taken_.empty();
}

std::uint64_t dispatcher::lose(rank_t worker) {
  const int w = worker.value;
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  if (wk.tally.lost) return 0;
  watch_.forget(w);
  backlogs_known_ = false;  // its ids go back to the queue: the next tail starts afresh
  // What it took back goes back to the queue with the rest: no longer taken (whoever runs it next counts it).
  std::erase_if(taken_, [w](const auto& kv) { return kv.second.to == w; });
  const double speed_before = counted_speed(wk);
  wk.tally.lost = true;
  note_speed(speed_before, 0);
  std::uint64_t n = 0;
  for (const auto& c : wk.held)
    for (auto id = c.range.begin; id < c.range.end; ++id) {
      if (done_.contains(id) || watch_.runs_elsewhere(w, id)) continue;  // a copy carries on as the original
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
