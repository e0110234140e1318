#pragma once
/// Chrome trace-event JSON (opens in Perfetto): one track per worker thread, one slice per partition,
/// plus scheduler events.

#include <filesystem>
#include <string>
#include <vector>

#include <partita/scheduler/trace_slice.hpp>

namespace partita::detail {

struct trace_event {
  std::string name;
  int rank = 0;
  std::int64_t ts_ns = 0;
  std::int64_t dur_ns = -1;  ///< -1: an instant event
};

struct rank_trace {
  int rank = 0;
  std::string host;
  std::vector<trace_slice> slices;
};

/// The version of the trace's layout, in its otherData.trace_version (docs/summary-json.md): `partita report` reads
/// this version only.
inline constexpr int trace_version = 1;

/// Writes the trace file; throws error naming the file if it cannot be written.
void write_trace(const std::filesystem::path& file, const std::string& job, const std::vector<rank_trace>& ranks,
                 const std::vector<trace_event>& scheduler_events, int scheduler_rank);

}  // namespace partita::detail
