#include <partita/scheduler/iterative/detail/recovery.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>

#include <fmt/format.h>

#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

namespace {

enum tag : int { alive = 7104, view = 7105, went_on = 7106 };

/// Sends `data` to `to` and forgets the request: a send to a dead rank may never complete, and MPI may read the
/// buffer until it does, so the buffers live until the process ends (a few bytes per rank and rollback).
void send_and_forget(MPI_Comm comm, int to, int t, std::vector<int> data) {
  static std::deque<std::vector<int>> kept;
  kept.push_back(std::move(data));
  auto& buf = kept.back();
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Isend(buf.data(), static_cast<int>(buf.size()), MPI_INT, to, t, comm, &req) == MPI_SUCCESS)
    MPI_Request_free(&req);
}

/// Receives every message with tag `t` that has arrived, calling `take(source, ints)`.
template <class F>
void drain_tag(MPI_Comm comm, int t, F&& take) {
  for (;;) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    PARTITA_MPI(MPI_Improbe(MPI_ANY_SOURCE, t, comm, &flag, &msg, &st));
    if (!flag) return;
    int n = 0;
    PARTITA_MPI(MPI_Get_count(&st, MPI_INT, &n));
    std::vector<int> got(static_cast<std::size_t>(std::max(0, n)));
    PARTITA_MPI(MPI_Mrecv(got.data(), n, MPI_INT, &msg, MPI_STATUS_IGNORE));
    take(st.MPI_SOURCE, std::move(got));
  }
}

}  // namespace

survivors agree_on_survivors(MPI_Comm comm, double window_s) {
  int self = 0, size = 1;
  PARTITA_MPI(MPI_Comm_rank(comm, &self));
  PARTITA_MPI(MPI_Comm_size(comm, &size));
  const auto n = static_cast<std::size_t>(size);

  // Round 1: who is alive. Listen for the whole window: a rank that noticed the loss later is still coming.
  std::vector<bool> heard(n, false);
  heard[static_cast<std::size_t>(self)] = true;
  for (int r = 0; r < size; ++r)
    if (r != self) send_and_forget(comm, r, alive, {self});
  std::vector<std::pair<int, std::vector<int>>> early_views;  // views that overtook the end of our window
  // The others agreed without this rank and went on (it was frozen or cut off for longer than their window).
  bool left_behind = false;
  const auto check_left_behind = [&] {
    drain_tag(comm, went_on, [&](int, std::vector<int>) { left_behind = true; });
    if (left_behind)
      log().warn("in-job rollback: the other ranks went on without this one (it was stopped or cut off for longer "
                 "than --timeout); this rank leaves the job");
    return left_behind;
  };
  const auto round1_end = clock::now() + to_ns(window_s);
  while (clock::now() < round1_end) {
    drain_tag(comm, alive, [&](int from, std::vector<int>) { heard[static_cast<std::size_t>(from)] = true; });
    drain_tag(comm, view, [&](int from, std::vector<int> v) { early_views.emplace_back(from, std::move(v)); });
    if (check_left_behind()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::vector<int> mine;
  for (int r = 0; r < size; ++r)
    if (heard[static_cast<std::size_t>(r)]) mine.push_back(r);

  // Round 2: every member of my view must have heard the same ranks.
  for (int r : mine)
    if (r != self) send_and_forget(comm, r, view, mine);
  std::vector<bool> confirmed(n, false);
  confirmed[static_cast<std::size_t>(self)] = true;
  std::string disagreement;
  auto take_view = [&](int from, const std::vector<int>& v) {
    if (v != mine && disagreement.empty())
      disagreement = fmt::format("rank {} heard {} rank(s) alive, this rank {}", from, v.size(), mine.size());
    if (std::binary_search(mine.begin(), mine.end(), from)) confirmed[static_cast<std::size_t>(from)] = true;
  };
  for (const auto& [from, v] : early_views) take_view(from, v);
  const auto all_confirmed = [&] {
    return std::all_of(mine.begin(), mine.end(), [&](int r) { return confirmed[static_cast<std::size_t>(r)]; });
  };
  const auto round2_end = clock::now() + to_ns(window_s);
  while (!all_confirmed() && disagreement.empty() && clock::now() < round2_end) {
    drain_tag(comm, view, take_view);
    drain_tag(comm, alive, [](int, std::vector<int>) {});  // late ones: that rank is not in our view
    if (check_left_behind()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (disagreement.empty() && !all_confirmed())
    disagreement = "a rank that was heard alive did not confirm what it heard";
  if (!disagreement.empty())
    throw error(fmt::format("in-job rollback: the surviving ranks do not agree on who is left ({}); ending the run "
                            "so that it is relaunched from the last checkpoint",
                            disagreement));

  survivors out;
  for (int r = 0; r < size; ++r)
    if (!heard[static_cast<std::size_t>(r)]) out.lost.push_back(r);
  // A majority, or exactly half holding the lowest rank of comm: two disjoint sets can never both go on.
  const bool quorum = 2 * mine.size() > n || (2 * mine.size() == n && mine.front() == 0);
  if (!quorum) {
    // Either the others are gone, or they went on without this rank and their word has not come yet: wait for it
    // as long as they could take to agree. Without it, this is a real loss of the majority: the run ends.
    const auto deadline = clock::now() + to_ns(2 * window_s);
    while (clock::now() < deadline) {
      if (check_left_behind()) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    throw error(fmt::format("in-job rollback: only {} of {} ranks are left, not a majority; ending the run so that "
                            "it is relaunched from the last checkpoint",
                            mine.size(), size));
  }
  // Tell the ranks left out that the job goes on without them: a frozen one that resumes then leaves quietly.
  if (mine.front() == self)
    for (int r : out.lost) send_and_forget(comm, r, went_on, {self});
  out.ranks = std::move(mine);
  return out;
}

stall_watchdog::stall_watchdog(double limit_s, double write_limit_s, bool enabled)
    : limit_s_(limit_s), write_limit_s_(write_limit_s), last_ns_(clock::now().time_since_epoch().count()),
      current_limit_s_(limit_s) {
  if (enabled) thread_ = std::thread([this] { watch(); });
}

stall_watchdog::~stall_watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void stall_watchdog::pet(const char* doing) noexcept { arm(doing, limit_s_); }

void stall_watchdog::pet_write(const char* doing, double allowance_s) noexcept {
  arm(doing, write_limit_s_ + allowance_s);
}

void stall_watchdog::arm(const char* doing, double limit_s) noexcept {
  doing_.store(doing, std::memory_order_relaxed);
  current_limit_s_.store(limit_s, std::memory_order_relaxed);
  last_ns_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

void stall_watchdog::watch() {
  std::unique_lock lock(mutex_);
  auto tick = clock::now();
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) {
    // This thread wakes every 0.2 s: a much longer gap means the whole process was frozen (SIGSTOP) or starved,
    // not that the loop is stuck; the loop gets a fresh limit (once resumed it notices it was left behind).
    if (since(tick) > 2.0) pet("resuming after this process was stopped");
    tick = clock::now();
    const auto last = clock::time_point(clock::duration(last_ns_.load(std::memory_order_relaxed)));
    const double stalled = since(last);
    if (stalled < current_limit_s_.load(std::memory_order_relaxed)) continue;
    log().error("no progress for {:.0f} s while {}: a peer died inside a collective operation, which MPI cannot "
                "leave; ending this rank so that the run ends and is relaunched from the last checkpoint",
                stalled, doing_.load(std::memory_order_relaxed));
    std::fflush(nullptr);
    make_launcher_see_failure(1);
    std::_Exit(1);
  }
}

}  // namespace partita::detail
