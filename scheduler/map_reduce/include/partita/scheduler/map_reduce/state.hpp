#pragma once
/// The saved state of a map/reduce job (what its checkpoints hold), as a type with to_image()/from_image().

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <partita/checkpoint/image.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/map_reduce/id_set.hpp>

namespace partita {

/// Everything a map/reduce scheduler must keep to continue a job: the folded prefix of results, the results
/// that arrived out of order, which partitions are committed, the measured partition costs and the job's running
/// time. Value type. The scheduler holds every committed result, so this is the whole checkpoint.
///
/// Its size grows with the work outstanding, not with the partition count: the done set is ranges, and measured
/// costs are kept for every partition only up to cost_sample_limit partitions; above that for a sample of
/// every cost_stride-th id (at most cost_sample_limit of them: 16 MB here, 32 MB in a checkpoint).
///
/// On disk (datasets of the checkpoint, each key written in one place, map_reduce_state.cpp):
///   /scheduler/accumulator    uint8   the fold, in id order, of the values of the whole aligned id blocks below
///                                     `folded` (docs/design.md, "Folding aligned id blocks")
///   /scheduler/folded_prefix  uint64  [folded]
///   /scheduler/fold_block     uint64  [B] the size of the aligned id blocks (detail::fold_block_size)
///   /scheduler/block_accumulator uint8 the fold of the ids from the current block's start to `folded`
///   /scheduler/held_block_ids, held_block_ends, held_block_values   block values (a node scheduler's fold of a
///                                     whole block) committed ahead of the fold, packed like the held results
///   /scheduler/done_ranges    uint64  [b0, e0, b1, e1, ...] committed ids as half-open ranges
///   /scheduler/held_ids, held_ends, held_results   results committed but not folded yet, packed (one HDF5 group
///                                     per result would cost ~375 bytes of metadata each)
///   /scheduler/cost           float64 measured seconds of every cost_stride-th partition, NaN where not measured
///   /scheduler/cost_stride    uint64  [cost_stride] (absent in older checkpoints: 1)
///   /scheduler/run_seconds    float64 [the job's running time over all runs so far]
///   /scheduler/params         uint8   the job's parameters as text (detail::params_text; absent in older files)
///   /scheduler/block_crc32    uint64  [partitions] the CRC-32 of each committed output block, 0 elsewhere (jobs
///                                     with a per-partition output only; docs/design.md, "Map/reduce data path")
struct map_reduce_state {
  static constexpr const char* model = "map_reduce";  ///< checkpoint_meta::model of these checkpoints
  static constexpr const char* params_key = "scheduler/params";

  /// The first checkpoint format whose accumulator is the fold of aligned id blocks (older ones are refused).
  static constexpr std::uint32_t first_block_format = 2;

  bytes accumulator;  ///< the values of the whole blocks below `folded`, folded left to right
  std::uint64_t folded = 0;
  std::uint64_t fold_block = 0;                ///< the block size the fold used (0 in a fresh state: not set yet)
  bytes block_accumulator;                     ///< the fold of the current block's ids below `folded`
  id_set done;                                 ///< committed partitions (folded or held)
  std::map<std::uint64_t, bytes> held;         ///< committed, not yet folded (ids >= folded)
  std::map<std::uint64_t, bytes> held_blocks;  ///< block index -> value, committed, not yet folded
  std::uint64_t cost_stride = 1;               ///< measured[i] is the cost of partition i × cost_stride
  std::vector<float> measured;                 ///< seconds, NaN where not measured
  double run_seconds = 0;
  std::string params;  ///< the job's parameters as text: what a refused restart names (its inputs' identities)
  std::vector<std::uint32_t> block_crc;  ///< per partition: its committed output block's CRC-32 (empty: no output)

  static constexpr std::uint64_t cost_sample_limit = std::uint64_t{1} << 22;

  /// A fresh job of `partitions` partitions: nothing done, nothing measured.
  static map_reduce_state fresh(std::uint64_t partitions);

  /// Records partition `id`'s measured cost (kept if `id` is in the sample). Cost: O(1).
  void note_cost(std::uint64_t id, float seconds) {
    if (cost_stride == 1) measured[id] = seconds;
    else if (id % cost_stride == 0) measured[id / cost_stride] = seconds;
  }
  /// Partition `id`'s measured cost; NaN if not measured or not in the sample.
  float cost_of(std::uint64_t id) const;

  /// Adds this state's datasets to `image` (meta is the caller's). Cost: O(done ranges + held + cost sample).
  void to_image(checkpoint_image& image) const;
  /// Reads the state of a job of `partitions` partitions from `image`, which came from `file`. The image is
  /// untrusted beyond its checksums: every range, offset and id is checked. Throws checkpoint_error naming the
  /// file and the problem.
  static map_reduce_state from_image(const checkpoint_image& image, std::uint64_t partitions, const std::string& file);

  std::uint64_t done_count() const;
  std::uint64_t measured_count() const;
};

}  // namespace partita
