#include <partita/scheduler/map_reduce/detail/job_lease.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/failure_history.hpp>
#include <partita/runtime/log.hpp>

namespace partita::detail {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has_word(const std::string& file) {
  std::ifstream in(file);
  std::string w;
  return static_cast<bool>(in >> w) && !w.empty();
}

}  // namespace

std::string job_lease_file() {
  const auto f = status_file();
  return f ? *f + ".lease" : std::string();
}

void job_lease::renew(clock::time_point now) noexcept {
  try {
    if (count_ > 0 && seconds_d(now - last_).count() < every_s_) return;
    const auto file = job_lease_file();
    if (file.empty()) return;
    last_ = now;
    ++count_;
    // A new content each time (readers compare contents, not clocks: the hosts' clocks need not agree).
    const std::string tmp = fmt::format("{}.{}.{}", file, rank_, ::getpid());
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << rank_ << ' ' << ::getpid() << ' ' << count_ << '\n';
      if (!out.flush()) throw error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), file.c_str()) != 0) throw error("cannot rename " + tmp + " to " + file);
  } catch (const std::exception& e) {
    if (!warned_) log().warn("the job's lease: {}", e.what());
    warned_ = true;
  }
}

void await_job_word(double stale_s) {
  const auto word = status_file();
  if (!word) return;
  const auto lease = job_lease_file();
  auto seen = read_all(lease);
  auto changed = clock::now();
  for (;;) {
    if (has_word(*word)) return;
    auto now_seen = read_all(lease);
    if (now_seen != seen) {
      seen = std::move(now_seen);
      changed = clock::now();
    }
    if (since(changed) > stale_s) {
      log().error("nobody renewed the job's lease for {:.0f} s: no side of the job goes on; leaving the job's word "
                  "(failed) for the launcher",
                  stale_s);
      record_failure_if_no_word(1);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void leave_as_minority(const minority_side& m, const session& s, const run_config& config, const std::string& job) {
  const int rank = s.rank().value;
  const auto why = fmt::format(
      "rank {} reaches ranks on only {} of the job's {} hosts: a minority side of a network partition, which must "
      "not commit; it leaves the job (the side with a majority goes on, or the launcher relaunches)",
      rank, m.count.reached, m.count.hosts);
  log().error("{}", why);
  if (const auto history = config.failure_history_file(); !history.empty()) {
    try {
      append_failure_history(history, s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(rank))),
                             fmt::format("rank {} of job '{}' left: minority side ({} of {} hosts)",
                                         s.launch_rank(rank), job, m.count.reached, m.count.hosts));
    } catch (const std::exception& e) {
      log().warn("{}", e.what());
    }
  }
  await_job_word(3 * config.timeout_seconds);
  error e(why);
  e.mark_reported();
  throw e;
}

}  // namespace partita::detail
