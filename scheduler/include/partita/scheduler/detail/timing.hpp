#pragma once
/// Clock helpers shared by the job drivers: durations in seconds, log-friendly seconds and ETAs.

#include <chrono>
#include <string>

namespace partita::detail {

using clock = std::chrono::steady_clock;
using seconds_d = std::chrono::duration<double>;

inline std::chrono::nanoseconds to_ns(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(seconds_d(s));
}
/// Seconds from `t` until now.
inline double since(clock::time_point t) { return seconds_d(clock::now() - t).count(); }
/// Seconds for a log line: milliseconds below 10 s, tenths above.
std::string seconds_text(double s);
/// hh:mm:ss, or --:--:-- when unknown (negative, NaN or absurdly far).
std::string eta_text(double s);

}  // namespace partita::detail
