#pragma once
/// The type-erased iterative job the scheduler runs: partitions with state that persists across steps, a
/// symmetric neighbour graph, halos, a step function and named global reductions. The jobs layer adapts typed
/// kernels (partita::iterative_job<State>) to it, so the scheduler never sees a user type.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/context.hpp>
#include <partita/scheduler/job_model.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// How a named reduction combines the partitions' values. Every reduction is folded left to right in
/// partition-id order, so a floating-point sum has the same bits at any rank count.
enum class reduce_op { sum, min, max, custom };

/// One named global reduction of a step. Value type.
struct reduction_spec {
  std::string name;
  reduce_op op = reduce_op::sum;
};

/// One partition's state as the scheduler holds it: opaque, owned by exactly one rank at a time.
class partition_state {
 public:
  virtual ~partition_state() = default;
};

/// One named array of a partition's saved state: a checkpoint stores it as /partitions/<id>/<name>. `doubles`
/// arrays are stored as float64 datasets (h5dump shows numbers), others as uint8 bytes. Value type.
struct state_array {
  std::string name;
  bytes data;
  bool doubles = false;  ///< `data` holds native doubles (its size is a multiple of 8)
  friend bool operator==(const state_array&, const state_array&) = default;
};

/// The halos a partition receives in one step: one array of doubles per neighbour, in the order of
/// neighbours(id). A view: valid only during the step call.
class halo_view {
 public:
  using entry = std::pair<partition_id, std::span<const double>>;
  explicit halo_view(std::span<const entry> entries) noexcept : entries_(entries) {}
  /// The halo `from` sent this step. Throws usage_error if `from` is not a neighbour.
  std::span<const double> from(partition_id from) const;
  std::size_t size() const noexcept { return entries_.size(); }
  auto begin() const noexcept { return entries_.begin(); }
  auto end() const noexcept { return entries_.end(); }

 private:
  std::span<const entry> entries_;
};

/// An iterative job as the scheduler sees it. Every rank builds the same model (SPMD). Calls that take a state
/// are made concurrently from arena threads for different partitions; the rest are const and thread-safe.
class iterative_job_model : public job_model {
 public:
  model_kind kind() const noexcept final { return model_kind::iterative; }

  /// The partitions `id` exchanges halos with (sends one to each, receives one from each). Must be symmetric.
  virtual std::vector<partition_id> neighbours(partition_id id) const = 0;
  /// The halo length (doubles) `from` sends `to`, if the job declares it; a halo of another length is a usage error.
  virtual std::optional<std::size_t> halo_size(partition_id from, partition_id to) const = 0;

  /// The state of partition `id` before step 0 (ctx.step() is 0).
  virtual std::unique_ptr<partition_state> init(partition_id id, context& ctx) const = 0;
  /// What the partition of `state` sends to neighbour `to` this step; fills `out`.
  virtual void halo(const partition_state& state, partition_id to, context& ctx, std::vector<double>& out) const = 0;
  /// Advances `state` by one step with the halos its neighbours sent.
  virtual void step(partition_state& state, const halo_view& halos, context& ctx) const = 0;

  virtual const std::vector<reduction_spec>& reductions() const = 0;
  /// The value partition `state` contributes to reduction `k` after a step.
  virtual double reduce_value(const partition_state& state, std::size_t k) const = 0;
  /// Combines two values of reduction `k` (associative; called in partition-id order, left to right).
  virtual double combine(std::size_t k, double a, double b) const = 0;

  /// The step count after which the job ends at the latest (0: no limit; until() must then stop it).
  virtual std::uint64_t max_steps() const = 0;
  /// Whether the job is done after `steps` steps with these reduction values (in reductions() order).
  virtual bool done(std::uint64_t steps, std::span<const double> reductions) const = 0;

  /// The state as named arrays (checkpoints, migration, the final gather).
  virtual std::vector<state_array> save(const partition_state& state) const = 0;
  /// A state from save()'s arrays. Throws error if they do not describe a state of this job.
  virtual std::unique_ptr<partition_state> load(partition_id id, const std::vector<state_array>& arrays) const = 0;

  /// Whether the coordinator gathers every partition's final state for conclude() (false: it gets none, and the job
  /// fits any scale; its states leave the ranks through --output). docs/design.md, "Iterative output".
  virtual bool keeps_final_states() const { return false; }

  /// Called once on the coordinating rank when the job completed, with every partition's final state in id order
  /// if keeps_final_states(), else with none (e.g. to write an image or hand the states to the user's program).
  virtual void conclude(std::uint64_t steps, std::span<const double> reductions,
                        std::vector<std::unique_ptr<partition_state>> states) const = 0;
};

/// Folds `values` (one per partition, in id order) of reduction `k` with `model.combine`, left to right.
double fold_in_id_order(const iterative_job_model& model, std::size_t k, std::span<const double> values);

}  // namespace partita
