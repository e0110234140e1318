#include <partita/scheduler/iterative/detail/bounded_wait.hpp>

#include <thread>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/detail/timing.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>

namespace partita::detail {

void wait_bounded(std::vector<MPI_Request>& reqs, const wait_limit& limit, const std::string& what) {
  if (reqs.empty()) return;
  const auto start = clock::now();
  int spins = 0;
  for (;;) {
    int done = 0;
    PARTITA_MPI(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE));
    if (done) break;
    if (++spins > 1000) {
      if (since(start) > limit.timeout_seconds)
        throw peer_silent(limit.step, fmt::format("{}: no answer within --timeout {} s (a rank is lost or hangs)", what,
                                                  limit.timeout_seconds));
      std::this_thread::yield();
    }
  }
  reqs.clear();
}

}  // namespace partita::detail
