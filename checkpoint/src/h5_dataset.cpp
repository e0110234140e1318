#include <partita/checkpoint/h5_dataset.hpp>

#include <sys/stat.h>

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/runtime/error.hpp>

namespace partita {

using detail::h5_handle;
using detail::h5_kind;

namespace {

namespace fs = std::filesystem;

hid_t memory_type(data_type t) {
  switch (t) {
    case data_type::float64: return H5T_NATIVE_DOUBLE;
    case data_type::float32: return H5T_NATIVE_FLOAT;
    case data_type::int64: return H5T_NATIVE_INT64;
    case data_type::int32: return H5T_NATIVE_INT32;
    case data_type::uint64: return H5T_NATIVE_UINT64;
    case data_type::uint32: return H5T_NATIVE_UINT32;
    case data_type::uint8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_DOUBLE;
}

/// The data_type a file's datatype is, if it is one Partita maps (class, size, sign).
bool file_data_type(hid_t type, data_type& out) {
  const auto cls = H5Tget_class(type);
  const auto size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (size == 8) out = data_type::float64;
    else if (size == 4) out = data_type::float32;
    else return false;
    return true;
  }
  if (cls != H5T_INTEGER) return false;
  const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
  if (size == 8) out = is_signed ? data_type::int64 : data_type::uint64;
  else if (size == 4) out = is_signed ? data_type::int32 : data_type::uint32;
  else if (size == 1 && !is_signed) out = data_type::uint8;
  else return false;
  return true;
}

/// File access with HDF5 file locking off (shared file systems refuse the lock).
h5_handle read_only_fapl() {
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_file_locking(fapl.get(), false, true));
  return fapl;
}

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t h5_dataset_info::row_elements() const noexcept {
  std::uint64_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

std::string h5_dataset_info::identity() const {
  return fmt::format("file={};dataset={};type={};shape={};chunk={};size={};mtime={}", file, dataset,
                     data_type_name(type), fmt::join(shape, "x"),
                     chunk.empty() ? std::string("contiguous") : fmt::format("{}", fmt::join(chunk, "x")), file_size,
                     mtime_ns);
}

h5_dataset_info inspect_h5_dataset(const std::string& file, const std::string& dataset, data_type want) {
  const auto bad = [&](const std::string& why) {
    return usage_error(fmt::format("input {}:{}: {}", file, dataset, why));
  };
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw bad(fmt::format("cannot read the file ({})", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw bad("not a regular file");
  h5_dataset_info info;
  std::error_code ec;
  const auto absolute = fs::absolute(file, ec);
  info.file = ec ? file : absolute.lexically_normal().string();
  info.dataset = dataset;
  info.file_size = static_cast<std::uint64_t>(st.st_size);
  info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  if (H5Fis_hdf5(file.c_str()) <= 0) throw bad("not an HDF5 file");
  try {
    h5_handle fapl = read_only_fapl();
    h5_handle f(PARTITA_H5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
    if (dataset.empty() || H5Lexists(f.get(), dataset.c_str(), H5P_DEFAULT) <= 0)
      throw bad("no such dataset in the file");
    const hid_t opened = H5Dopen2(f.get(), dataset.c_str(), H5P_DEFAULT);
    if (opened < 0) throw bad("not a dataset (a group?)");
    h5_handle ds(opened, h5_kind::dataset);
    h5_handle type(PARTITA_H5(H5Dget_type(ds.get())), h5_kind::datatype);
    data_type have{};
    if (!file_data_type(type.get(), have))
      throw bad(fmt::format("its element type is none Partita reads; the job wants {}", data_type_name(want)));
    if (have != want)
      throw bad(fmt::format("its elements are {}, the job wants {}", data_type_name(have), data_type_name(want)));
    info.type = have;
    h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
    const int rank = PARTITA_H5(H5Sget_simple_extent_ndims(space.get()));
    if (rank < 1) throw bad("a scalar dataset; the data path cuts datasets along their first axis");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    PARTITA_H5(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
    info.shape.assign(dims.begin(), dims.end());
    h5_handle dcpl(PARTITA_H5(H5Dget_create_plist(ds.get())), h5_kind::plist);
    if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
      std::vector<hsize_t> chunk(static_cast<std::size_t>(rank));
      PARTITA_H5(H5Pget_chunk(dcpl.get(), rank, chunk.data()));
      info.chunk.assign(chunk.begin(), chunk.end());
    }
  } catch (const usage_error&) {
    throw;
  } catch (const error& e) {
    throw bad(e.what());
  }
  if (info.rows() == 0) throw bad("the dataset is empty (0 rows)");
  return info;
}

std::uint64_t rows_per_partition(const h5_dataset_info& info, std::uint64_t target_bytes) {
  const std::uint64_t unit = info.chunk.empty() ? 1 : std::max<std::uint64_t>(1, info.chunk[0]);
  const std::uint64_t unit_bytes = std::max<std::uint64_t>(1, unit * info.row_bytes());
  const std::uint64_t units = std::max<std::uint64_t>(1, target_bytes / unit_bytes);
  return std::min(units * unit, std::max<std::uint64_t>(1, info.rows()));
}

struct h5_block_reader::handles {
  h5_handle file, dataset;
};

h5_block_reader::h5_block_reader(h5_dataset_info info, std::uint64_t /*block_bytes*/)
    : info_(std::move(info)), h_(std::make_unique<handles>()) {}

h5_block_reader::~h5_block_reader() {
  const auto hdf5 = h5_lock();
  h_->dataset.reset();
  h_->file.reset();
}

void h5_block_reader::read(std::uint64_t first_row, std::uint64_t rows, void* out) {
  const auto hdf5 = h5_lock();
  try {
    if (!h_->dataset) {
      detail::silence_hdf5_errors();
      h5_handle fapl = read_only_fapl();
      h_->file = h5_handle(PARTITA_H5(H5Fopen(info_.file.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
      h5_handle dapl(PARTITA_H5(H5Pcreate(H5P_DATASET_ACCESS)), h5_kind::plist);
      // No chunk cache: a block is whole chunks, each read once, so a cache would only add a copy of every chunk and
      // up to a block of memory (bench_data_read measured both). Chunks too large for the cache are read straight
      // into the block; compressed ones are still decompressed through a buffer of their own.
      PARTITA_H5(H5Pset_chunk_cache(dapl.get(), 1, 0, 1.0));
      h_->dataset = h5_handle(PARTITA_H5(H5Dopen2(h_->file.get(), info_.dataset.c_str(), dapl.get())),
                              h5_kind::dataset);
    }
    const auto rank = info_.shape.size();
    std::vector<hsize_t> start(rank, 0), count(info_.shape.begin(), info_.shape.end());
    start[0] = first_row;
    count[0] = rows;
    h5_handle space(PARTITA_H5(H5Dget_space(h_->dataset.get())), h5_kind::dataspace);
    PARTITA_H5(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
    h5_handle mem(PARTITA_H5(H5Screate_simple(static_cast<int>(rank), count.data(), nullptr)), h5_kind::dataspace);
    PARTITA_H5(H5Dread(h_->dataset.get(), memory_type(info_.type), mem.get(), space.get(), H5P_DEFAULT, out));
  } catch (const error& e) {
    throw error(fmt::format("reading rows {}..{} of {}:{}: {}", first_row, first_row + rows, info_.file, info_.dataset,
                            e.what()));
  }
}

double test_dataset_value(std::uint64_t seed, std::uint64_t k) noexcept {
  return static_cast<double>(splitmix64(splitmix64(seed) ^ k) >> 11) * 0x1.0p-53;
}

void write_test_dataset(const std::string& file, const std::string& dataset, std::uint64_t rows, std::uint64_t cols,
                        std::uint64_t chunk_rows, std::uint64_t seed) {
  if (rows == 0 || cols == 0) throw usage_error("make-input: --rows and --cols must be 1 or more");
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  try {
    h5_handle f(PARTITA_H5(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)), h5_kind::file);
    const hsize_t dims[2] = {rows, cols};
    h5_handle space(PARTITA_H5(H5Screate_simple(2, dims, nullptr)), h5_kind::dataspace);
    h5_handle dcpl(PARTITA_H5(H5Pcreate(H5P_DATASET_CREATE)), h5_kind::plist);
    if (chunk_rows > 0) {
      const hsize_t chunk[2] = {std::min(chunk_rows, rows), cols};
      PARTITA_H5(H5Pset_chunk(dcpl.get(), 2, chunk));
    }
    h5_handle lcpl(PARTITA_H5(H5Pcreate(H5P_LINK_CREATE)), h5_kind::plist);
    PARTITA_H5(H5Pset_create_intermediate_group(lcpl.get(), 1));
    h5_handle ds(PARTITA_H5(H5Dcreate2(f.get(), dataset.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(), dcpl.get(),
                                       H5P_DEFAULT)),
                 h5_kind::dataset);
    const std::uint64_t slab = std::max<std::uint64_t>(1, (std::uint64_t{8} << 20) / (cols * 8));
    std::vector<double> buf;
    for (std::uint64_t r = 0; r < rows; r += slab) {
      const auto n = std::min(slab, rows - r);
      buf.resize(n * cols);
      for (std::uint64_t i = 0; i < n * cols; ++i) buf[i] = test_dataset_value(seed, r * cols + i);
      const hsize_t start[2] = {r, 0}, count[2] = {n, cols};
      h5_handle fs(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
      PARTITA_H5(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr));
      h5_handle ms(PARTITA_H5(H5Screate_simple(2, count, nullptr)), h5_kind::dataspace);
      PARTITA_H5(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, ms.get(), fs.get(), H5P_DEFAULT, buf.data()));
    }
    ds.close();
    f.close();
  } catch (const error& e) {
    throw error(fmt::format("make-input {}:{}: {}", file, dataset, e.what()));
  }
}

}  // namespace partita
