#pragma once
/// Who is still there: the peer table of a job's coordinating rank, heartbeats to silent peers, and the
/// verdict on peers silent past the timeout (docs/design.md: every wait bounded, a dead rank never blocks the living).

#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

/// One entry per rank of the job; the owning rank itself is not a remote peer (never alive here). Single-threaded.
/// Value type.
class peer_table {
 public:
  struct peer {
    bool alive = true;
    clock::time_point last_heard, last_sent;
  };

  peer_table(int ranks, rank_t self);

  peer& operator[](int r) { return peers_.at(static_cast<std::size_t>(r)); }
  const peer& operator[](int r) const { return peers_.at(static_cast<std::size_t>(r)); }
  int size() const noexcept { return static_cast<int>(peers_.size()); }
  /// Notes a message from `r` (alive or not: a peer declared lost stays lost).
  void heard(rank_t r, clock::time_point at = clock::now()) { (*this)[r.value].last_heard = at; }
  void sent(rank_t r, clock::time_point at = clock::now()) { (*this)[r.value].last_sent = at; }
  bool any_alive() const;
  std::vector<bool> alive_mask() const;

  /// Sends a heartbeat (tag `beat`, empty payload) to every live peer not written to for `heartbeat_s`, and
  /// returns the live peers silent for more than `timeout_s` (the caller declares them lost). Looks at most every
  /// 0.1 s; otherwise returns nothing at once. `now`: the caller's clock read of this round.
  template <class Tag>
  std::vector<int> sweep(transport<Tag>& tp, Tag beat, double heartbeat_s, double timeout_s,
                         clock::time_point now = clock::now()) {
    std::vector<int> silent;
    if (seconds_d(now - last_sweep_).count() < 0.1) return silent;
    last_sweep_ = now;
    for (int r = 0; r < size(); ++r) {
      auto& p = (*this)[r];
      if (!p.alive) continue;
      if (seconds_d(now - p.last_heard).count() > timeout_s) {
        silent.push_back(r);
      } else if (seconds_d(now - p.last_sent).count() > heartbeat_s) {
        tp.send_bytes(rank_t{r}, beat, {});
        p.last_sent = now;
      }
    }
    return silent;
  }

 private:
  std::vector<peer> peers_;
  clock::time_point last_sweep_ = clock::now();
};

}  // namespace partita::detail
