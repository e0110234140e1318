#pragma once
/// The saved state of an iterative job as a type: what a checkpoint holds besides the partitions, each dataset
/// key defined once, and the encoding of partition state arrays for checkpoints and migration messages.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <partita/checkpoint/image.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita::detail {

/// The scheduler-level state of an iterative job at a step boundary. Value type. Datasets:
///   /iterative/reductions   float64 [the reductions after the last step, in declaration order]
///   /iterative/cost         float64 [seconds per step, per partition (least of the last 8 measured)]
///   /iterative/run_seconds  float64 [the job's running time over all runs so far]
///   /iterative/params       uint8   [the job's parameters as text, see `params`]
/// and /partitions/<id>/<name> for every array of every partition's state (meta.step = steps done).
struct iterative_state {
  static constexpr const char* model = "iterative";  ///< checkpoint_meta::model of these checkpoints
  static constexpr const char* reductions_key = "iterative/reductions";
  static constexpr const char* cost_key = "iterative/cost";
  static constexpr const char* run_seconds_key = "iterative/run_seconds";
  static constexpr const char* params_key = "iterative/params";

  std::uint64_t steps = 0;
  std::uint64_t partition_count = 0;
  std::vector<double> reductions;
  std::vector<double> cost;
  double run_seconds = 0;
  /// The job's parameters as "key=value" lines in key order (/iterative/params, uint8; absent in older files): the
  /// hash in /meta identifies them, these tell a user what changed (an input's identity: "Iterative output").
  std::string params;

  /// The image without partitions (the caller adds this rank's own through add_partition).
  checkpoint_image to_image() const;
  /// Reads the scheduler-level part of `image`; throws checkpoint_error (naming `file`) if a dataset is missing or
  /// has the wrong size for `partition_count` and `reduction_count`.
  static iterative_state from_image(const checkpoint_image& image, const std::string& file,
                                    std::size_t reduction_count);
};


/// Adds partition `id`'s arrays to `image.partitions` (float64 arrays keep their type).
void add_partition(checkpoint_image& image, std::uint64_t id, std::uint64_t step,
                   const std::vector<state_array>& arrays);
/// The arrays of partition `id` in `image` (sorted by (id, name) on read), empty if it has none.
std::vector<state_array> arrays_of(const checkpoint_image& image, std::uint64_t id);

/// State arrays to bytes and back (migration and the final gather). decode_arrays throws error on a short buffer.
void encode_arrays(bytes& out, const std::vector<state_array>& arrays);
std::vector<state_array> decode_arrays(std::span<const std::byte> in, std::size_t& pos);

}  // namespace partita::detail
