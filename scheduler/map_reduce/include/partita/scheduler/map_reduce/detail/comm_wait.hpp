#pragma once
/// How a communication thread waits for the next thing to do without taking CPU from the kernels beside it.

#include <chrono>
#include <optional>

#include <partita/runtime/transport.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>

namespace partita::detail {

/// Waits for either a message or news from the local executor (results, a finished chunk, a failure).
///
/// With no kernel in flight nothing competes for the core, so it waits as transport::wait does (spin, yield,
/// then short sleeps: the lowest latency). While kernels run it never spins: it probes for a message once and
/// then sleeps on the executor's condition variable, which the kernels signal when they publish results, for a
/// nap that doubles from `min_nap` while nothing arrives, up to a cap of a quarter of the mean chunk time bounded
/// to [min_nap, max_nap] (a message must not wait longer than the prefetched work lasts). A message that arrives
/// or an answer the caller expects (expect_answer) brings the nap back to `min_nap`. docs/design.md, "Framework
/// threads". Not thread-safe: the communication thread's.
class comm_waiter {
 public:
  static constexpr std::chrono::microseconds min_nap{20};
  static constexpr std::chrono::microseconds max_nap{5000};

  /// `exec` may be null (a dedicated scheduler).
  comm_waiter(transport<msg>& tp, executor* exec) : tp_(tp), exec_(exec) {}

  /// A message, or nullopt when `timeout` passed or the executor has news.
  std::optional<message<msg>> wait(std::chrono::nanoseconds timeout);

  /// The caller sent a request: poll quickly for its answer.
  void expect_answer() noexcept { nap_ = min_nap; }

 private:
  std::chrono::nanoseconds cap() const noexcept;

  transport<msg>& tp_;
  executor* exec_;
  std::chrono::nanoseconds nap_ = min_nap;
};

}  // namespace partita::detail
