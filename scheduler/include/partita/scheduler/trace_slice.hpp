#pragma once
/// One partition's (or partition step's) slice on a rank's timeline, as --trace records it. Plain data.

#include <cstdint>

namespace partita {

/// One partition's slice on the timeline (for --trace).
struct trace_slice {
  std::uint64_t id;
  int thread;
  std::int64_t start_ns;  ///< since the job's start
  std::int64_t end_ns;
};

}  // namespace partita
