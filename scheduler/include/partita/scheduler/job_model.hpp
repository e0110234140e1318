#pragma once
/// What every type-erased job shares, whatever its model: the name, the partitions and the parameters.

#include <cstdint>
#include <string>

#include <partita/scheduler/model_kind.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// A job as the machinery sees it before it knows the model: every rank builds the same one (SPMD). The models
/// derive from it (map_job_model, iterative_job_model) and add their kernels. Not copyable through the base.
class job_model {
 public:
  virtual ~job_model() = default;

  /// The registered name (logs, traces and checkpoints find the job by it).
  virtual const std::string& name() const = 0;
  /// Partitions 0..partition_count()-1.
  virtual std::uint64_t partition_count() const = 0;
  /// The job's parameters (seen by kernels as ctx.params()); they also identify its checkpoints.
  virtual const parameters& params() const = 0;
  /// Which model the job follows.
  virtual model_kind kind() const noexcept = 0;

 protected:
  job_model() = default;
  job_model(const job_model&) = default;
  job_model& operator=(const job_model&) = default;
};

}  // namespace partita
