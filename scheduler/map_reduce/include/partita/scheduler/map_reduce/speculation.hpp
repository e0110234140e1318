#pragma once
/// What speculative execution of stragglers is configured by, and what it hands out (docs/design.md, "Speculative
/// execution").

#include <cstdint>

#include <partita/runtime/ids.hpp>

namespace partita {

/// When an idle worker may run a copy of a straggling partition (docs/design.md, "Speculative execution").
///
/// Only when nothing is left to hand out. A partition held by another worker is overdue once it has been
/// outstanding longer than max(floor, factor × expected), where expected = the median measured partition time
/// plus, for the partitions queued before it on its holder, the mean one (a holder runs a chunk's partitions in
/// order on one thread and its chunks on `threads` threads). At most one copy per partition, never on its
/// holder, only to a worker's idle threads, one partition per chunk.
struct speculation_options {
  bool enabled = false;
  double factor = 3.0;            ///< --speculation-factor
  double floor_seconds = 0.1;     ///< never sooner (result batching and heartbeats delay what the scheduler sees)
  std::uint64_t min_samples = 5;  ///< measured partitions needed before anything counts as overdue
};

/// A speculative copy handed out by dispatcher::assign(): partition `id`, held unfinished by worker `holder`.
struct speculative_copy {
  partition_id id{0};
  rank_t holder{0};
  rank_t worker{0};
  double outstanding_seconds = 0;  ///< how long the holder had it when the copy was made
};

}  // namespace partita
