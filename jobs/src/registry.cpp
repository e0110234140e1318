#include <partita/jobs/registry.hpp>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/job_model.hpp>

namespace partita {

void job_registry::add(registered_job job) {
  if (find(job.name)) throw error("a job named '" + job.name + "' is already registered");
  jobs_.push_back(std::move(job));
}

const registered_job* job_registry::find(const std::string& name) const {
  for (const auto& j : jobs_)
    if (j.name == name) return &j;
  return nullptr;
}

built_job registered_job::build(const parameters& effective) const {
  return std::visit([&](const auto& f) { return built_job(f.make(effective)); }, factory);
}

built_job job_registry::build(const std::string& name, const parameters& given) const {
  // effective_parameters throws a usage error for an unknown job, so it must run before find() is used.
  const auto effective = effective_parameters(name, given);
  return find(name)->build(effective);
}

namespace {

/// The job of model `M` built by `job`, or a usage error (before anything is built) if `job` is of the other model.
template <class M>
std::unique_ptr<M> build_as(const registered_job& job, model_kind wanted, const parameters& effective) {
  if (job.model() != wanted)
    throw usage_error("job '" + job.name + "' is " +
                      (wanted == model_kind::map_reduce ? "an iterative job, not a map/reduce job"
                                                        : "a map/reduce job, not an iterative job"));
  return std::get<std::unique_ptr<M>>(job.build(effective));
}

}  // namespace

std::unique_ptr<map_job_model> job_registry::make(const std::string& name, const parameters& given) const {
  const auto effective = effective_parameters(name, given);
  return build_as<map_job_model>(*find(name), model_kind::map_reduce, effective);
}

std::unique_ptr<iterative_job_model> job_registry::make_iterative(const std::string& name,
                                                                  const parameters& given) const {
  const auto effective = effective_parameters(name, given);
  return build_as<iterative_job_model>(*find(name), model_kind::iterative, effective);
}

parameters job_registry::effective_parameters(const std::string& name, const parameters& given) const {
  const auto* job = find(name);
  if (!job) {
    std::string names;
    for (const auto& j : jobs_) names += (names.empty() ? "" : ", ") + j.name;
    throw usage_error("unknown job '" + name + "'; the jobs are: " + names + " (see `partita jobs`)");
  }
  parameters effective;
  for (const auto& p : job->params) effective.set(p.name, p.default_value);
  for (const auto& [k, v] : given.items()) {
    bool known = false;
    for (const auto& p : job->params) known |= p.name == k;
    if (!known) {
      std::string names;
      for (const auto& p : job->params) names += (names.empty() ? "" : ", ") + p.name;
      throw usage_error("job '" + name + "' has no parameter '" + k +
                        "'; its parameters are: " + (names.empty() ? std::string("(none)") : names));
    }
    effective.set(k, v);
  }
  return effective;
}

const job_registry& builtin_jobs() {
  static const job_registry registry = [] {
    job_registry r;
    register_builtin_jobs(r);
    return r;
  }();
  return registry;
}

}  // namespace partita
