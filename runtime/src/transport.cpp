#include <partita/runtime/transport.hpp>

#include <sched.h>

#include <thread>

#include <partita/runtime/log.hpp>

namespace partita::detail {

transport_core::transport_core(MPI_Comm comm) : comm_(comm) {}

transport_core::~transport_core() {
  if (!pending_.empty() && !flush(std::chrono::seconds(2))) {
    log().warn("transport: {} sends still pending at shutdown; abandoning them", pending_.size());
    abandon_pending();
  }
}

void transport_core::send(int to, int tag, bytes payload) {
  progress();
  pending_.push_back(pending{MPI_REQUEST_NULL, std::move(payload)});
  auto& p = pending_.back();
  const int rc = MPI_Isend(p.payload.data(), static_cast<int>(p.payload.size()), MPI_BYTE, to, tag, comm_, &p.request);
  if (rc != MPI_SUCCESS) {
    pending_.pop_back();
    throw_mpi_error("MPI_Isend", rc);
  }
}

void transport_core::progress() {
  while (!pending_.empty()) {
    int done = 0;
    PARTITA_MPI(MPI_Test(&pending_.front().request, &done, MPI_STATUS_IGNORE));
    if (!done) {
      // Sends to different peers complete out of order; sweep the rest too, but keep it cheap.
      for (auto it = std::next(pending_.begin()); it != pending_.end();) {
        int d = 0;
        PARTITA_MPI(MPI_Test(&it->request, &d, MPI_STATUS_IGNORE));
        it = d ? pending_.erase(it) : std::next(it);
      }
      return;
    }
    pending_.pop_front();
  }
}

bool transport_core::poll(int tag_or_any, int& source, int& tag, bytes& payload) {
  int flag = 0;
  MPI_Message msg = MPI_MESSAGE_NULL;
  MPI_Status status;
  PARTITA_MPI(MPI_Improbe(MPI_ANY_SOURCE, tag_or_any, comm_, &flag, &msg, &status));
  if (!flag) return false;
  int count = 0;
  PARTITA_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
  payload.resize(static_cast<std::size_t>(count));
  PARTITA_MPI(MPI_Mrecv(payload.data(), count, MPI_BYTE, &msg, &status));
  source = status.MPI_SOURCE;
  tag = status.MPI_TAG;
  return true;
}

bool transport_core::wait(int tag_or_any, std::chrono::nanoseconds timeout, int& source, int& tag, bytes& payload) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  // Spin briefly (latency), then yield, then sleep in growing steps up to 1 ms (oversubscribed nodes).
  for (int round = 0;; ++round) {
    if (poll(tag_or_any, source, tag, payload)) return true;
    progress();
    if (clock::now() >= deadline) return false;
    if (round < 64) continue;
    if (round < 256) {
      sched_yield();
      continue;
    }
    const auto nap = std::chrono::microseconds(std::min(1000, 10 * (round - 255)));
    std::this_thread::sleep_for(std::min<clock::duration>(nap, deadline - clock::now()));
  }
}

bool transport_core::flush(std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pending_.empty()) {
    progress();
    if (pending_.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    sched_yield();
  }
  return true;
}

void transport_core::abandon_pending() noexcept {
  // A send to a dead peer may never complete, and MPI may still read its buffer after the request is
  // freed; so free the request but keep the buffer alive for the rest of the process (rare, small).
  static std::deque<bytes> graveyard;
  for (auto& p : pending_) {
    MPI_Request_free(&p.request);
    graveyard.push_back(std::move(p.payload));
  }
  pending_.clear();
}

}  // namespace partita::detail
