#include "heat_initial.hpp"

#include <sys/stat.h>

#include <hdf5.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace fs = std::filesystem;

namespace {

/// A file access property list with HDF5 file locking off (shared file systems refuse the lock).
h5_handle read_only_fapl() {
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_file_locking(fapl.get(), false, true));
  return fapl;
}

}  // namespace

struct heat_initial_field::open_file {
  std::mutex m;
  h5_handle file, dataset;
  ~open_file() {
    const auto hdf5 = h5_lock();
    dataset.reset();
    file.reset();
  }
};

heat_initial_field::heat_initial_field(const std::string& spec, std::uint64_t rows, std::uint64_t cols)
    : open_(std::make_shared<open_file>()) {
  const auto colon = spec.rfind(':');
  const std::string fix = fmt::format("give a 2-D float dataset of {} x {} (rows = blocks_y * block, columns = "
                                      "blocks_x * block), e.g. --param initial=field.h5:/u",
                                      rows, cols);
  const auto bad = [&](const std::string& why) {
    return usage_error("heat: initial=" + spec + ": " + why + "; " + fix);
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) throw bad("not FILE:DATASET");
  file_ = spec.substr(0, colon);
  dataset_ = spec.substr(colon + 1);
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) throw bad(fmt::format("cannot read {} ({})", file_, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw bad(file_ + " is not a regular file");
  const auto hdf5 = h5_lock();
  silence_hdf5_errors();
  if (H5Fis_hdf5(file_.c_str()) <= 0) throw bad(file_ + " is not an HDF5 file");
  hsize_t dims[2] = {0, 0};
  try {
    h5_handle fapl = read_only_fapl();
    h5_handle f(PARTITA_H5(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
    if (H5Lexists(f.get(), dataset_.c_str(), H5P_DEFAULT) <= 0)
      throw bad(fmt::format("{} has no dataset {}", file_, dataset_));
    h5_handle ds(PARTITA_H5(H5Dopen2(f.get(), dataset_.c_str(), H5P_DEFAULT)), h5_kind::dataset);
    h5_handle type(PARTITA_H5(H5Dget_type(ds.get())), h5_kind::datatype);
    if (PARTITA_H5(H5Tget_class(type.get())) != H5T_FLOAT) throw bad(dataset_ + " is not of a floating-point type");
    h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
    const int rank = PARTITA_H5(H5Sget_simple_extent_ndims(space.get()));
    if (rank != 2) throw bad(fmt::format("{} has {} dimension(s), not 2", dataset_, rank));
    PARTITA_H5(H5Sget_simple_extent_dims(space.get(), dims, nullptr));
  } catch (const usage_error&) {
    throw;
  } catch (const error& e) {
    throw bad(e.what());
  }
  if (dims[0] != rows || dims[1] != cols)
    throw bad(fmt::format("{} is {} x {}, the grid is {} x {}", dataset_, dims[0], dims[1], rows, cols));
  std::error_code ec;
  const auto absolute = fs::absolute(file_, ec);
  identity_ = fmt::format("file={};dataset={};shape={}x{};size={};mtime={}", ec ? file_ : absolute.string(), dataset_,
                          dims[0], dims[1], static_cast<std::uint64_t>(st.st_size),
                          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

std::vector<double> heat_initial_field::block(std::uint64_t row, std::uint64_t col, std::uint64_t side) const {
  std::vector<double> out(side * side);
  std::lock_guard<std::mutex> once(open_->m);
  const auto hdf5 = h5_lock();
  try {
    if (!open_->dataset) {
      h5_handle fapl = read_only_fapl();
      open_->file = h5_handle(PARTITA_H5(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
      open_->dataset = h5_handle(PARTITA_H5(H5Dopen2(open_->file.get(), dataset_.c_str(), H5P_DEFAULT)),
                                 h5_kind::dataset);
    }
    h5_handle space(PARTITA_H5(H5Dget_space(open_->dataset.get())), h5_kind::dataspace);
    const hsize_t start[2] = {row, col}, count[2] = {side, side};
    PARTITA_H5(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr));
    h5_handle mem(PARTITA_H5(H5Screate_simple(2, count, nullptr)), h5_kind::dataspace);
    PARTITA_H5(H5Dread(open_->dataset.get(), H5T_NATIVE_DOUBLE, mem.get(), space.get(), H5P_DEFAULT, out.data()));
  } catch (const error& e) {
    throw error(fmt::format("heat: reading the initial field {}:{} at ({}, {}): {}", file_, dataset_, row, col,
                            e.what()));
  }
  return out;
}

}  // namespace partita::detail
