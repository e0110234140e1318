#include <partita/scheduler/checkpoint_schedule.hpp>

#include <fmt/format.h>

#include <cmath>

#include <partita/checkpoint/interval.hpp>

namespace partita {

namespace {
double seconds(checkpoint_schedule::clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

checkpoint_schedule::checkpoint_schedule(checkpoint_triggers t, clock::time_point start)
    : t_(t), start_(start), last_(start) {
  if (t_.every_seconds > 0) interval_ = t_.every_seconds;
  if (t_.young_daly) interval_ = t_.first_after_seconds;
  // With little wall time left, the first checkpoint must come early enough to fit at all.
  if (t_.seconds_left && interval_ > 0) interval_ = std::min(interval_, std::max(0.0, *t_.seconds_left / 2));
}

double checkpoint_schedule::left(clock::time_point now) const {
  return t_.seconds_left ? *t_.seconds_left - seconds(now - start_) : INFINITY;
}

std::string checkpoint_schedule::due(std::uint64_t committed, clock::time_point now) const {
  if (t_.every_partitions > 0 && committed - committed_at_last_ >= t_.every_partitions)
    return fmt::format("{} results since the last checkpoint", committed - committed_at_last_);
  if (interval_ > 0 && seconds(now - last_) >= interval_)
    return fmt::format("{:.1f} s since the last checkpoint", seconds(now - last_));
  // The wall time is about to run out: take the last checkpoint while it still fits (twice its cost, 1 s margin).
  if (t_.seconds_left && left(now) <= 2 * cost_ + 1.0 && committed > committed_at_last_)
    return fmt::format("the wall time runs out in {:.1f} s", left(now));
  return "";
}

std::string checkpoint_schedule::taken(double cost_seconds, std::uint64_t committed, clock::time_point now) {
  last_ = now;
  committed_at_last_ = committed;
  cost_ = cost_seconds;
  if (!t_.young_daly) return "";
  std::optional<double> remaining;
  if (t_.seconds_left) remaining = left(now);
  const auto choice = young_daly_interval(cost_seconds, t_.mtti_seconds, remaining);
  const double old = interval_;
  // 0 means "checkpoint now"; the out_of_time check stops the job instead of checkpointing in a loop.
  interval_ = std::max(choice.seconds, 1e-3);
  if (std::abs(old - interval_) > 0.05 * std::max(old, 1e-9))
    return fmt::format("checkpoint interval {:.1f} s: {}", interval_, choice.reason);
  return "";
}

bool checkpoint_schedule::out_of_time(clock::time_point now) const {
  return t_.seconds_left && left(now) <= 2 * cost_ + 1.0;
}

}  // namespace partita
