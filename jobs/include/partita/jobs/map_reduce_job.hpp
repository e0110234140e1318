#pragma once
/// The kernel API of a map/reduce job: partitions, `run(partition, ctx) -> Result`, an associative
/// `combine(Result&, Result&&)`.

#include <fmt/format.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <partita/jobs/h5_input.hpp>
#include <partita/jobs/h5_output.hpp>
#include <partita/jobs/partition.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/scheduler/context.hpp>
#include <partita/scheduler/map_reduce/job_model.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

namespace detail {
template <class T>
concept streamable = requires(std::ostream& os, const T& v) {
  os << v;
};

template <class Result>
std::string default_describe(const Result& r) {
  if constexpr (std::is_floating_point_v<Result>) {
    return fmt::format("{}", r);  // shortest text that reads back to the same bits
  } else if constexpr (std::is_arithmetic_v<Result>) {
    return std::to_string(r);
  } else if constexpr (streamable<Result>) {
    std::ostringstream os;
    os << r;
    return os.str();
  } else {
    return "<" + std::to_string(serialize(r).size()) + " bytes>";
  }
}
}  // namespace detail

/// A map/reduce job under construction: every rank builds the same one (SPMD), then calls partita::run.
/// Value type (copies share nothing but the callables' captured state).
///
///     auto job = partita::map_reduce_job<double>("sum")
///                    .partitions(100)
///                    .kernel([](const partita::partition& p, partita::context&) { return double(p.id.value); })
///                    .combine([](double& a, double&& b) { a += b; });
///
/// Result must be default-constructible and serializable (trivially copyable, or Boost.Serialization).
/// Results are combined in partition-id order, left to right, so a non-commutative or floating-point combine
/// gives the same bits whatever the rank count, policy or placement.
template <class Result>
class map_reduce_job {
 public:
  using result_type = Result;
  using kernel_fn = std::function<Result(const partition&, context&)>;
  using combine_fn = std::function<void(Result&, Result&&)>;
  using describe_fn = std::function<std::string(const Result&)>;
  using partition_fn = std::function<partition(partition_id)>;

  explicit map_reduce_job(std::string name) : name_(std::move(name)) {}

  /// `count` partitions with ids 0..count-1 and no payload.
  map_reduce_job& partitions(std::uint64_t count) {
    count_ = count;
    make_ = nullptr;
    return *this;
  }
  /// `count` partitions described on demand by `describe(id)` (every rank calls it for the ids it runs;
  /// it must be deterministic). Scales to millions of partitions without a list in memory.
  map_reduce_job& partitions(std::uint64_t count, partition_fn describe) {
    count_ = count;
    make_ = std::move(describe);
    return *this;
  }
  /// An explicit list; partition i gets id i.
  map_reduce_job& partitions(std::vector<partition> list) {
    auto shared = std::make_shared<std::vector<partition>>(std::move(list));
    for (std::size_t i = 0; i < shared->size(); ++i) (*shared)[i].id = partition_id{i};
    count_ = shared->size();
    make_ = [shared](partition_id id) { return (*shared)[id.value]; };
    return *this;
  }
  /// Declares an HDF5 input dataset of elements T (any rank): the partitions are its row blocks along the first
  /// axis, whole chunks (whole rows if contiguous) of about `partition_bytes` each. The rank that runs a partition
  /// reads its block (a reader thread, ahead of the kernels); the kernel sees it as ctx.input<T>() (or use
  /// block_kernel). The input's identity (file, dataset, shape, type, chunking, size, mtime) joins the parameters,
  /// so a restart against a changed input is refused. Throws usage_error (one line) if the dataset is missing or
  /// holds another element type. Local; call it on every rank (SPMD) before MPI-heavy work, it opens the file.
  template <class T>
  map_reduce_job& input(const std::string& file, const std::string& dataset,
                        std::uint64_t partition_bytes = default_partition_bytes) {
    auto in = std::make_shared<const detail::h5_input>(file, dataset, data_type_of<T>(), partition_bytes);
    count_ = in->partition_count();
    make_ = [in](partition_id id) { return partition{id, static_cast<double>(in->rows(id)), {}}; };
    input_ = std::move(in);
    return *this;
  }
  /// Declares a per-partition HDF5 output dataset of elements U: each partition's block (ctx.output<U>(), filled by
  /// the kernel) is written into its place by the rank that ran it, not sent to the scheduler; the file records the
  /// committed blocks and says "complete" once the job completed (docs/design.md, "Map/reduce data path"). By
  /// default the output has the input's rows, block for block, and its other axes (`row_shape` changes those);
  /// `rows_per_partition` > 0 gives each partition that many rows instead (needed for a job without an input). The
  /// file is made when the job starts; another job's file is refused unless --overwrite-output.
  template <class U>
  map_reduce_job& output(const std::string& file, const std::string& dataset,
                         std::optional<std::vector<std::uint64_t>> row_shape = std::nullopt,
                         std::uint64_t rows_per_partition = 0) {
    output_ = detail::h5_output_decl{file, dataset, data_type_of<U>(), std::move(row_shape), rows_per_partition};
    return *this;
  }
  /// A kernel on the declared input's typed block: Result(const block_view<T>&, context&).
  template <class T, class F>
  requires std::is_invocable_r_v < Result, F&, const block_view<T>
  &, context& > map_reduce_job& block_kernel(F f) {
    kernel_ = [f = std::move(f)](const partition&, context& ctx) mutable { return f(ctx.template input<T>(), ctx); };
    return *this;
  }
  /// The kernel: Result(const partition&, context&). Called concurrently on many threads.
  template <class F>
  requires std::is_invocable_r_v<Result, F&, const partition&, context&> map_reduce_job& kernel(F f) {
    kernel_ = std::move(f);
    return *this;
  }
  /// The associative combine: void(Result& into, Result&& next). Called on the scheduler rank in id order.
  template <class F>
  requires std::is_invocable_v<F&, Result&, Result&&> map_reduce_job& combine(F f) {
    combine_ = std::move(f);
    return *this;
  }
  /// How the result is printed (summary, JSON `result`); by default fmt/operator<< where available.
  map_reduce_job& describe(describe_fn f) {
    describe_ = std::move(f);
    return *this;
  }
  /// Parameters the kernel reads through ctx.params(); they also identify the job's checkpoints.
  map_reduce_job& params(parameters p) {
    params_ = std::move(p);
    return *this;
  }

  const std::string& name() const noexcept { return name_; }
  std::uint64_t partition_count() const noexcept { return count_; }

  /// The type-erased model the scheduler runs. Throws usage_error if the kernel or combine is missing.
  std::unique_ptr<map_job_model> model() const;

 private:
  std::string name_;
  std::uint64_t count_ = 0;
  partition_fn make_;
  kernel_fn kernel_;
  combine_fn combine_;
  describe_fn describe_;
  parameters params_;
  std::shared_ptr<const detail::h5_input> input_;
  std::optional<detail::h5_output_decl> output_;
};

namespace detail {

/// Adapts a typed job to the scheduler's map_job_model.
template <class Result>
class map_job_adapter final : public map_job_model {
 public:
  map_job_adapter(std::string name, std::uint64_t count, typename map_reduce_job<Result>::partition_fn make,
                  typename map_reduce_job<Result>::kernel_fn kernel,
                  typename map_reduce_job<Result>::combine_fn combine,
                  typename map_reduce_job<Result>::describe_fn describe, parameters params,
                  std::shared_ptr<const h5_input> input, std::shared_ptr<h5_output> output)
      : name_(std::move(name)), count_(count), make_(std::move(make)), kernel_(std::move(kernel)),
        combine_(std::move(combine)), describe_(std::move(describe)), params_(std::move(params)),
        input_(std::move(input)), output_(std::move(output)) {}

  const std::string& name() const override { return name_; }
  std::uint64_t partition_count() const override { return count_; }
  double cost_hint(partition_id id) const override { return make_ ? make_(id).cost_hint : 0.0; }
  const parameters& params() const override { return params_; }
  bool has_input() const override { return input_ != nullptr; }
  void read_input(partition_id id, input_block& into) override {
    if (input_) input_->read(id, into);
  }
  bool has_output() const override { return output_ != nullptr; }
  std::uint64_t prepare_output(std::uint64_t params_hash, bool resume, bool overwrite) override {
    return output_ ? output_->prepare(params_hash, resume, overwrite) : 0;
  }
  void open_output(std::uint64_t offset, output_io io) override {
    if (output_) output_->open(offset, io);
  }
  void shape_output(partition_id id, input_block& into) const override {
    if (output_) output_->shape_block(id, into);
  }
  // The block's CRC-32 rides at the end of the result (block_crc), wherever the result goes: the scheduler records it.
  void seal_output(partition_id, const input_block& block, bytes& result) const override {
    if (!output_) return;
    const std::uint32_t crc = output_->checksum(block);
    const auto* b = reinterpret_cast<const std::byte*>(&crc);
    result.insert(result.end(), b, b + sizeof crc);
  }
  void write_output(partition_id id, const input_block& block) override {
    if (output_) output_->write(id, block);
  }
  void sync_output() override {
    if (output_) output_->sync();
  }
  void record_output(const std::vector<std::uint8_t>& committed, const std::vector<std::uint32_t>& crcs,
                     bool complete) override {
    if (output_) output_->record(committed, crcs, complete);
  }
  std::optional<std::uint32_t> block_crc(std::span<const std::byte> result) const override {
    if (!output_ || result.size() < sizeof(std::uint32_t)) return std::nullopt;
    std::uint32_t crc = 0;
    std::memcpy(&crc, result.data() + result.size() - sizeof crc, sizeof crc);
    return crc;
  }
  output_stats write_stats() const override { return output_ ? output_->stats() : output_stats{}; }
  block_bytes data_bytes(std::uint64_t first, std::uint64_t end) const override {
    return {input_ ? input_->bytes_of(first, end) : 0, output_ ? output_->bytes_of(first, end) : 0};
  }

  // With an output, the executor gave the kernel its block (shape_output, ctx.output) and has it written after this
  // returns (seal_output appends the block's CRC-32 to the result), durable before the result leaves the rank.
  void run(partition_id id, context& ctx, bytes& out) override {
    const partition p = make_ ? make_(id) : partition{id, 0, {}};
    serialize_into(out, kernel_(p, ctx));
  }

  void fold(std::span<const std::byte> result) override {
    if (output_) result = result.first(result.size() - std::min(result.size(), sizeof(std::uint32_t)));
    fold_value(result);  // without its output CRC trailer, a result folds as a value does
  }
  void fold_value(std::span<const std::byte> value) override {
    Result r = deserialize<Result>(value);  // an accumulator's bytes: no output CRC trailer
    if (!acc_) acc_ = std::move(r);
    else combine_(*acc_, std::move(r));
  }
  void reset() override {
    acc_.reset();
    spare_.reset();
  }
  bool swap_accumulator() override {
    std::swap(acc_, spare_);
    return true;
  }
  bytes accumulator() const override { return acc_ ? serialize(*acc_) : bytes{}; }
  void restore(std::span<const std::byte> acc) override {
    if (acc.empty()) acc_.reset();
    else acc_ = deserialize<Result>(acc);
  }
  std::string describe(std::span<const std::byte> acc) const override {
    const Result r = acc.empty() ? Result{} : deserialize<Result>(acc);
    return describe_ ? describe_(r) : default_describe(r);
  }

 private:
  std::string name_;
  std::uint64_t count_;
  typename map_reduce_job<Result>::partition_fn make_;
  typename map_reduce_job<Result>::kernel_fn kernel_;
  typename map_reduce_job<Result>::combine_fn combine_;
  typename map_reduce_job<Result>::describe_fn describe_;
  parameters params_;
  std::shared_ptr<const h5_input> input_;
  std::shared_ptr<h5_output> output_;
  std::optional<Result> acc_;
  std::optional<Result> spare_;  // the second accumulator of swap_accumulator()
};

}  // namespace detail

template <class Result>
std::unique_ptr<map_job_model> map_reduce_job<Result>::model() const {
  if (!kernel_) throw usage_error("job '" + name_ + "' has no kernel; call .kernel(...) before running it");
  if (!combine_) throw usage_error("job '" + name_ + "' has no combine; call .combine(...) before running it");
  parameters p = params_;
  if (input_) {
    // The input's identity is part of the parameters hash: a checkpoint of another input is refused on restart.
    p.set("input.identity", input_->info().identity());
    p.set("input.rows_per_partition", std::to_string(input_->rows_per_partition()));
  }
  std::shared_ptr<detail::h5_output> out;
  if (output_) {
    // The output's rows: the input's blocks row for row, or a fixed count per partition.
    std::vector<std::uint64_t> row_shape;
    if (output_->row_shape) row_shape = *output_->row_shape;
    else if (input_) row_shape.assign(input_->info().shape.begin() + 1, input_->info().shape.end());
    std::uint64_t per = output_->rows_per_partition, total = per * count_;
    if (per == 0) {
      if (!input_)
        throw usage_error("job '" + name_ + "' declares an output without an input: give it rows_per_partition");
      per = input_->rows_per_partition();
      total = input_->info().rows();
    }
    out = std::make_shared<detail::h5_output>(*output_, std::move(row_shape), per, total, count_, name_);
    p.set("output.target", out->identity());  // not an ".identity": a new target is a new job, not a changed input
  }
  return std::make_unique<detail::map_job_adapter<Result>>(name_, count_, make_, kernel_, combine_, describe_,
                                                           std::move(p), input_, std::move(out));
}

}  // namespace partita
