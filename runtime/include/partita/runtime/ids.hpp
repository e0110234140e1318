#pragma once
/// Strong identifier types (rank, partition id, step, epoch) so that swapping two arguments does not compile.

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace partita {

/// A number with a meaning: a distinct type per Tag, explicit construction, comparable, hashable.
/// Value type (copyable, trivially so); `.value` is the raw number for MPI calls, files and logs.
template <class Tag, class Rep>
struct strong_id {
  using rep_type = Rep;
  Rep value{};

  constexpr strong_id() = default;
  constexpr explicit strong_id(Rep v) : value(v) {}
  constexpr auto operator<=>(const strong_id&) const = default;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& value;
  }

  friend std::ostream& operator<<(std::ostream& os, const strong_id& id) { return os << id.value; }
};

struct rank_tag {};
struct partition_tag {};
struct step_tag {};
struct epoch_tag {};

using rank_t = strong_id<rank_tag, int>;                       ///< an MPI rank in the job's communicator
using partition_id = strong_id<partition_tag, std::uint64_t>;  ///< dense partition number, 0..N-1
using step_t = strong_id<step_tag, std::uint64_t>;             ///< iteration step (0 for map/reduce)
using epoch_t = strong_id<epoch_tag, std::uint64_t>;           ///< checkpoint epoch, grows by one per commit

}  // namespace partita

template <class Tag, class Rep>
struct std::hash<partita::strong_id<Tag, Rep>> {
  std::size_t operator()(const partita::strong_id<Tag, Rep>& id) const noexcept { return std::hash<Rep>{}(id.value); }
};
