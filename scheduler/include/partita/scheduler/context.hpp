#pragma once
/// What a kernel gets besides its partition: random stream, TBB arena, parameters, cancellation.

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/scheduler/input_block.hpp>
#include <partita/scheduler/parameters.hpp>
#include <partita/scheduler/random_stream.hpp>

namespace partita {

/// A partition's block of the job's declared input, typed: a read-only view (does not own the data).
template <class T>
struct block_view {
  std::span<const T> data;           ///< row-major
  std::vector<std::uint64_t> shape;  ///< rows first, then the dataset's other axes
  std::uint64_t first_row = 0;       ///< the block's first row in the dataset

  std::uint64_t rows() const noexcept { return shape.empty() ? 0 : shape[0]; }
  /// Elements per row (1 for a 1-D dataset).
  std::uint64_t row_elements() const noexcept { return rows() == 0 ? 0 : data.size() / rows(); }
};

/// A partition's block of the job's declared output, typed: a writable view of the buffer Partita writes into the
/// output file once the kernel returns (does not own the data).
template <class U>
struct output_view {
  std::span<U> data;                 ///< row-major
  std::vector<std::uint64_t> shape;  ///< rows first, then the output's other axes
  std::uint64_t first_row = 0;       ///< the block's first row in the output dataset

  std::uint64_t rows() const noexcept { return shape.empty() ? 0 : shape[0]; }
  std::uint64_t row_elements() const noexcept { return rows() == 0 ? 0 : data.size() / rows(); }
};

/// The kernel's view of the job while it runs one partition. Built by Partita, one per partition run; a view
/// (does not own the arena or the parameters). The kernel already runs inside the arena, so
/// tbb::parallel_for and tbb::parallel_deterministic_reduce may be called directly.
class context {
 public:
  context(partition_id id, step_t step, std::uint64_t seed, const parameters& params, tbb::task_arena& arena,
          const std::atomic<bool>& cancel, rank_t rank = rank_t{0}) noexcept
      : id_(id), step_(step), seed_(seed), params_(params), arena_(arena), cancel_(cancel), rank_(rank),
        rng_(seed, id, step) {}

  partition_id partition() const noexcept { return id_; }
  step_t step() const noexcept { return step_; }
  std::uint64_t seed() const noexcept { return seed_; }

  /// The rank (in the job's communicator) running this partition, for diagnostics and fault studies. A result
  /// must not depend on it: the same partition may run on another rank after a loss, or as a speculative copy.
  rank_t rank() const noexcept { return rank_; }

  /// This partition's random stream, seeded from (job seed, partition id, step): the same numbers whichever
  /// rank or thread runs it.
  random_stream& rng() noexcept { return rng_; }

  /// A fresh stream for a sub-task `k` of this partition (for parallel loops inside the kernel).
  random_stream rng_for(std::uint64_t k) const noexcept {
    return random_stream(seed_ ^ (k * 0x9E3779B97F4A7C15ull + 1), id_, step_);
  }

  const parameters& params() const noexcept { return params_; }
  tbb::task_arena& arena() noexcept { return arena_; }

  /// True once the job is being stopped (another partition failed, or the job was cancelled). Long kernels
  /// may poll it and return early; their result is then discarded.
  bool cancelled() const noexcept { return cancel_.load(std::memory_order_relaxed); }

  /// This partition's block of the job's declared input (map_reduce_job::input), as elements of T. Throws
  /// usage_error if the job declared no input or T is not the declared element type.
  template <class T>
  block_view<T> input() const {
    if (!input_) throw usage_error("this job declared no input dataset (map_reduce_job::input)");
    if (input_->type != data_type_of<T>())
      throw usage_error(fmt::format("the input's elements are {}, not {}", data_type_name(input_->type),
                                    data_type_name(data_type_of<T>())));
    return block_view<T>{std::span<const T>(reinterpret_cast<const T*>(input_->data.data()),
                                            input_->data.size() / sizeof(T)),
                         input_->shape, input_->first_row};
  }
  /// This partition's block of the job's declared output (map_reduce_job::output), as elements of U, to fill in:
  /// Partita writes it into its place once the kernel returns. Throws usage_error if the job declared no output or
  /// U is not the declared element type.
  template <class U>
  output_view<U> output() const {
    if (!output_) throw usage_error("this job declared no output dataset (map_reduce_job::output)");
    if (output_->type != data_type_of<U>())
      throw usage_error(fmt::format("the output's elements are {}, not {}", data_type_name(output_->type),
                                    data_type_name(data_type_of<U>())));
    return output_view<U>{std::span<U>(reinterpret_cast<U*>(output_->data.data()), output_->data.size() / sizeof(U)),
                          output_->shape, output_->first_row};
  }
  /// Set by Partita before the kernel runs.
  void set_output(input_block* block) noexcept { output_ = block; }

  /// The untyped block (nullptr when the job declared no input).
  const input_block* input_data() const noexcept { return input_; }
  /// Set by Partita before the kernel runs.
  void set_input(const input_block* block) noexcept { input_ = block; }

 private:
  partition_id id_;
  step_t step_;
  std::uint64_t seed_;
  const parameters& params_;
  tbb::task_arena& arena_;
  const std::atomic<bool>& cancel_;
  rank_t rank_;
  random_stream rng_;
  const input_block* input_ = nullptr;
  input_block* output_ = nullptr;
};

}  // namespace partita
