#pragma once
/// The failure a parallel phase of an iterative run reports: of the partitions whose kernel threw, the one with the
/// lowest id, so that every run of the same job tells the same one however the threads raced.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace partita::detail {

/// Thread-safe to note(); read it after the parallel phase. Non-copyable.
class first_failure {
 public:
  /// Notes that partition `id` failed with `what`; kept if no lower id failed.
  void note(std::uint64_t id, std::string what) {
    std::lock_guard lock(mutex_);
    if (!first_ || id < first_->first) first_.emplace(id, std::move(what));
  }
  explicit operator bool() const noexcept { return first_.has_value(); }
  /// The failed partition and its message; only when one failed.
  std::uint64_t partition() const { return first_.value().first; }
  const std::string& what() const { return first_.value().second; }

 private:
  std::mutex mutex_;
  std::optional<std::pair<std::uint64_t, std::string>> first_;
};

}  // namespace partita::detail
