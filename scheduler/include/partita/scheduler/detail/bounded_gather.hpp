#pragma once
/// "Send to the live ranks, then gather their replies until a deadline": the one bounded gather of the drivers.

#include <chrono>
#include <optional>
#include <vector>

#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

/// One bounded gather over `transport<Tag>`: ask() sends to a rank and awaits its answer, tell() sends without
/// awaiting one; run() then hands every message that arrives to the caller until each awaited rank answered (or
/// was given up) or the deadline passed. What counts as an answer is the caller's to say (answered()): an abort's
/// acknowledgement, a worker's figures, a survivor's report. Never blocks past the deadline by more than one poll.
/// Single-threaded; holds a reference to the transport (a view: not copyable).
template <class Tag>
class bounded_gather {
 public:
  /// A gather over ranks 0 .. ranks-1 of `tp`'s communicator.
  bounded_gather(transport<Tag>& tp, int ranks) : tp_(tp), awaited_(static_cast<std::size_t>(ranks), false) {}
  bounded_gather(const bounded_gather&) = delete;
  bounded_gather& operator=(const bounded_gather&) = delete;

  /// Sends `payload` to `r` and awaits its answer.
  void ask(rank_t r, Tag tag, bytes payload) {
    tp_.send_bytes(r, tag, std::move(payload));
    await(r);
  }
  /// Sends `payload` to `r` without awaiting an answer.
  void tell(rank_t r, Tag tag, bytes payload) { tp_.send_bytes(r, tag, std::move(payload)); }
  /// Awaits an answer from `r` (sent to already).
  void await(rank_t r) {
    auto&& a = awaited_.at(static_cast<std::size_t>(r.value));
    if (!a) ++waiting_;
    a = true;
  }
  /// `r` answered, or is given up (lost, silent): it is no longer awaited.
  void answered(rank_t r) {
    auto&& a = awaited_.at(static_cast<std::size_t>(r.value));
    if (a) --waiting_;
    a = false;
  }
  /// Whether an answer from `r` is still awaited.
  bool awaited(rank_t r) const { return awaited_.at(static_cast<std::size_t>(r.value)); }
  /// How many ranks have not answered.
  int waiting() const noexcept { return waiting_; }

  /// Until every awaited rank answered (and `more()` is false), or until `deadline`: calls `round()` (it may give
  /// up on ranks or ask more), waits up to `poll` for a message and hands it to `on_message(message<Tag>&)`.
  /// Returns how many ranks never answered.
  template <class OnMessage, class Round, class More>
  int run(clock::time_point deadline, std::chrono::milliseconds poll, OnMessage&& on_message, Round&& round,
          More&& more) {
    while ((waiting_ > 0 || more()) && clock::now() < deadline) {
      round();
      auto m = tp_.wait(poll);
      if (m) on_message(*m);
    }
    return waiting_;
  }
  /// run() with nothing to do between messages.
  template <class OnMessage>
  int run(clock::time_point deadline, std::chrono::milliseconds poll, OnMessage&& on_message) {
    return run(
        deadline, poll, std::forward<OnMessage>(on_message), [] {}, [] { return false; });
  }

 private:
  transport<Tag>& tp_;
  std::vector<bool> awaited_;
  int waiting_ = 0;
};

}  // namespace partita::detail
