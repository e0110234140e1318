#include <partita/scheduler/dispatcher.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

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
  done_ = options_.done.empty() ? std::vector<bool>(total_, false) : options_.done;
  if (done_.size() != total_) throw error("dispatcher: done set has the wrong size");
  done_count_ = static_cast<std::uint64_t>(std::count(done_.begin(), done_.end(), true));
  unassigned_ = total_ - done_count_;
  costs_.assign(total_, std::nanf(""));
  if (options_.costs.size() == total_) costs_ = options_.costs;
  queued_.assign(total_, false);

  if (policy_->order() == queue_order::by_cost) {
    order_.reserve(unassigned_);
    for (std::uint64_t i = 0; i < total_; ++i)
      if (!done_[i]) order_.push_back(i);
    auto key = [&](std::uint64_t i) { return std::isnan(costs_[i]) ? 0.0f : costs_[i]; };
    std::stable_sort(order_.begin(), order_.end(), [&](auto a, auto b) { return key(a) > key(b); });
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

void dispatcher::push_id(std::vector<id_range>& out, std::uint64_t id) {
  if (!out.empty() && out.back().end == id) ++out.back().end;
  else out.push_back(id_range{id, id + 1});
}

std::uint64_t dispatcher::take(int w, std::uint64_t count, std::vector<id_range>& out) {
  std::uint64_t got = 0;
  while (got < count && !retry_.empty()) {
    const auto id = retry_.front();
    retry_.pop_front();
    queued_[id] = false;
    if (done_[id]) continue;
    push_id(out, id);
    ++got;
  }
  switch (policy_->order()) {
    case queue_order::by_id:
      while (got < count && cursor_ < total_) {
        if (!done_[cursor_]) {
          // Take a whole run of not-done ids at once (the common case: one range per chunk).
          std::uint64_t end = cursor_;
          while (end < total_ && got + (end - cursor_) < count && !done_[end]) ++end;
          out.push_back(id_range{cursor_, end});
          got += end - cursor_;
          cursor_ = end;
        } else {
          ++cursor_;
        }
      }
      break;
    case queue_order::by_cost:
      while (got < count && cursor_ < order_.size()) {
        const auto id = order_[cursor_++];
        if (done_[id]) continue;
        push_id(out, id);
        ++got;
      }
      break;
    case queue_order::static_blocks: {
      auto& b = workers_[static_cast<std::size_t>(w)].block;
      while (got < count && b.begin < b.end) {
        if (!done_[b.begin]) {
          push_id(out, b.begin);
          ++got;
        }
        ++b.begin;
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

double dispatcher::mean_speed() const {
  double sum = 0;
  int n = 0;
  for (const auto& wk : workers_)
    if (const double v = speed_of(wk.tally); !wk.tally.lost && v > 0) {
      sum += v;
      ++n;
    }
  return n ? sum / n : 0;
}

std::uint64_t dispatcher::min_chunk() const {
  if (options_.fixed_chunk > 0) return options_.fixed_chunk;
  if (ema_partition_ <= 0 || ema_message_ <= 0) return 1;
  // Keep the scheduler at most half busy: P threads finishing a chunk of c partitions each t seconds send
  // P/(c t) messages a second; each costs it m seconds; so c >= 2 P m / t.
  const double c = std::ceil(2.0 * total_threads_ * ema_message_ / ema_partition_);
  const double cap = std::max(1.0, std::floor(static_cast<double>(unassigned_) / (2.0 * total_threads_)));
  return static_cast<std::uint64_t>(std::clamp(c, 1.0, cap));
}

std::vector<std::vector<id_range>> dispatcher::assign(int w, int chunks) {
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  std::vector<std::vector<id_range>> out;
  if (wk.tally.lost || wk.threads == 0) return out;
  const std::uint64_t floor = min_chunk();
  const double speed = speed_of(wk.tally), mean = mean_speed();
  for (int c = 0; c < chunks && unassigned_ > 0; ++c) {
    chunk_request r;
    r.remaining = unassigned_;
    r.total = total_;
    r.total_threads = total_threads_;
    r.worker_threads = wk.threads;
    r.worker_speed = speed;
    r.mean_speed = mean;
    r.min_chunk = floor;
    r.worker_unfinished = wk.unfinished;
    const std::uint64_t size = std::clamp<std::uint64_t>(policy_->chunk_size(r), 1, unassigned_);
    std::vector<id_range> chunk;
    const std::uint64_t got = take(w, size, chunk);
    if (got == 0) break;  // static: this worker's block is empty
    unassigned_ -= got;
    wk.unfinished += got;
    for (const auto& range : chunk) wk.held.push_back(range);
    ++wk.tally.chunks;
    out.push_back(std::move(chunk));
  }
  if (!out.empty()) ++wk.tally.messages;
  if (wk.held.size() > 256) prune(wk);
  return out;
}

void dispatcher::prune(worker& wk) {
  while (!wk.held.empty()) {
    auto& r = wk.held.front();
    while (r.begin < r.end && done_[r.begin]) ++r.begin;
    if (r.begin < r.end) break;
    wk.held.pop_front();
  }
}

bool dispatcher::complete(int w, std::uint64_t id, double seconds) {
  if (id >= total_) throw error("dispatcher: result for partition " + std::to_string(id) + " of " + std::to_string(total_));
  if (done_[id]) return false;
  done_[id] = true;
  ++done_count_;
  costs_[id] = static_cast<float>(seconds);
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  if (wk.unfinished > 0) --wk.unfinished;
  ema_partition_ = ema(ema_partition_, std::max(seconds, 1e-9));
  ++wk.tally.partitions;
  wk.tally.busy_seconds += seconds;
  return true;
}

std::uint64_t dispatcher::lose(int w) {
  auto& wk = workers_.at(static_cast<std::size_t>(w));
  if (wk.tally.lost) return 0;
  wk.tally.lost = true;
  std::uint64_t n = 0;
  for (const auto& r : wk.held)
    for (auto id = r.begin; id < r.end; ++id)
      if (!done_[id] && !queued_[id]) {
        retry_.push_back(id);
        queued_[id] = true;
        ++n;
      }
  wk.held.clear();
  wk.unfinished = 0;
  // Its static block, if any, goes to whoever asks next.
  for (auto id = wk.block.begin; id < wk.block.end; ++id)
    if (!done_[id] && !queued_[id]) {
      retry_.push_back(id);
      queued_[id] = true;
    }
  wk.block = {};
  // Re-count what is left to hand out: requeued ids plus whatever never left the queue.
  std::uint64_t held_elsewhere = 0;
  for (const auto& other : workers_)
    for (const auto& r : other.held)
      for (auto id = r.begin; id < r.end; ++id) held_elsewhere += done_[id] ? 0 : 1;
  unassigned_ = total_ - done_count_ - held_elsewhere;
  return n;
}

void dispatcher::note_message_cost(double seconds) { ema_message_ = ema(ema_message_, seconds); }

}  // namespace partita
