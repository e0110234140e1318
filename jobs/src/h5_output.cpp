#include <partita/jobs/h5_output.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/jobs/h5_input.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

h5_output::h5_output(const h5_output_decl& decl, std::vector<std::uint64_t> row_shape, std::uint64_t rows_per_partition,
                     std::uint64_t total_rows, std::uint64_t partitions, std::string job)
    : rows_per_partition_(std::max<std::uint64_t>(1, rows_per_partition)) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(decl.file, ec);
  spec_.file = ec ? std::filesystem::path(decl.file) : absolute.lexically_normal();
  spec_.dataset = decl.dataset;
  spec_.type = decl.type;
  spec_.shape = {total_rows};
  spec_.shape.insert(spec_.shape.end(), row_shape.begin(), row_shape.end());
  spec_.partitions = partitions;
  spec_.rows_per_partition = rows_per_partition_;
  spec_.job = std::move(job);
  if (decl.dataset.empty() || decl.dataset.front() != '/')
    throw usage_error(fmt::format("output {}: the dataset must be a path from the root, e.g. /y (not '{}')", decl.file,
                                  decl.dataset));
}

std::string h5_output::identity() const {
  return fmt::format("file={};dataset={};type={};shape={}", spec_.file.string(), spec_.dataset,
                     data_type_name(spec_.type), fmt::join(spec_.shape, "x"));
}

namespace {
std::uint64_t since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
}
}  // namespace

std::uint64_t h5_output::row_bytes() const noexcept {
  std::uint64_t n = data_type_size(spec_.type);
  for (std::size_t i = 1; i < spec_.shape.size(); ++i) n *= spec_.shape[i];
  return n;
}

std::uint64_t h5_output::rows(partition_id id) const noexcept {
  return block_rows(id.value, id.value + 1, rows_per_partition_, spec_.shape[0]);
}

std::uint64_t h5_output::bytes_of(std::uint64_t first, std::uint64_t end) const noexcept {
  return block_rows(first, end, rows_per_partition_, spec_.shape[0]) * row_bytes();
}

std::uint64_t h5_output::prepare(std::uint64_t params_hash, bool resume, bool overwrite) {
  spec_.params_hash = params_hash;
  return prepare_block_output(spec_, resume ? output_start::resume : output_start::fresh, overwrite);
}

void h5_output::open(std::uint64_t offset, output_io io) {
  writer_ = std::make_unique<block_file_writer>(spec_.file, offset, io);
}

void h5_output::shape_block(partition_id id, input_block& into) const {
  into.type = spec_.type;
  into.first_row = id.value * rows_per_partition_;
  into.shape = spec_.shape;
  into.shape[0] = rows(id);
  // A reused buffer keeps its capacity (resize within it allocates nothing); its old bytes are zeroed, as a fresh
  // block's are: a kernel that leaves elements untouched still writes the same bytes every time.
  into.data.clear();
  into.data.resize(rows(id) * row_bytes());
}

std::uint32_t h5_output::checksum(const input_block& block) {
  // The bytes as they are in the file (native layout = the dataset's little-endian type on this platform):
  // `partita verify` recomputes the same CRC-32 from the dataset.
  return crc32(std::span<const std::byte>(block.data));
}

void h5_output::write(partition_id id, const input_block& block) {
  if (!writer_) throw error("output " + spec_.file.string() + ": not opened (start_output did not run)");
  if (block.data.size() != rows(id) * row_bytes())
    throw error(fmt::format("output {}: partition {}'s block has {} bytes, not {}", spec_.file.string(), id.value,
                            block.data.size(), rows(id) * row_bytes()));
  const auto start = std::chrono::steady_clock::now();
  if (!block.data.empty())
    writer_->write(id.value * rows_per_partition_ * row_bytes(), block.data.data(), block.data.size());
  nanos_ += since(start);
  bytes_ += block.data.size();
  ++blocks_;
}

void h5_output::sync() {
  if (!writer_) throw error("output " + spec_.file.string() + ": not opened (start_output did not run)");
  const auto start = std::chrono::steady_clock::now();
  writer_->sync();
  nanos_ += since(start);
}

void h5_output::record(const std::vector<std::uint8_t>& committed, const std::vector<std::uint32_t>& crcs,
                       bool complete) {
  record_block_output(spec_, committed, crcs, complete);
}

output_stats h5_output::stats() const {
  return {bytes_.load(), blocks_.load(), static_cast<double>(nanos_.load()) * 1e-9,
          writer_ ? writer_->direct_bytes() : 0};
}

}  // namespace partita::detail
