#include <partita/scheduler/map_reduce/policy.hpp>

#include <algorithm>
#include <cmath>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return b == 0 ? a : (a + b - 1) / b; }

// A worker may hold (queued or running) one chunk of `per_thread` partitions per thread. Workers keep extra
// chunks queued (prefetch); the classic formulas (R/P, R/2P) assume one chunk per thread, so without this
// limit each worker's first request takes several of the largest chunks and the job ends on whoever got
// them. Beyond its share a worker gets the floor: enough to cover the dispatch latency, nothing more.
std::uint64_t within_share(std::uint64_t per_thread, const chunk_request& r) {
  const std::uint64_t floor = std::max<std::uint64_t>(r.min_chunk, 1);
  const std::uint64_t share = per_thread * static_cast<std::uint64_t>(std::max(r.worker_threads, 1));
  if (r.worker_unfinished >= share) return floor;
  return std::max(std::min(per_thread, share - r.worker_unfinished), floor);
}

// Static: the dispatcher hands each worker its own block; a chunk is one thread's share of it.
class static_policy final : public policy {
 public:
  std::string_view name() const override { return "static"; }
  queue_order order() const override { return queue_order::static_blocks; }
  std::uint64_t chunk_size(const chunk_request& r) override {
    return ceil_div(r.total, static_cast<std::uint64_t>(r.total_threads));
  }
};

// Self-scheduling with a fixed chunk (--chunk), or the measured floor when none is given.
class dynamic_policy final : public policy {
 public:
  explicit dynamic_policy(std::uint64_t chunk) : chunk_(chunk) {}
  std::string_view name() const override { return "dynamic"; }
  std::uint64_t chunk_size(const chunk_request& r) override { return std::max(chunk_, r.min_chunk); }

 private:
  std::uint64_t chunk_;
};

// Guided self-scheduling: remaining / P, shrinking as the job drains.
class guided_policy final : public policy {
 public:
  std::string_view name() const override { return "guided"; }
  std::uint64_t chunk_size(const chunk_request& r) override {
    return within_share(ceil_div(r.remaining, static_cast<std::uint64_t>(r.total_threads)), r);
  }
};

// Factoring (Hummel, Schonberg, Flynn 1992): batches of P equal chunks, each batch half of what remains.
class factoring_policy final : public policy {
 public:
  std::string_view name() const override { return "factoring"; }
  std::uint64_t chunk_size(const chunk_request& r) override {
    if (left_in_batch_ == 0) {
      chunk_ = ceil_div(r.remaining, 2ull * static_cast<std::uint64_t>(r.total_threads));
      left_in_batch_ = r.total_threads;
    }
    const auto c = within_share(chunk_, r);
    if (c >= chunk_) --left_in_batch_;  // a prefetch chunk at the floor is not one of the batch's P chunks
    return c;
  }

 private:
  std::uint64_t chunk_ = 1;
  int left_in_batch_ = 0;
};

// Adaptive weighted factoring (Banicescu & Velusamy; AWF-C): a factoring chunk scaled by the worker's
// measured speed relative to the mean, recomputed for every chunk.
class adaptive_policy final : public policy {
 public:
  std::string_view name() const override { return "adaptive"; }
  std::uint64_t chunk_size(const chunk_request& r) override {
    const double base = static_cast<double>(r.remaining) / (2.0 * r.total_threads);
    double weight = 1.0;
    if (r.worker_speed > 0 && r.mean_speed > 0) weight = std::clamp(r.worker_speed / r.mean_speed, 0.25, 4.0);
    const auto c = static_cast<std::uint64_t>(std::ceil(base * weight));
    return within_share(std::max<std::uint64_t>(c, 1), r);
  }
};

// Longest processing time first: the queue is ordered by cost; chunks stay small so the tail is short.
class cost_policy final : public policy {
 public:
  std::string_view name() const override { return "cost"; }
  queue_order order() const override { return queue_order::by_cost; }
  std::uint64_t chunk_size(const chunk_request& r) override {
    // Small chunks of the longest partitions first, growing only when dispatch cost demands it.
    return std::max<std::uint64_t>(r.min_chunk, 1);
  }
};

}  // namespace

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names{"static", "dynamic", "guided", "factoring", "adaptive", "cost"};
  return names;
}

std::string_view policy_description(std::string_view name) {
  if (name == "static") return "one contiguous block per worker thread, no balancing (the baseline)";
  if (name == "dynamic") return "self-scheduling: fixed chunks (--chunk) or chunks sized from measured dispatch cost";
  if (name == "guided") return "guided self-scheduling: chunks of remaining/P, shrinking";
  if (name == "factoring") return "factoring: batches of P equal chunks, each batch half of what remains";
  if (name == "adaptive") return "adaptive weighted factoring: factoring chunks scaled by each worker's measured speed";
  if (name == "cost") return "longest partitions first, from measured costs (previous run) or cost hints";
  return "";
}

std::unique_ptr<policy> make_policy(std::string_view name, std::uint64_t fixed_chunk) {
  if (name == "static") return std::make_unique<static_policy>();
  if (name == "dynamic") return std::make_unique<dynamic_policy>(std::max<std::uint64_t>(fixed_chunk, 1));
  if (name == "guided") return std::make_unique<guided_policy>();
  if (name == "factoring") return std::make_unique<factoring_policy>();
  if (name == "adaptive") return std::make_unique<adaptive_policy>();
  if (name == "cost") return std::make_unique<cost_policy>();
  std::string all;
  for (const auto& n : policy_names()) all += (all.empty() ? "" : ", ") + n;
  throw usage_error("unknown policy '" + std::string(name) + "'; use one of: " + all);
}

}  // namespace partita
