#include <partita/jobs/h5_input.hpp>

#include <algorithm>

namespace partita::detail {

h5_input::h5_input(const std::string& file, const std::string& dataset, data_type type, std::uint64_t target_bytes)
    : info_(inspect_h5_dataset(file, dataset, type)),
      rows_per_partition_(partita::rows_per_partition(info_, target_bytes)),
      reader_(std::make_shared<h5_block_reader>(info_, rows_per_partition_ * info_.row_bytes())) {}

std::uint64_t h5_input::partition_count() const noexcept {
  return (info_.rows() + rows_per_partition_ - 1) / rows_per_partition_;
}

std::uint64_t h5_input::rows(partition_id id) const noexcept {
  return block_rows(id.value, id.value + 1, rows_per_partition_, info_.rows());
}

void h5_input::read(partition_id id, input_block& into) const {
  const auto n = rows(id);
  into.type = info_.type;
  into.first_row = first_row(id);
  into.shape = info_.shape;
  into.shape[0] = n;
  into.data.resize(n * info_.row_bytes());
  if (n > 0) reader_->read(into.first_row, n, into.data.data());
}

}  // namespace partita::detail
