#pragma once
/// The process's CPU time (every thread, user + system) since a starting point: with the kernels' own CPU time
/// (executor::kernel_cpu_seconds) subtracted, what Partita's threads cost.

#include <sys/resource.h>

#include <algorithm>

namespace partita::detail {

/// Value type; starts counting at construction.
class cpu_meter {
 public:
  cpu_meter() : start_(process_cpu_seconds()) {}
  /// CPU seconds the whole process used since construction.
  double seconds() const { return process_cpu_seconds() - start_; }
  /// CPU seconds since construction that were not spent in kernels (never negative).
  double framework_seconds(double kernel_cpu_seconds) const { return std::max(0.0, seconds() - kernel_cpu_seconds); }

  static double process_cpu_seconds() {
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return s(u.ru_utime) + s(u.ru_stime);
  }

 private:
  double start_;
};

}  // namespace partita::detail
