#include <partita/checkpoint/output_check.hpp>

#include <hdf5.h>

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/h5_attr.hpp>
#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/human_bytes.hpp>
#include <partita/checkpoint/detail/output_paths.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/runtime/error.hpp>

namespace partita {

namespace fs = std::filesystem;
using detail::get_string_attr;
using detail::get_u64_attr;
using detail::h5_handle;
using detail::h5_kind;
using detail::output_committed_path;
using detail::output_crc_path;

namespace {

h5_handle open_read_only(const fs::path& file) {
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_file_locking(fapl.get(), false, true));
  return h5_handle(PARTITA_H5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
}

/// A one-dimensional dataset of `n` elements read as `mem_type`; throws error naming it otherwise.
template <class T>
std::vector<T> read_record(hid_t f, const char* path, std::uint64_t n, hid_t mem_type) {
  if (H5Lexists(f, "/partita", H5P_DEFAULT) <= 0 || H5Lexists(f, path, H5P_DEFAULT) <= 0)
    throw error(fmt::format("it has no {} (written before Partita recorded it?)", path));
  h5_handle ds(PARTITA_H5(H5Dopen2(f, path, H5P_DEFAULT)), h5_kind::dataset);
  h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space.get()) != 1 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0 ||
      dims[0] != std::max<std::uint64_t>(1, n))
    throw error(fmt::format("{} does not have one element per partition ({})", path, n));
  std::vector<T> v(dims[0]);
  PARTITA_H5(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()));
  return v;
}

/// What the attributes, the record and the dataset's shape say; every size checked before it is used.
struct output_layout {
  std::string job, dataset;
  std::uint64_t params_hash = 0, partitions = 0, rows_per_partition = 0;
  bool complete = false;
  std::vector<std::uint8_t> committed;
  std::vector<std::uint32_t> crcs;
  std::vector<hsize_t> shape;
  std::string type_name;
  std::uint64_t row_bytes = 0;

  std::uint64_t committed_count() const {
    return static_cast<std::uint64_t>(std::count_if(committed.begin(), committed.begin() + partitions,
                                                    [](std::uint8_t b) { return b != 0; }));
  }
  std::uint64_t first_row(std::uint64_t i) const { return std::min<std::uint64_t>(i * rows_per_partition, shape[0]); }
  std::uint64_t rows(std::uint64_t i) const {
    return std::min<std::uint64_t>(rows_per_partition, shape[0] - first_row(i));
  }
};

std::string type_name_of(hid_t type) {
  const auto size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT: return fmt::format("float{}", size * 8);
    case H5T_INTEGER: return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", size * 8);
    default: return fmt::format("{}-byte elements", size);
  }
}

output_layout read_layout(hid_t f) {
  output_layout l;
  const auto job = get_string_attr(f, "partita_job");
  const auto partitions = get_u64_attr(f, "partita_partitions");
  if (!job || !partitions) throw error("it is not a Partita output file (no partita_job / partita_partitions)");
  l.job = *job;
  l.partitions = *partitions;
  l.params_hash = get_u64_attr(f, "partita_params_hash").value_or(0);
  l.complete = get_u64_attr(f, "partita_complete").value_or(0) == 1;
  const auto dataset = get_string_attr(f, "partita_dataset");
  const auto per = get_u64_attr(f, "partita_rows_per_partition");
  if (!dataset || !per || *per == 0)
    throw error("it does not say which dataset and rows its blocks are (written before Partita recorded block "
                "checksums: rerun the job to check it)");
  l.dataset = *dataset;
  l.rows_per_partition = *per;
  if (H5Lexists(f, l.dataset.c_str(), H5P_DEFAULT) <= 0) throw error("its dataset " + l.dataset + " is missing");
  h5_handle ds(PARTITA_H5(H5Dopen2(f, l.dataset.c_str(), H5P_DEFAULT)), h5_kind::dataset);
  h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 32) throw error("its dataset " + l.dataset + " has no rows");
  l.shape.resize(static_cast<std::size_t>(rank));
  PARTITA_H5(H5Sget_simple_extent_dims(space.get(), l.shape.data(), nullptr));
  h5_handle type(PARTITA_H5(H5Dget_type(ds.get())), h5_kind::datatype);
  l.type_name = type_name_of(type.get());
  l.row_bytes = H5Tget_size(type.get());
  for (std::size_t i = 1; i < l.shape.size(); ++i) l.row_bytes *= l.shape[i];
  // Every block lies inside the dataset, the last one possibly short: the partition count fits the rows.
  if (l.partitions == 0 || (l.partitions - 1) >= (l.shape[0] + l.rows_per_partition - 1) / l.rows_per_partition)
    throw error(fmt::format("{} partitions of {} rows do not fit the {} rows of {}", l.partitions, l.rows_per_partition,
                            l.shape[0], l.dataset));
  l.committed = read_record<std::uint8_t>(f, output_committed_path, l.partitions, H5T_NATIVE_UINT8);
  l.crcs = read_record<std::uint32_t>(f, output_crc_path, l.partitions, H5T_NATIVE_UINT32);
  return l;
}

/// Reads partition `i`'s block as the file holds it (the dataset's own type: no conversion) and returns its CRC-32.
std::uint32_t block_crc(hid_t f, const output_layout& l, std::uint64_t i, std::vector<std::byte>& buffer) {
  h5_handle ds(PARTITA_H5(H5Dopen2(f, l.dataset.c_str(), H5P_DEFAULT)), h5_kind::dataset);
  const auto rows = l.rows(i);
  buffer.resize(rows * l.row_bytes);
  if (rows == 0) return detail::crc32({});
  h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
  std::vector<hsize_t> start(l.shape.size(), 0), count(l.shape);
  start[0] = l.first_row(i);
  count[0] = rows;
  PARTITA_H5(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
  h5_handle mem(PARTITA_H5(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)),
                h5_kind::dataspace);
  h5_handle type(PARTITA_H5(H5Dget_type(ds.get())), h5_kind::datatype);
  PARTITA_H5(H5Dread(ds.get(), type.get(), mem.get(), space.get(), H5P_DEFAULT, buffer.data()));
  return detail::crc32(std::span<const std::byte>(buffer));
}

}  // namespace

bool is_block_output_file(const fs::path& file) {
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  try {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec) || H5Fis_hdf5(file.c_str()) <= 0) return false;
    const auto f = open_read_only(file);
    return get_string_attr(f.get(), "partita_job").has_value() &&
           get_u64_attr(f.get(), "partita_partitions").has_value();
  } catch (...) {
    return false;
  }
}

output_verify_report verify_output(const fs::path& file) {
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  output_verify_report r;
  try {
    const auto f = open_read_only(file);
    const auto l = read_layout(f.get());
    r.job = l.job;
    r.dataset = l.dataset;
    r.partitions = l.partitions;
    r.committed = l.committed_count();
    r.complete = l.complete;
    std::vector<std::byte> buffer;
    for (std::uint64_t i = 0; i < l.partitions; ++i) {
      if (!l.committed[i]) continue;
      const auto crc = block_crc(f.get(), l, i, buffer);
      if (crc != l.crcs[i]) {
        r.outcome = output_verify_report::verdict::bad_block;
        r.bad_partition = i;
        r.first_row = l.first_row(i);
        r.rows = l.rows(i);
        r.recorded_crc = l.crcs[i];
        r.computed_crc = crc;
        return r;
      }
      ++r.verified;
    }
    r.outcome = r.committed == r.partitions && r.complete ? output_verify_report::verdict::ok
                                                          : output_verify_report::verdict::incomplete;
  } catch (const std::exception& e) {
    r.outcome = output_verify_report::verdict::unreadable;
    r.problem = e.what();
  }
  return r;
}

std::string output_verify_report::line() const {
  switch (outcome) {
    case verdict::ok:
      return fmt::format("OK (output of job '{}', {}: all {} blocks committed, each block's CRC-32 verified)", job,
                         dataset, partitions);
    case verdict::bad_block:
      return fmt::format("BAD: block of partition {} (rows {}..{} of {}): CRC-32 {:#010x} recorded when it was "
                         "committed, {:#010x} in the file now",
                         bad_partition, first_row, first_row + rows - (rows > 0 ? 1 : 0), dataset, recorded_crc,
                         computed_crc);
    case verdict::incomplete:
      return fmt::format("INCOMPLETE: {} of {} blocks committed{} (output of job '{}', {}; the {} committed blocks "
                         "verify): restart the job with --restart auto to finish it",
                         committed, partitions, complete ? "" : ", the job did not complete", job, dataset, verified);
    case verdict::unreadable: return "BAD: " + problem;
  }
  return {};
}

std::string inspect_output(const fs::path& file) {
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  std::string out = "output " + file.string();
  try {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (!ec) out += " (" + detail::human_bytes(size) + ")";
    out += "\n";
    const auto f = open_read_only(file);
    const auto l = read_layout(f.get());
    const auto committed = l.committed_count();
    out += fmt::format("  job          {} (map_reduce), parameters hash {:#018x}\n", l.job, l.params_hash);
    out += fmt::format("  dataset      {}, shape {}, {}, {} rows per partition\n", l.dataset, fmt::join(l.shape, "x"),
                       l.type_name, l.rows_per_partition);
    out += fmt::format("  blocks       {} of {} committed; {}\n", committed, l.partitions,
                       l.complete && committed == l.partitions ? "complete" : "INCOMPLETE (restart the job to finish)");
    out += "  checksums    a CRC-32 per committed block (/partita/block_crc32); `partita verify` recomputes them\n";
  } catch (const std::exception& e) {
    out += "  cannot be read: " + std::string(e.what()) + "\n";
  }
  return out;
}

}  // namespace partita
