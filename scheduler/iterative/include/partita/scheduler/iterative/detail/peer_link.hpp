#pragma once
/// The point-to-point messages of an iterative run (halos, migrating partitions) as an interface: MPI implements it
/// over the runtime's transport, a unit test in memory. Every wait on it is bounded by --timeout.

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/runtime/transport.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/iterative/detail/bounded_wait.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>

namespace partita::detail {

/// Sends and receives of one rank's point-to-point messages. Not thread-safe; one per run and rank.
class peer_link {
 public:
  virtual ~peer_link() = default;
  /// Sends `payload` to rank `to`. Returns at once: the link keeps the payload until it is delivered.
  virtual void send(rank_t to, iterative_tag tag, bytes payload) = 0;
  /// A message with `tag` from any rank, if one is waiting. Never blocks.
  virtual std::optional<bytes> poll(iterative_tag tag) = 0;
  /// Waits up to `timeout_seconds` for every send so far to be delivered; false if some were not.
  virtual bool flush(double timeout_seconds) = 0;
  /// Forgets the sends not yet delivered (their peer is gone).
  virtual void abandon() noexcept = 0;
};

/// peer_link over the job's communicator (runtime transport: MPI_Isend, matched-probe receives). A view of the
/// communicator, which it does not own; non-copyable. Sends still pending when it goes are abandoned (a rank that
/// rolls back must not wait for a lost peer).
class mpi_peer_link final : public peer_link {
 public:
  explicit mpi_peer_link(MPI_Comm comm) : transport_(comm) {}
  ~mpi_peer_link() override { transport_.abandon_pending(); }
  void send(rank_t to, iterative_tag tag, bytes payload) override {
    transport_.send_bytes(to, tag, std::move(payload));
  }
  std::optional<bytes> poll(iterative_tag tag) override {
    auto m = transport_.poll(tag);
    if (!m) return std::nullopt;
    return std::move(m->payload);
  }
  bool flush(double timeout_seconds) override {
    return transport_.flush(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(timeout_seconds)));
  }
  void abandon() noexcept override { transport_.abandon_pending(); }

 private:
  transport<iterative_tag> transport_;
};

/// Receives `count` messages with `tag` from any rank, each as it comes, and hands each payload to `take(bytes&)`.
/// While none is waiting it calls `idle()`, which may do a piece of other work and return true (the wait then counts
/// from after it). After `limit.timeout_seconds` of waiting without the rest it throws peer_silent(limit.step,
/// "<describe(left)> did not arrive within --timeout T s (a rank is lost or hangs)").
template <class Describe, class Take, class Idle>
void receive_each(peer_link& link, iterative_tag tag, std::size_t count, const wait_limit& limit, Describe&& describe,
                  Take&& take, Idle&& idle) {
  auto start = clock::now();
  int spins = 0;
  while (count > 0) {
    auto payload = link.poll(tag);
    if (!payload) {
      if (idle()) {
        start = clock::now();
        spins = 0;
        continue;
      }
      if (++spins > 1000) {  // spin a little for the latency, then check the clock and give the core away
        if (since(start) > limit.timeout_seconds)
          throw peer_silent(limit.step, fmt::format("{} did not arrive within --timeout {} s (a rank is lost or hangs)",
                                                    describe(count), limit.timeout_seconds));
        std::this_thread::yield();
      }
      continue;
    }
    --count;
    take(*payload);
  }
}

/// Waits for every send on `link` to be delivered; after `limit.timeout_seconds` abandons them and throws
/// peer_silent(limit.step, "<what>: no answer within --timeout T s (a rank is lost or hangs)").
inline void finish_sends(peer_link& link, const wait_limit& limit, const std::string& what) {
  if (link.flush(limit.timeout_seconds)) return;
  link.abandon();
  throw peer_silent(limit.step, fmt::format("{}: no answer within --timeout {} s (a rank is lost or hangs)", what,
                                            limit.timeout_seconds));
}

}  // namespace partita::detail
