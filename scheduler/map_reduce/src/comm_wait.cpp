#include <partita/scheduler/map_reduce/detail/comm_wait.hpp>

#include <algorithm>

namespace partita::detail {

std::chrono::nanoseconds comm_waiter::cap() const noexcept {
  const auto chunk = exec_->mean_chunk_time();
  if (chunk.count() <= 0) return max_nap;
  return std::clamp<std::chrono::nanoseconds>(chunk / 4, min_nap, max_nap);
}

std::optional<message<msg>> comm_waiter::wait(std::chrono::nanoseconds timeout) {
  if (exec_ == nullptr || exec_->in_flight() == 0) {
    auto m = tp_.wait(timeout);
    if (m) nap_ = min_nap;
    return m;
  }
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  const auto seen = exec_->events();
  for (;;) {
    if (auto m = tp_.poll()) {
      nap_ = min_nap;
      return m;
    }
    tp_.progress();
    if (exec_->events() != seen) return std::nullopt;
    const auto now = clock::now();
    if (now >= deadline) return std::nullopt;
    const auto nap = std::min<std::chrono::nanoseconds>(nap_, deadline - now);
    nap_ = std::min(nap_ * 2, cap());
    if (exec_->wait_for_event(seen, nap)) return std::nullopt;
  }
}

}  // namespace partita::detail
