#include <partita/runtime/transport.hpp>

#include <sched.h>

#include <deque>
#include <thread>

#include <partita/runtime/log.hpp>

namespace partita::detail {

namespace {
// Buffers of completed sends kept for the next ones: as many as a burst of requests or answers, none so large
// that keeping it holds memory a rare large message needed once.
constexpr std::size_t kept_send_buffers = 64;
constexpr std::size_t largest_kept_send_buffer = 64 * 1024;
}  // namespace

transport_core::transport_core(MPI_Comm comm) : comm_(comm) {}

transport_core::~transport_core() {
  if (!requests_.empty() && !flush(std::chrono::seconds(2))) {
    log().warn("transport: {} sends still pending at shutdown; abandoning them", requests_.size());
    abandon_pending();
  }
}

void transport_core::send(int to, int tag, bytes payload) {
  progress();
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = MPI_Isend(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, to, tag, comm_, &request);
  if (rc != MPI_SUCCESS) throw_mpi_error("MPI_Isend", rc);
  // A vector's buffer does not move when the vector itself is moved into payloads_.
  requests_.push_back(request);
  payloads_.push_back(std::move(payload));
}

void transport_core::progress() {
  if (requests_.empty()) return;
  // One MPI_Testsome for every pending send: it runs MPI's progress engine at most once (an MPI_Test per request
  // ran it once per request not yet complete, and each run may yield the core when nothing moved).
  done_.resize(requests_.size());
  int count = 0;
  PARTITA_MPI(MPI_Testsome(static_cast<int>(requests_.size()), requests_.data(), &count, done_.data(),
                           MPI_STATUSES_IGNORE));
  if (count == MPI_UNDEFINED || count == 0) return;
  // Completed requests are MPI_REQUEST_NULL now: keep the others, in order; their buffers serve the next sends.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < requests_.size(); ++i) {
    if (requests_[i] == MPI_REQUEST_NULL) {
      if (sent_.size() < kept_send_buffers && payloads_[i].capacity() <= largest_kept_send_buffer)
        sent_.push_back(std::move(payloads_[i]));
      continue;
    }
    if (kept != i) {
      requests_[kept] = requests_[i];
      payloads_[kept] = std::move(payloads_[i]);
    }
    ++kept;
  }
  requests_.resize(kept);
  payloads_.resize(kept);
}

bytes transport_core::take_send_buffer() noexcept {
  if (sent_.empty()) return {};
  bytes b = std::move(sent_.back());
  sent_.pop_back();
  b.clear();
  return b;
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
  while (!requests_.empty()) {
    progress();
    if (requests_.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    sched_yield();
  }
  return true;
}

void transport_core::abandon_pending() noexcept {
  // A send to a dead peer may never complete, and MPI may still read its buffer after the request is
  // freed; so free the request but keep the buffer alive for the rest of the process (rare, small).
  static std::deque<bytes> graveyard;
  for (std::size_t i = 0; i < requests_.size(); ++i) {
    if (requests_[i] != MPI_REQUEST_NULL) MPI_Request_free(&requests_[i]);
    graveyard.push_back(std::move(payloads_[i]));
  }
  requests_.clear();
  payloads_.clear();
}

}  // namespace partita::detail
