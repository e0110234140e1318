#pragma once
/// The kernel API of an iterative job: partitions that keep a State from step to step, a neighbour graph, halos,
/// `step(state, halos, ctx)` and named global reductions that decide when to stop.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <partita/jobs/run_result.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/context.hpp>
#include <partita/scheduler/iterative/driver.hpp>
#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/run_config.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita {

/// How a State describes itself to checkpoints and migration. The default stores the whole state as one opaque
/// array "state" through Boost.Serialization (State must be serializable). Specialise it to store named arrays,
/// which h5dump and h5py then show as /partitions/<id>/<name>:
///
///     template <> struct partita::state_traits<block> {
///       static std::vector<partita::state_array> save(const block& b) { return {partita::double_array("u", b.u)}; }
///       static block load(const std::vector<partita::state_array>& a) { return block{partita::doubles_of(a, "u")}; }
///     };
template <class State>
struct state_traits {
  static std::vector<state_array> save(const State& s) { return {state_array{"state", serialize(s), false}}; }
  static State load(const std::vector<state_array>& arrays) {
    for (const auto& a : arrays)
      if (a.name == "state") return deserialize<State>(a.data);
    throw error("saved partition state has no array 'state'");
  }
};

/// A float64 array named `name` (one path component) holding `values`.
inline state_array double_array(std::string name, std::span<const double> values) {
  state_array a{std::move(name), bytes(values.size_bytes()), true};
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), values.size_bytes());
  return a;
}
/// The doubles of the array named `name` in `arrays`. Throws error if there is none or it is not whole doubles.
inline std::vector<double> doubles_of(const std::vector<state_array>& arrays, const std::string& name) {
  for (const auto& a : arrays)
    if (a.name == name) {
      if (a.data.size() % sizeof(double) != 0) throw error("saved array '" + name + "' is not an array of doubles");
      std::vector<double> v(a.data.size() / sizeof(double));
      if (!v.empty()) std::memcpy(v.data(), a.data.data(), a.data.size());
      return v;
    }
  throw error("saved partition state has no array '" + name + "'");
}

/// The values of the named reductions after a step, and the step count. Value type.
class reductions {
 public:
  reductions() = default;
  reductions(std::uint64_t steps, std::vector<std::string> names, std::vector<double> values)
      : steps_(steps), names_(std::move(names)), values_(std::move(values)) {}
  /// Steps done.
  std::uint64_t steps() const noexcept { return steps_; }
  /// The value of reduction `name` after the last step. Throws usage_error for an unknown name.
  double operator[](const std::string& name) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return values_[i];
    throw usage_error("no reduction named '" + name + "'; declare it with .reduce(\"" + name + "\", ...)");
  }
  const std::vector<std::string>& names() const noexcept { return names_; }
  const std::vector<double>& values() const noexcept { return values_; }

 private:
  std::uint64_t steps_ = 0;
  std::vector<std::string> names_;
  std::vector<double> values_;
};

/// An iterative job under construction: every rank builds the same one (SPMD), then runs it with partita::run or
/// partita::program::run. Value type (copies share only the callables' captured state).
///
///     auto job = partita::iterative_job<block>("heat")
///                    .partitions(16, [](partita::partition_id id) { return block(id); })
///                    .neighbours([](partita::partition_id id) { return grid_neighbours(id); })
///                    .halo([](const block& b, partita::partition_id to, partita::context&) { return b.edge(to); })
///                    .step([](block& b, const partita::halo_view& h, partita::context&) { b.jacobi(h); })
///                    .reduce("residual", partita::reduce_op::max, [](const block& b) { return b.residual; })
///                    .until([](const partita::reductions& r) { return r["residual"] < 1e-6; })
///                    .max_steps(10000);
///
/// Determinism: a partition's step sees only its own state, its neighbours' halos and its context's random
/// stream (seeded from job seed, id and step), and reductions fold in partition-id order, so the final states
/// and reductions are bitwise the same at any rank count, placement, migration or restart.
template <class State>
class iterative_job {
 public:
  using state_type = State;
  using init_fn = std::function<State(partition_id, context&)>;
  using neighbours_fn = std::function<std::vector<partition_id>(partition_id)>;
  using halo_fn = std::function<std::vector<double>(const State&, partition_id, context&)>;
  using halo_size_fn = std::function<std::size_t(partition_id, partition_id)>;
  using step_fn = std::function<void(State&, const halo_view&, context&)>;
  using value_fn = std::function<double(const State&)>;
  using combine_fn = std::function<double(double, double)>;
  using until_fn = std::function<bool(const reductions&)>;
  using finish_fn = std::function<void(const reductions&, const std::vector<State>&)>;

  explicit iterative_job(std::string name) : name_(std::move(name)) {}

  /// `count` partitions with ids 0..count-1, each starting from init(id, ctx) (or init(id)).
  template <class F>
  iterative_job& partitions(std::uint64_t count, F init) {
    count_ = count;
    if constexpr (std::is_invocable_r_v<State, F&, partition_id, context&>) init_ = std::move(init);
    else init_ = [f = std::move(init)](partition_id id, context&) { return f(id); };
    return *this;
  }
  /// The partitions each one exchanges halos with; the graph must be symmetric (q in neighbours(p) iff p in
  /// neighbours(q)) and name existing partitions only; any graph, not only grids.
  iterative_job& neighbours(neighbours_fn f) {
    neighbours_ = std::move(f);
    return *this;
  }
  /// What a partition sends to neighbour `to` each step: vector<double>(const State&, partition_id to, context&)
  /// (or without the context).
  template <class F>
  iterative_job& halo(F f) {
    if constexpr (std::is_invocable_v<F&, const State&, partition_id, context&>) halo_ = std::move(f);
    else halo_ = [g = std::move(f)](const State& s, partition_id to, context&) { return g(s, to); };
    return *this;
  }
  /// Declares the halo length (doubles) `from` sends `to`; a halo of another length stops the job with a usage
  /// error naming both partitions.
  iterative_job& halo_size(halo_size_fn f) {
    halo_size_ = std::move(f);
    return *this;
  }
  /// One step of one partition: void(State&, const halo_view&, context&). Called concurrently for different
  /// partitions.
  iterative_job& step(step_fn f) {
    step_ = std::move(f);
    return *this;
  }
  /// A named reduction with a built-in operator (sum, min, max) over value(state) after every step.
  iterative_job& reduce(std::string name, reduce_op op, value_fn value) {
    if (op == reduce_op::custom)
      throw usage_error("reduction '" + name + "': pass the combine function for a custom operator");
    reductions_.push_back({{std::move(name), op}, std::move(value), nullptr});
    return *this;
  }
  /// A named reduction with a user-defined associative combine(a, b), folded in partition-id order.
  iterative_job& reduce(std::string name, combine_fn combine, value_fn value) {
    reductions_.push_back({{std::move(name), reduce_op::custom}, std::move(value), std::move(combine)});
    return *this;
  }
  /// Stop after `steps` steps.
  iterative_job& until(std::uint64_t steps) {
    max_steps_ = steps;
    return *this;
  }
  /// Stop once `done(reductions)` holds after a step (e.g. a residual below a tolerance).
  iterative_job& until(until_fn done) {
    until_ = std::move(done);
    return *this;
  }
  /// Stop after `steps` steps at the latest (with until(predicate)).
  iterative_job& max_steps(std::uint64_t steps) {
    max_steps_ = steps;
    return *this;
  }
  /// Parameters kernels read through ctx.params(); they also identify the job's checkpoints.
  iterative_job& params(parameters p) {
    params_ = std::move(p);
    return *this;
  }
  /// Called on the coordinating rank once the job completed: `void(const reductions&)`, or
  /// `void(const reductions&, const std::vector<State>&)` with every partition's final state in id order, which
  /// keeps the final states (keep_final_states()).
  template <class F>
  iterative_job& on_finish(F f) {
    if constexpr (std::is_invocable_v<F&, const reductions&, const std::vector<State>&>) {
      finish_ = std::move(f);
      keep_states_ = true;
    } else {
      static_assert(std::is_invocable_v<F&, const reductions&>,
                    "on_finish takes void(const reductions&) or void(const reductions&, const std::vector<State>&)");
      finish_ = [g = std::move(f)](const reductions& r, const std::vector<State>&) { g(r); };
    }
    return *this;
  }
  /// Gathers every partition's final state on the coordinating rank when the job completes, for on_finish, the
  /// result's states() and a program's on_result. Off by default: the states of a large job do not fit one rank
  /// (write them with --output FILE instead, each rank its own). --final-gather-limit caps what may be gathered.
  iterative_job& keep_final_states(bool keep = true) {
    keep_states_ = keep;
    return *this;
  }
  /// Whether the final states are gathered on the coordinating rank (keep_final_states, on_finish with states).
  bool keeps_final_states() const noexcept { return keep_states_; }

  const std::string& name() const noexcept { return name_; }
  std::uint64_t partition_count() const noexcept { return count_; }

  /// The type-erased model the scheduler runs. Throws usage_error if a piece is missing. `sink`, if given,
  /// receives the final states on the coordinating rank.
  std::unique_ptr<iterative_job_model> model(std::shared_ptr<std::vector<State>> sink = nullptr) const;

 private:
  struct reduction {
    reduction_spec spec;
    value_fn value;
    combine_fn combine;
  };
  template <class>
  friend class detail_iterative_adapter;

  std::string name_;
  std::uint64_t count_ = 0;
  init_fn init_;
  neighbours_fn neighbours_;
  halo_fn halo_;
  halo_size_fn halo_size_;
  step_fn step_;
  std::vector<reduction> reductions_;
  std::uint64_t max_steps_ = 0;
  until_fn until_;
  parameters params_;
  finish_fn finish_;
  bool keep_states_ = false;
};

/// Adapts a typed iterative job to the scheduler's iterative_job_model. Not API (used by iterative_job::model).
template <class State>
class detail_iterative_adapter final : public iterative_job_model {
  struct typed_state final : partition_state {
    explicit typed_state(State v) : value(std::move(v)) {}
    State value;
  };
  static const State& get(const partition_state& s) { return static_cast<const typed_state&>(s).value; }
  static State& get(partition_state& s) { return static_cast<typed_state&>(s).value; }

 public:
  detail_iterative_adapter(iterative_job<State> job, std::shared_ptr<std::vector<State>> sink)
      : job_(std::move(job)), sink_(std::move(sink)) {
    for (const auto& r : job_.reductions_) specs_.push_back(r.spec);
    for (const auto& r : job_.reductions_) names_.push_back(r.spec.name);
  }

  const std::string& name() const override { return job_.name_; }
  std::uint64_t partition_count() const override { return job_.count_; }
  const parameters& params() const override { return job_.params_; }
  std::vector<partition_id> neighbours(partition_id id) const override {
    return job_.neighbours_ ? job_.neighbours_(id) : std::vector<partition_id>{};
  }
  std::optional<std::size_t> halo_size(partition_id from, partition_id to) const override {
    if (!job_.halo_size_) return std::nullopt;
    return job_.halo_size_(from, to);
  }
  std::unique_ptr<partition_state> init(partition_id id, context& ctx) const override {
    return std::make_unique<typed_state>(job_.init_(id, ctx));
  }
  void halo(const partition_state& s, partition_id to, context& ctx, std::vector<double>& out) const override {
    out = job_.halo_(get(s), to, ctx);
  }
  void step(partition_state& s, const halo_view& h, context& ctx) const override { job_.step_(get(s), h, ctx); }
  const std::vector<reduction_spec>& reductions() const override { return specs_; }
  double reduce_value(const partition_state& s, std::size_t k) const override {
    return job_.reductions_[k].value(get(s));
  }
  double combine(std::size_t k, double a, double b) const override {
    const auto& r = job_.reductions_[k];
    switch (r.spec.op) {
      case reduce_op::sum: return a + b;
      case reduce_op::min: return std::min(a, b);
      case reduce_op::max: return std::max(a, b);
      case reduce_op::custom: return r.combine(a, b);
    }
    return a;
  }
  std::uint64_t max_steps() const override { return job_.max_steps_; }
  bool done(std::uint64_t steps, std::span<const double> values) const override {
    if (job_.max_steps_ > 0 && steps >= job_.max_steps_) return true;
    if (!job_.until_ || steps == 0) return false;
    return job_.until_(partita::reductions(steps, names_, std::vector<double>(values.begin(), values.end())));
  }
  bool keeps_final_states() const override { return job_.keep_states_; }
  std::vector<state_array> save(const partition_state& s) const override { return state_traits<State>::save(get(s)); }
  std::unique_ptr<partition_state> load(partition_id, const std::vector<state_array>& arrays) const override {
    return std::make_unique<typed_state>(state_traits<State>::load(arrays));
  }
  void conclude(std::uint64_t steps, std::span<const double> values,
                std::vector<std::unique_ptr<partition_state>> states) const override {
    std::vector<State> out;
    out.reserve(states.size());
    for (auto& s : states) out.push_back(std::move(get(*s)));
    if (job_.finish_)
      job_.finish_(partita::reductions(steps, names_, std::vector<double>(values.begin(), values.end())), out);
    if (sink_) *sink_ = std::move(out);
  }

 private:
  iterative_job<State> job_;
  std::shared_ptr<std::vector<State>> sink_;
  std::vector<reduction_spec> specs_;
  std::vector<std::string> names_;
};

template <class State>
std::unique_ptr<iterative_job_model> iterative_job<State>::model(std::shared_ptr<std::vector<State>> sink) const {
  const auto missing = [this](const char* what, const char* call) {
    return usage_error("iterative job '" + name_ + "' has no " + what + "; call ." + call + "(...) before running it");
  };
  if (count_ == 0 || !init_) throw missing("partitions", "partitions");
  if (!halo_ && neighbours_) throw missing("halo function", "halo");
  if (!step_) throw missing("step function", "step");
  if (max_steps_ == 0 && !until_) throw missing("stop condition", "until");
  return std::make_unique<detail_iterative_adapter<State>>(*this, std::move(sink));
}

/// Runs an iterative job over every rank of the session. Collective: every rank calls it with an identical job.
/// Its result's value() is the reductions after the last step; states() every partition's final state (on the
/// coordinating rank, in id order) if the job keeps them (.keep_final_states()); both only once the job completed.
/// With config.output every rank writes its own partitions' final states into that file instead.
///
///     auto r = partita::run(session, job, config);
///     if (r.completed() && r.is_scheduler()) fmt::print("residual {}\n", r.value()["residual"]);
template <class State>
run_result<reductions, State> run(session& s, const iterative_job<State>& job, const run_config& config = {}) {
  auto sink = std::make_shared<std::vector<State>>();
  auto model = job.model(sink);
  auto report = run_iterative(s, *model, config);
  std::vector<std::string> names;
  for (const auto& r : model->reductions()) names.push_back(r.name);
  reductions last(report.iterative.steps, std::move(names), report.iterative.reduction_values);
  return run_result<reductions, State>(std::move(report), std::move(last), std::move(*sink), job.keeps_final_states());
}

}  // namespace partita
