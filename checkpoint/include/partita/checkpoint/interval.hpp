#pragma once
/// How often to checkpoint: the Young/Daly interval from the checkpoint cost and the failure rate.

#include <optional>
#include <string>

namespace partita {

/// A checkpoint interval and a one-line reason for the log. Value type.
struct interval_choice {
  double seconds = 0;  ///< time from the end of one checkpoint to the start of the next (0: checkpoint now)
  std::string reason;
};

/// Bounds applied to the computed interval before the wall-time clamp. Value type.
struct interval_bounds {
  double min_seconds = 10;     ///< do not checkpoint more often than this
  double max_seconds = 86400;  ///< nor less often than this (also used when no failure was ever seen)
};

/// Daly's higher-order optimum T = sqrt(2CM)·(1 + ⅓·sqrt(C/2M) + ⅑·(C/2M)) − C for C < 2M, else T = M
/// (Young's sqrt(2CM) is its first term), for checkpoint cost C and mean time to interrupt M, in seconds.
/// T is clamped to [bounds.min_seconds, bounds.max_seconds], then, if `seconds_left` (of wall time) is
/// known, to seconds_left − 2C so that the last checkpoint ends before the wall time runs out with its
/// own duration to spare (0, "checkpoint now", when even that does not fit). Non-finite or non-positive inputs fall
/// back to a bound and say so. Pure function; thread-safe.
///
///     auto i = partita::young_daly_interval(measured_cost_s, 6 * 3600.0, env.seconds_left());
///     partita::log().info("checkpoint interval {:.0f} s: {}", i.seconds, i.reason);
interval_choice young_daly_interval(double checkpoint_cost_s, double mtti_s, std::optional<double> seconds_left,
                                    const interval_bounds& bounds = {});

}  // namespace partita
