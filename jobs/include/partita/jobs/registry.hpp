#pragma once
/// Jobs registered under stable names: what `partita jobs` lists and `partita run <job>` runs.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <partita/scheduler/iterative/job_model.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/model_kind.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// One parameter a registered job accepts.
struct job_parameter {
  std::string name;
  std::string default_value;
  std::string help;
};

/// How a map/reduce job is built from its parameters, and what it writes from its final result.
struct map_reduce_factory {
  /// Builds the job from its parameters (defaults filled in). Throws usage_error on a bad value.
  std::function<std::unique_ptr<map_job_model>(const parameters&)> make;
  /// Optional: writes files from the final result (e.g. mandelbrot's image). Called on the scheduler rank only.
  std::function<void(std::span<const std::byte> result, const parameters&)> write_output = {};
};

/// How an iterative job is built from its parameters (it writes its outputs itself when it completes).
struct iterative_factory {
  /// Builds the job from its parameters (defaults filled in). Throws usage_error on a bad value.
  std::function<std::unique_ptr<iterative_job_model>(const parameters&)> make;
};

/// A job built from its parameters: a map/reduce or an iterative one.
using built_job = std::variant<std::unique_ptr<map_job_model>, std::unique_ptr<iterative_job_model>>;

/// A job the CLI can run by name.
struct registered_job {
  std::string name;         ///< stable: logs, traces and checkpoints find the job by it
  std::string description;  ///< one line for `partita jobs`
  std::vector<job_parameter> params;
  /// How it is built: its model is the factory's.
  std::variant<map_reduce_factory, iterative_factory> factory;

  /// The job's model (`partita jobs` shows model_name(model())).
  model_kind model() const noexcept {
    return std::holds_alternative<iterative_factory>(factory) ? model_kind::iterative : model_kind::map_reduce;
  }
  /// Builds the job from `effective` parameters (defaults filled in). Throws usage_error on a bad value.
  built_job build(const parameters& effective) const;
};

/// Name -> job. Not thread-safe for registration; lookups are const.
class job_registry {
 public:
  /// Adds a job; throws error if the name is taken.
  void add(registered_job job);
  const registered_job* find(const std::string& name) const;
  const std::vector<registered_job>& all() const noexcept { return jobs_; }

  /// Builds job `name` with `given` parameters: unknown names and parameters are usage errors naming
  /// the valid ones; missing parameters take their defaults.
  built_job build(const std::string& name, const parameters& given) const;
  /// Builds map/reduce job `name` like build(); a usage error if it is an iterative job.
  std::unique_ptr<map_job_model> make(const std::string& name, const parameters& given) const;
  /// Builds iterative job `name` like build(); a usage error if it is a map/reduce job.
  std::unique_ptr<iterative_job_model> make_iterative(const std::string& name, const parameters& given) const;

  /// `given` with the job's defaults filled in (what build() passes to the job). Throws like build().
  parameters effective_parameters(const std::string& name, const parameters& given) const;

 private:
  std::vector<registered_job> jobs_;
};

/// The registry with the built-in jobs: pi, mandelbrot, wordcount, synthetic (map/reduce), heat, pagerank (iterative).
const job_registry& builtin_jobs();

/// Adds the built-in jobs to `registry` (for programs that keep their own registry).
void register_builtin_jobs(job_registry& registry);

/// The cost in seconds the `synthetic` job gives partition `id`, drawn from its parameters (dist, median_us,
/// sigma, cost_seed) — the same figure on every rank; benchmarks use it for lower bounds.
double synthetic_cost_seconds(const parameters& p, std::uint64_t id);

}  // namespace partita
