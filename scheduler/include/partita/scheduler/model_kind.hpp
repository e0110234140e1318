#pragma once
/// Which job model a job follows (map/reduce or iterative), and the one place its name is written.

namespace partita {

/// The two job models: independent partitions folded in id order, or partitions with state that step together.
enum class model_kind {
  map_reduce,
  iterative,
};

/// "map_reduce" or "iterative": what `partita jobs`, summaries and checkpoints call the model.
constexpr const char* model_name(model_kind m) noexcept {
  return m == model_kind::iterative ? "iterative" : "map_reduce";
}

}  // namespace partita
