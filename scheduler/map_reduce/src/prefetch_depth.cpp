#include <partita/scheduler/map_reduce/detail/prefetch_depth.hpp>

#include <algorithm>
#include <cmath>

namespace partita::detail {

prefetch_depth::prefetch_depth(int threads, int prefetch)
    : threads_(std::max(1, threads)), prefetch_(std::max(0, prefetch)) {}

double prefetch_depth::round_trip() const noexcept { return samples_ > 0 ? std::min(previous_min_, current_min_) : 0; }

int prefetch_depth::target(double chunk_seconds) const noexcept {
  const double rtt = round_trip();
  if (samples_ < static_cast<std::uint64_t>(window) || rtt <= 0 || chunk_seconds <= 0) return base();
  // Chunks the threads finish while a request travels: the queue must hold that many beyond the running ones.
  const double during = std::ceil(static_cast<double>(threads_) * rtt / chunk_seconds);
  const double need = static_cast<double>(threads_) + during;
  return static_cast<int>(std::clamp(need, static_cast<double>(base()),
                                     static_cast<double>(max_target(chunk_seconds))));
}

int prefetch_depth::max_target(double chunk_seconds) const noexcept {
  const int bound = 4 * base();
  if (chunk_seconds <= 0) return bound;
  // At most that much work (the epsilon: 50e-6 / 1e-6 is 50.000000000000007 in doubles).
  const double tiny = std::floor(static_cast<double>(threads_) * tiny_queue_seconds / chunk_seconds + 1e-9);
  return static_cast<int>(std::clamp(tiny, static_cast<double>(bound), static_cast<double>(tiny_max_factor * base())));
}

void prefetch_depth::asked(double at, std::uint32_t want) {
  if (want > 0) asked_.push_back(request{at, want, false});
}

void prefetch_depth::answered(double at, std::uint32_t answers) {
  while (answers > 0 && !asked_.empty()) {
    auto& r = asked_.front();
    if (!r.sampled) {
      r.sampled = true;
      const double sample = std::max(0.0, at - r.at);
      if (in_current_ == window) {  // a new window; the one before still counts until this one is full
        previous_min_ = current_min_;
        in_current_ = 0;
      }
      current_min_ = in_current_ == 0 ? sample : std::min(current_min_, sample);
      ++in_current_;
      ++samples_;
    }
    const auto take = std::min(answers, r.left);
    r.left -= take;
    answers -= take;
    if (r.left == 0) asked_.pop_front();
  }
}

}  // namespace partita::detail
