#pragma once
/// The messages of an iterative run between its ranks: tags, payloads and each one's codec, defined here and nowhere
/// else. Decoders treat what they read as untrusted input (docs/design.md, "Iterative jobs").
///
///   every rank -> every rank  step gather   per owned partition {its reductions, its step seconds}, then a
///                                           step_control (collective, in the doubles of the reductions' allgather)
///   rank -> rank              halo          {from, to, values}...  (one message per neighbouring rank per step)
///   rank -> rank              migrate       {partition, state arrays}  (one message per moving partition)
///   every rank -> coordinator final states  {partition, state arrays}...  (collective gather at the end)

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/detail/wire.hpp>
#include <partita/scheduler/iterative/job_model.hpp>

namespace partita::detail {

/// MPI tags of the model's point-to-point messages on the job's communicator.
enum class iterative_tag : int { halo = 7101, migrate = 7102, final_state = 7103 };

/// What went wrong on a rank during a step (the lowest rank that saw an error speaks for all).
enum class step_error : std::uint8_t { none = 0, halo_size = 1, kernel = 2 };

/// What every rank does at the end of a step, as the coordinator decided it.
enum class boundary_action : std::uint8_t { go_on = 0, checkpoint = 1, checkpoint_and_stop = 2 };

/// What every rank appends to its part of the step gather: the error it saw, and (from the coordinator) what all
/// ranks do at this step boundary. Value type.
struct step_control {
  step_error error = step_error::none;
  partition_id partition{};         ///< halo_size: the sending partition; kernel: the partition whose kernel threw
  partition_id neighbour{};         ///< halo_size: the receiving partition
  std::uint64_t halo_values = 0;    ///< halo_size: the values sent
  std::uint64_t halo_declared = 0;  ///< halo_size: the values the job declares
  boundary_action action = boundary_action::go_on;
  epoch_t epoch{};          ///< with a checkpoint action: the number the checkpoint gets
  double busy_seconds = 0;  ///< this rank's kernel time in the step

  /// Doubles it takes in the gather. Fixed layout: error, partition, neighbour, halo_values, halo_declared,
  /// action, epoch, busy_seconds (integers are exact in a double below 2^53).
  static constexpr std::size_t doubles = 8;

  static step_control halo_size_error(partition_id from, partition_id to, std::uint64_t got, std::uint64_t want) {
    return {step_error::halo_size, from, to, got, want};
  }
  static step_control kernel_error(partition_id failed) { return {step_error::kernel, failed}; }
};

/// Appends `c` to `out` in its fixed layout.
void put_step_control(const step_control& c, std::vector<double>& out);
/// Reads a step_control from the first step_control::doubles of `in`; throws error on a short span, an unknown code
/// or a field that is not a whole number.
step_control get_step_control(std::span<const double> in);

/// Appends one halo to a halo message: partition `from`'s values for its neighbour `to`.
inline void put_halo(bytes& message, partition_id from, partition_id to, std::span<const double> values) {
  wire_writer w(message);
  w.put(from.value);
  w.put(to.value);
  w.put_array(values);
}

/// One halo read back from a halo message.
struct halo_entry {
  partition_id from;
  partition_id to;
  std::vector<double> values;
};

/// Hands every halo of `message` to `take(halo_entry&&)` in the order they were put; throws error (before handing
/// on the halo concerned) if the message is truncated or malformed.
template <class Take>
void read_halos(std::span<const std::byte> message, Take&& take) {
  wire_reader r(message);
  while (!r.at_end()) {
    halo_entry h;
    h.from = partition_id{r.get<std::uint64_t>()};
    h.to = partition_id{r.get<std::uint64_t>()};
    r.get_array(h.values);
    take(std::move(h));
  }
}

/// Appends partition `id`'s state arrays to `out` (a migration message, or a rank's part of the final gather).
void put_partition_state(bytes& out, partition_id id, const std::vector<state_array>& arrays);
/// Reads one partition's state from `in` at `pos` (advanced past it); throws error if it is truncated or corrupt.
std::pair<partition_id, std::vector<state_array>> get_partition_state(std::span<const std::byte> in, std::size_t& pos);

}  // namespace partita::detail
