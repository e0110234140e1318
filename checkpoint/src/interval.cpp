#include <partita/checkpoint/interval.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

namespace partita {

interval_choice young_daly_interval(double c, double m, std::optional<double> seconds_left,
                                    const interval_bounds& bounds) {
  const double lo = std::max(0.0, bounds.min_seconds);
  const double hi = std::max(lo, bounds.max_seconds);
  interval_choice out;
  if (!std::isfinite(c) || c < 0) {
    out.seconds = hi;
    out.reason = fmt::format("checkpoint cost unknown ({}): using the upper bound {:.0f} s", c, hi);
  } else if (std::isinf(m) && m > 0) {
    out.seconds = hi;
    out.reason = fmt::format("no interruption expected (MTTI infinite): using the upper bound {:.0f} s", hi);
  } else if (!std::isfinite(m) || m <= 0) {
    out.seconds = lo;
    out.reason = fmt::format("mean time to interrupt unknown ({}): using the lower bound {:.0f} s", m, lo);
  } else if (c == 0) {
    out.seconds = lo;
    out.reason = "checkpoints cost nothing measurable: using the lower bound";
  } else if (c < 2 * m) {
    const double x = c / (2 * m);
    const double young = std::sqrt(2 * c * m);
    const double t = young * (1 + std::sqrt(x) / 3 + x / 9) - c;
    out.seconds = std::clamp(t, lo, hi);
    out.reason = fmt::format("Daly: C={:.3g} s, M={:.4g} s -> {:.4g} s (Young sqrt(2CM)={:.4g} s)", c, m, t, young);
    if (t < lo) out.reason += fmt::format(", raised to the lower bound {:.4g} s", lo);
    if (t > hi) out.reason += fmt::format(", lowered to the upper bound {:.4g} s", hi);
  } else {
    out.seconds = std::clamp(m, lo, hi);
    out.reason = fmt::format("Daly: C={:.3g} s >= 2M (M={:.4g} s): interval = M, clamped to [{:.4g}, {:.4g}] s", c, m,
                             lo, hi);
  }
  if (seconds_left) {
    const double left = *seconds_left;
    const double cost = std::isfinite(c) && c > 0 ? c : 0.0;
    // The next checkpoint must end before the wall time does, with its own duration again as a margin.
    const double latest_start = left - 2 * cost;
    if (!(latest_start > 0)) {
      out.seconds = 0;
      out.reason += fmt::format("; only {:.4g} s of wall time left for a {:.3g} s checkpoint (plus as much margin): "
                                "checkpoint now",
                                left, cost);
    } else if (out.seconds > latest_start) {
      out.seconds = latest_start;
      out.reason += fmt::format("; shortened to {:.4g} s so the checkpoint ends before the wall time ({:.4g} s left)",
                                latest_start, left);
    }
  }
  return out;
}

}  // namespace partita
