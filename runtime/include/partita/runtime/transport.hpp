#pragma once
/// Typed point-to-point messages over a communicator: a scoped-enum tag, serialized payloads,
/// non-blocking sends, matched-probe receives, and waits that always have a timeout.

#include <mpi.h>

#include <chrono>
#include <deque>
#include <optional>
#include <type_traits>
#include <vector>

#include <partita/runtime/error.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita {

/// A received message: who sent it, its tag (as the enum the protocol uses), its payload.
template <class Tag>
struct message {
  rank_t source;
  Tag tag;
  bytes payload;

  template <class T>
  T as() const {
    return deserialize<T>(payload);
  }
};

namespace detail {
/// The untyped core of transport<Tag> (one compiled copy for every protocol).
class transport_core {
 public:
  explicit transport_core(MPI_Comm comm);
  ~transport_core();
  transport_core(const transport_core&) = delete;
  transport_core& operator=(const transport_core&) = delete;

  void send(int to, int tag, bytes payload);
  bool poll(int tag_or_any, int& source, int& tag, bytes& payload);
  bool wait(int tag_or_any, std::chrono::nanoseconds timeout, int& source, int& tag, bytes& payload);
  void progress();
  bool flush(std::chrono::nanoseconds timeout);
  void abandon_pending() noexcept;
  std::size_t pending_sends() const noexcept { return requests_.size(); }
  MPI_Comm comm() const noexcept { return comm_; }
  /// A receive buffer: the one given back last (recycle), or a new one.
  bytes take_spare() noexcept { return std::move(spare_); }
  /// Keeps `b` for the next receive when it is larger than the one kept.
  void recycle(bytes&& b) noexcept {
    if (b.capacity() > spare_.capacity()) spare_ = std::move(b);
  }
  /// An empty buffer for the next send's payload: one whose send completed, or a new one.
  bytes take_send_buffer() noexcept;

 private:
  MPI_Comm comm_;
  // Sends not known to be complete: requests and their payloads side by side (one MPI_Testsome tests them all).
  std::vector<MPI_Request> requests_;
  std::vector<bytes> payloads_;
  std::vector<int> done_;    // MPI_Testsome's indices, kept to allocate nothing per call
  bytes spare_;              // a payload buffer handed back (recycle) for the next receive: no allocation per message
  std::vector<bytes> sent_;  // buffers of completed sends (a few, none large), for take_send_buffer
};
}  // namespace detail

/// Point-to-point messaging with protocol tags of the scoped enum Tag (values must fit MPI's tag range).
/// Sends are non-blocking (the payload is kept until MPI is done with it), so two ranks sending to each
/// other never deadlock and a dead peer never blocks the sender. Receives use MPI_Improbe/MPI_Mrecv so
/// no other thread can take the message. Not thread-safe: one thread per transport (the comm thread).
/// Non-copyable, non-movable; a view over the communicator, which it does not own.
template <class Tag>
requires std::is_enum_v<Tag>
class transport {
 public:
  explicit transport(MPI_Comm comm) : core_(comm) {}

  /// Sends `value` (serialized) to rank `to`. Returns at once; cost: one serialization and one MPI_Isend.
  template <class T>
  void send(rank_t to, Tag tag, const T& value) {
    core_.send(to.value, static_cast<int>(tag), serialize(value));
  }

  /// Sends bytes as they are.
  void send_bytes(rank_t to, Tag tag, bytes payload) {
    core_.send(to.value, static_cast<int>(tag), std::move(payload));
  }

  /// A message, if one is waiting (any tag, any source). Never blocks.
  std::optional<message<Tag>> poll() { return take(MPI_ANY_TAG, std::chrono::nanoseconds{-1}); }

  /// A message with this tag, if one is waiting. Never blocks.
  std::optional<message<Tag>> poll(Tag tag) { return take(static_cast<int>(tag), std::chrono::nanoseconds{-1}); }

  /// Waits up to `timeout` for any message; nullopt on timeout. Backs off (yield, then short sleeps)
  /// so an oversubscribed rank does not starve its neighbours.
  std::optional<message<Tag>> wait(std::chrono::nanoseconds timeout) { return take(MPI_ANY_TAG, timeout); }

  /// Waits up to `timeout` for a message with this tag.
  std::optional<message<Tag>> wait(Tag tag, std::chrono::nanoseconds timeout) {
    return take(static_cast<int>(tag), timeout);
  }

  /// Gives a received message's payload back for the next receive to reuse (optional: a loop that receives one
  /// message after another then allocates nothing per message).
  void recycle(bytes&& payload) noexcept { core_.recycle(std::move(payload)); }

  /// An empty buffer to encode the next payload into (then send_bytes it): the buffer of a send that completed, so
  /// that a loop sending one message after another allocates nothing per message; a new one if none is kept.
  bytes send_buffer() noexcept { return core_.take_send_buffer(); }

  /// Lets MPI progress finished sends and frees their buffers (keeps a few for send_buffer).
  void progress() { core_.progress(); }

  /// Waits up to `timeout` for every pending send to complete; false if some did not.
  bool flush(std::chrono::nanoseconds timeout) { return core_.flush(timeout); }

  /// Forgets sends to peers that will never receive them (e.g. a lost rank).
  void abandon_pending() noexcept { core_.abandon_pending(); }

  /// Waits up to `timeout` for pending sends, then abandons whatever is left (a peer that is gone).
  /// The last call of a protocol before it returns.
  void flush_or_abandon(std::chrono::nanoseconds timeout) {
    if (!flush(timeout)) abandon_pending();
  }

  std::size_t pending_sends() const noexcept { return core_.pending_sends(); }
  MPI_Comm comm() const noexcept { return core_.comm(); }

 private:
  std::optional<message<Tag>> take(int tag, std::chrono::nanoseconds timeout) {
    int source = 0, got_tag = 0;
    bytes payload = core_.take_spare();
    const bool ok = timeout.count() < 0 ? core_.poll(tag, source, got_tag, payload)
                                        : core_.wait(tag, timeout, source, got_tag, payload);
    if (!ok) {
      core_.recycle(std::move(payload));
      return std::nullopt;
    }
    return message<Tag>{rank_t{source}, static_cast<Tag>(got_tag), std::move(payload)};
  }

  detail::transport_core core_;
};

}  // namespace partita
