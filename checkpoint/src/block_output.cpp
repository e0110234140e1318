#include <partita/checkpoint/block_output.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include <partita/checkpoint/detail/h5_attr.hpp>
#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/output_paths.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/runtime/block_bytes.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

using detail::get_string_attr;
using detail::get_u64_attr;
using detail::h5_handle;
using detail::h5_kind;
using detail::output_committed_path;
using detail::output_crc_path;

namespace {

hid_t file_type(data_type t) {
  switch (t) {
    case data_type::float64: return H5T_IEEE_F64LE;
    case data_type::float32: return H5T_IEEE_F32LE;
    case data_type::int64: return H5T_STD_I64LE;
    case data_type::int32: return H5T_STD_I32LE;
    case data_type::uint64: return H5T_STD_U64LE;
    case data_type::uint32: return H5T_STD_U32LE;
    case data_type::uint8: return H5T_STD_U8LE;
  }
  return H5T_IEEE_F64LE;
}

h5_handle unlocked_fapl() {
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_file_locking(fapl.get(), false, true));
  return fapl;
}

// Replaces attribute `name` of `obj` with the scalar `v` (stored as `file_type`, given as `mem_type`).
template <class T>
void put_scalar_attr(hid_t obj, const char* name, T v, hid_t file_type, hid_t mem_type) {
  if (PARTITA_H5(H5Aexists(obj, name)) > 0) PARTITA_H5(H5Adelete(obj, name));
  h5_handle space(PARTITA_H5(H5Screate(H5S_SCALAR)), h5_kind::dataspace);
  h5_handle a(PARTITA_H5(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT)), h5_kind::attribute);
  PARTITA_H5(H5Awrite(a.get(), mem_type, &v));
}

void put_u64_attr(hid_t obj, const char* name, std::uint64_t v) {
  put_scalar_attr(obj, name, v, H5T_STD_U64LE, H5T_NATIVE_UINT64);
}

void put_u8_attr(hid_t obj, const char* name, std::uint8_t v) {
  put_scalar_attr(obj, name, v, H5T_STD_U8LE, H5T_NATIVE_UINT8);
}

void put_string_attr(hid_t obj, const char* name, const std::string& v) {
  if (PARTITA_H5(H5Aexists(obj, name)) > 0) PARTITA_H5(H5Adelete(obj, name));
  h5_handle type(PARTITA_H5(H5Tcopy(H5T_C_S1)), h5_kind::datatype);
  PARTITA_H5(H5Tset_size(type.get(), std::max<std::size_t>(1, v.size())));
  h5_handle space(PARTITA_H5(H5Screate(H5S_SCALAR)), h5_kind::dataspace);
  h5_handle a(PARTITA_H5(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT)), h5_kind::attribute);
  std::string padded = v.empty() ? std::string(1, '\0') : v;
  PARTITA_H5(H5Awrite(a.get(), type.get(), padded.data()));
}

/// Whose output `file` is: "" if it is this job's with these parameters; else the problem as a phrase.
std::string owner_problem(hid_t f, const block_output_spec& spec) {
  const auto job = get_string_attr(f, "partita_job");
  const auto hash = get_u64_attr(f, "partita_params_hash");
  if (!job || !hash) return "is not a Partita output file";
  if (*job != spec.job) return fmt::format("holds another job's ('{}') output", *job);
  if (*hash != spec.params_hash) return fmt::format("holds the output of job '{}' with other parameters", spec.job);
  return {};
}

/// The dataset's offset if `f` holds it with the spec's shape and type (allocated, contiguous); nullopt otherwise.
std::optional<std::uint64_t> reusable_offset(hid_t f, const block_output_spec& spec) {
  if (H5Lexists(f, spec.dataset.c_str(), H5P_DEFAULT) <= 0 || H5Lexists(f, "/partita", H5P_DEFAULT) <= 0 ||
      H5Lexists(f, output_committed_path, H5P_DEFAULT) <= 0)
    return std::nullopt;
  const hid_t id = H5Dopen2(f, spec.dataset.c_str(), H5P_DEFAULT);
  if (id < 0) return std::nullopt;
  h5_handle ds(id, h5_kind::dataset);
  h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank != static_cast<int>(spec.shape.size())) return std::nullopt;
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != spec.shape[i]) return std::nullopt;
  h5_handle type(PARTITA_H5(H5Dget_type(ds.get())), h5_kind::datatype);
  if (H5Tequal(type.get(), file_type(spec.type)) <= 0) return std::nullopt;
  const haddr_t at = H5Dget_offset(ds.get());
  if (at == HADDR_UNDEF) return std::nullopt;
  return static_cast<std::uint64_t>(at);
}

std::uint64_t create(const block_output_spec& spec) {
  // Every object of a page or more starts on a page, the dataset among them: blocks whose bytes are whole pages can
  // then be written with O_DIRECT (block_file_writer). Smaller objects (metadata, small records) are packed as before.
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_alignment(fapl.get(), block_alignment, block_alignment));
  h5_handle f(PARTITA_H5(H5Fcreate(spec.file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), h5_kind::file);
  h5_handle lcpl(PARTITA_H5(H5Pcreate(H5P_LINK_CREATE)), h5_kind::plist);
  PARTITA_H5(H5Pset_create_intermediate_group(lcpl.get(), 1));
  // Contiguous and allocated now: every block has its bytes at a fixed offset that ranks write with pwrite.
  h5_handle dcpl(PARTITA_H5(H5Pcreate(H5P_DATASET_CREATE)), h5_kind::plist);
  PARTITA_H5(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS));
  PARTITA_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY));
  PARTITA_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER));
  std::vector<hsize_t> dims(spec.shape.begin(), spec.shape.end());
  h5_handle space(PARTITA_H5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)),
                  h5_kind::dataspace);
  h5_handle ds(PARTITA_H5(H5Dcreate2(f.get(), spec.dataset.c_str(), file_type(spec.type), space.get(), lcpl.get(),
                                     dcpl.get(), H5P_DEFAULT)),
               h5_kind::dataset);
  const haddr_t at = H5Dget_offset(ds.get());
  if (at == HADDR_UNDEF)
    throw error(fmt::format("output {}: the dataset {} has no storage", spec.file.string(), spec.dataset));
  const hsize_t n[1] = {std::max<std::uint64_t>(1, spec.partitions)};
  h5_handle cspace(PARTITA_H5(H5Screate_simple(1, n, nullptr)), h5_kind::dataspace);
  h5_handle c(PARTITA_H5(H5Dcreate2(f.get(), output_committed_path, H5T_STD_U8LE, cspace.get(), lcpl.get(), H5P_DEFAULT,
                                    H5P_DEFAULT)),
              h5_kind::dataset);
  std::vector<std::uint8_t> zeros(n[0], 0);
  PARTITA_H5(H5Dwrite(c.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()));
  h5_handle crc(PARTITA_H5(H5Dcreate2(f.get(), output_crc_path, H5T_STD_U32LE, cspace.get(), lcpl.get(), H5P_DEFAULT,
                                      H5P_DEFAULT)),
                h5_kind::dataset);
  std::vector<std::uint32_t> no_crcs(n[0], 0);
  PARTITA_H5(H5Dwrite(crc.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, no_crcs.data()));
  crc.close();
  put_string_attr(f.get(), "partita_job", spec.job);
  put_string_attr(f.get(), "partita_dataset", spec.dataset);
  put_u64_attr(f.get(), "partita_rows_per_partition", spec.rows_per_partition);
  put_u64_attr(f.get(), "partita_params_hash", spec.params_hash);
  put_u64_attr(f.get(), "partita_partitions", spec.partitions);
  put_u8_attr(f.get(), "partita_complete", 0);
  c.close();
  ds.close();
  f.close();
  return static_cast<std::uint64_t>(at);
}

}  // namespace

std::uint64_t prepare_block_output(const block_output_spec& spec, output_start start, bool overwrite) {
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  const auto name = spec.file.string();
  try {
    std::error_code ec;
    if (std::filesystem::exists(spec.file, ec)) {
      std::string problem;
      std::optional<std::uint64_t> offset;
      if (H5Fis_hdf5(name.c_str()) <= 0) {
        problem = "is not a Partita output file";
      } else {
        h5_handle fapl = unlocked_fapl();
        const hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get());
        if (id < 0) {
          problem = "is not a Partita output file";
        } else {
          h5_handle f(id, h5_kind::file);
          problem = owner_problem(f.get(), spec);
          if (problem.empty() && start == output_start::resume) offset = reusable_offset(f.get(), spec);
        }
      }
      if (!problem.empty() && !overwrite)
        throw usage_error(fmt::format("output {} {}: pass --overwrite-output to replace it, or choose another file",
                                      name, problem));
      if (problem.empty() && offset) return *offset;
    }
    return create(spec);
  } catch (const usage_error&) {
    throw;
  } catch (const error& e) {
    throw error(fmt::format("output {}: {}", name, e.what()));
  }
}

void record_block_output(const block_output_spec& spec, const std::vector<std::uint8_t>& committed,
                         const std::vector<std::uint32_t>& crcs, bool complete) {
  const auto hdf5 = h5_lock();
  detail::silence_hdf5_errors();
  try {
    h5_handle fapl = unlocked_fapl();
    h5_handle f(PARTITA_H5(H5Fopen(spec.file.c_str(), H5F_ACC_RDWR, fapl.get())), h5_kind::file);
    h5_handle c(PARTITA_H5(H5Dopen2(f.get(), output_committed_path, H5P_DEFAULT)), h5_kind::dataset);
    h5_handle space(PARTITA_H5(H5Dget_space(c.get())), h5_kind::dataspace);
    hsize_t n = 0;
    PARTITA_H5(H5Sget_simple_extent_dims(space.get(), &n, nullptr));
    std::vector<std::uint8_t> bits(n, 0);
    for (std::size_t i = 0; i < bits.size() && i < committed.size(); ++i) bits[i] = committed[i];
    std::vector<std::uint32_t> sums(n, 0);
    for (std::size_t i = 0; i < sums.size() && i < crcs.size(); ++i) sums[i] = bits[i] ? crcs[i] : 0;
    // The checksums first, then the bits that make them count.
    if (H5Lexists(f.get(), output_crc_path, H5P_DEFAULT) <= 0) {
      h5_handle cspace(PARTITA_H5(H5Screate_simple(1, &n, nullptr)), h5_kind::dataspace);
      h5_handle made(PARTITA_H5(H5Dcreate2(f.get(), output_crc_path, H5T_STD_U32LE, cspace.get(), H5P_DEFAULT,
                                           H5P_DEFAULT, H5P_DEFAULT)),
                     h5_kind::dataset);
    }
    h5_handle crc(PARTITA_H5(H5Dopen2(f.get(), output_crc_path, H5P_DEFAULT)), h5_kind::dataset);
    PARTITA_H5(H5Dwrite(crc.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, sums.data()));
    crc.close();
    PARTITA_H5(H5Dwrite(c.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()));
    if (H5Aexists(f.get(), "partita_dataset") <= 0) {  // a file made before verify could read it
      put_string_attr(f.get(), "partita_dataset", spec.dataset);
      put_u64_attr(f.get(), "partita_rows_per_partition", spec.rows_per_partition);
    }
    put_u8_attr(f.get(), "partita_complete", complete ? 1 : 0);
    c.close();
    PARTITA_H5(H5Fflush(f.get(), H5F_SCOPE_GLOBAL));
    f.close();
  } catch (const error& e) {
    throw error(fmt::format("output {}: recording the committed blocks: {}", spec.file.string(), e.what()));
  }
}

block_file_writer::block_file_writer(std::filesystem::path file, std::uint64_t offset, output_io io)
    : file_(std::move(file)), offset_(offset), direct_(io == output_io::direct) {}

block_file_writer::~block_file_writer() {
  for (const int f : {fd_, direct_fd_})
    if (f >= 0 && ::close(f) != 0) log().warn("output {}: close failed: {}", file_.string(), std::strerror(errno));
}

int block_file_writer::fd() {
  std::lock_guard lock(open_);
  if (fd_ < 0) {
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw error(fmt::format("output {}: cannot open it to write ({})", file_.string(), std::strerror(errno)));
  }
  return fd_;
}

void block_file_writer::refused(const char* why) noexcept {
  if (direct_.exchange(false)) log().debug("output {}: {}: its blocks go through the page cache", file_.string(), why);
}

int block_file_writer::direct_fd() {
  std::lock_guard lock(open_);
  if (direct_fd_ < 0 && direct()) {
    direct_fd_ = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
    if (direct_fd_ < 0 && errno == EINVAL) refused("the file system refuses O_DIRECT");
    else if (direct_fd_ < 0)
      throw error(fmt::format("output {}: cannot open it to write ({})", file_.string(), std::strerror(errno)));
  }
  return direct() ? direct_fd_ : -1;
}

std::size_t block_file_writer::write_direct(const char* p, std::size_t size, std::uint64_t pos) {
  const int f = direct_fd();
  std::size_t done = 0;
  // A short write leaves the rest for the page cache unless it is still whole pages at a page.
  while (f >= 0 && size - done >= block_alignment && (pos + done) % block_alignment == 0 &&
         reinterpret_cast<std::uintptr_t>(p + done) % block_alignment == 0) {
    const std::size_t want = (size - done) / block_alignment * block_alignment;
    const auto n = ::pwrite(f, p + done, want, static_cast<off_t>(pos + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL) {
      refused("the file system refused an O_DIRECT write (EINVAL)");
      break;
    }
    if (n <= 0)
      throw error(fmt::format("output {}: writing {} bytes at {} (O_DIRECT): {}", file_.string(), want, pos + done,
                              n < 0 ? std::strerror(errno) : "nothing written"));
    done += static_cast<std::size_t>(n);
  }
  direct_bytes_.fetch_add(done, std::memory_order_relaxed);
  return done;
}

void block_file_writer::write(std::uint64_t at, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  std::uint64_t pos = offset_ + at;
  if (direct() && pos % block_alignment == 0 && reinterpret_cast<std::uintptr_t>(p) % block_alignment == 0) {
    const std::size_t n = write_direct(p, size, pos);
    p += n;
    pos += n;
    size -= n;
  }
  if (size == 0) return;
  const int f = fd();
  while (size > 0) {
    const auto n = ::pwrite(f, p, size, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw error(fmt::format("output {}: writing {} bytes at {}: {}", file_.string(), size, pos,
                              n < 0 ? std::strerror(errno) : "nothing written"));
    p += n;
    pos += static_cast<std::uint64_t>(n);
    size -= static_cast<std::size_t>(n);
  }
}

void block_file_writer::sync() {
  // One fdatasync of the file covers both descriptors (it is the inode's): the page cache's dirty pages, the
  // extents the direct writes allocated, and the disk's write cache.
  if (::fdatasync(fd()) != 0)
    throw error(fmt::format("output {}: fdatasync: {}", file_.string(), std::strerror(errno)));
}

}  // namespace partita
