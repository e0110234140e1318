#include <partita/scheduler/detail/progress_meter.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include <partita/runtime/log.hpp>

namespace partita::detail {

std::string seconds_text(double s) { return s < 10 ? fmt::format("{:.3f}", s) : fmt::format("{:.1f}", s); }

std::string eta_text(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--:--";
  const auto t = static_cast<long>(s);
  return fmt::format("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

// Under mpirun a rank's stderr is always a pipe to the launcher, so ask the launcher too: if the parent process
// (mpirun, or orted on another node) writes its stderr to a terminal, the live line reaches it. Slurm batch
// output files are not terminals.
bool watched_on_terminal() {
  if (isatty(STDERR_FILENO) == 1) return true;
  char link[256] = {};
  const auto path = "/proc/" + std::to_string(getppid()) + "/fd/2";
  const auto n = readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  const std::string target(link, static_cast<std::size_t>(n));
  return target.rfind("/dev/pts/", 0) == 0 || target.rfind("/dev/tty", 0) == 0;
}

progress_meter::progress_meter(std::string unit, std::uint64_t total, std::uint64_t already, double interval,
                               bool quiet)
    : unit_(std::move(unit)), total_(total), start_done_(already), interval_(interval), quiet_(quiet),
      tty_(!quiet && watched_on_terminal()), start_(clock::now()), last_(start_), next_sample_(start_),
      origin_(start_) {}

void progress_meter::update(std::uint64_t done, clock::time_point now) { show(done, now, {}, false); }

void progress_meter::update(std::uint64_t done, const std::string& extra, bool force) {
  show(done, clock::now(), extra, force);
}

void progress_meter::sample(std::uint64_t done, clock::time_point now, bool force) {
  if (!force && now < next_sample_) return;
  if (samples_.size() >= 1024) {  // keep every other one: still evenly spread, half as dense
    for (std::size_t i = 1; 2 * i < samples_.size(); ++i) samples_[i] = samples_[2 * i];
    samples_.resize(samples_.size() / 2);
    sample_period_ *= 2;
  }
  const auto f = figures(done, now);
  samples_.push_back({seconds_d(now - origin_).count(), done, f.eta_seconds});
  next_sample_ = now + to_ns(sample_period_);
}

void progress_meter::show(std::uint64_t done, clock::time_point now, const std::string& extra, bool force) {
  sample(done, now, force);
  if (force || comment_.due(now)) {  // quiet or not: the job's comment is for squeue, not for the output file
    const auto f = figures(done, now);
    comment_.update(fmt::format("{}/{} {}, ETA {}", done, total_, unit_, eta_text(f.eta_seconds)), now, force);
  }
  if (quiet_) return;
  const double step = tty_ ? 0.2 : interval_;
  if (!force && seconds_d(now - last_).count() < step) return;
  last_ = now;
  const auto f = figures(done, now);
  const double rate = f.rate_per_second, eta = f.eta_seconds;
  const double pct = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  auto line = fmt::format("{}/{} {} ({:.1f}%), {:.{}f}/s, ETA {}", done, total_, unit_, pct, rate, rate < 10 ? 2 : 0,
                          eta_text(eta));
  if (!extra.empty()) line += ", " + extra;
  if (tty_) {
    std::fprintf(stderr, "\r[partita] %s\033[K", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  } else {
    log().info("progress: {}", line);
  }
}

progress_figures progress_meter::figures(std::uint64_t done, clock::time_point now) const {
  const double elapsed = std::max(1e-9, seconds_d(now - start_).count());
  const double rate = static_cast<double>(done - std::min(done, start_done_)) / elapsed;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(total_, done)) / rate : -1;
  return {elapsed, rate, eta};
}

void progress_meter::finish() {
  if (tty_ && shown_) std::fputc('\n', stderr);
}

}  // namespace partita::detail
