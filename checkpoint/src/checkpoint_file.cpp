#include <partita/checkpoint/detail/checkpoint_file.hpp>

#include <fmt/format.h>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <set>
#include <system_error>

#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/h5_types.hpp>
#include <partita/checkpoint/h5_check.hpp>

namespace partita::detail {

namespace fs = std::filesystem;

void prepare_hdf5() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    // Before the first open: parallel file systems often have no (or broken) flock. A user's value wins.
    ::setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
  });
  silence_hdf5_errors();
}

std::optional<std::string> expectation_mismatch(const checkpoint_meta& m, const checkpoint_expectation& e) {
  if (m.job != e.job) return fmt::format("belongs to job '{}', not to job '{}'", m.job, e.job);
  if (m.params_hash != e.params_hash)
    return fmt::format("was written with parameters hash {:#018x}, but this run's parameters hash to {:#018x} "
                       "(the job's parameters changed; restarting would mix two runs)",
                       m.params_hash, e.params_hash);
  if (!e.model.empty() && m.model != e.model)
    return fmt::format("holds a '{}' job, but job '{}' is '{}'", m.model, e.job, e.model);
  return std::nullopt;
}

std::string problem_of_current_exception() {
  try {
    throw;
  } catch (const checkpoint_error& e) {
    return e.problem();
  } catch (const std::bad_alloc&) {
    return "out of memory while verifying it";
  } catch (const std::exception& e) {
    return e.what();
  }
}

h5_handle make_fapl() {
  h5_handle fapl(PARTITA_H5(H5Pcreate(H5P_FILE_ACCESS)), h5_kind::plist);
  PARTITA_H5(H5Pset_file_locking(fapl.get(), false, true));
  return fapl;
}

namespace {

// A crafted file must not make the reader open other files through external links.
herr_t deny_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) { return -1; }

h5_handle type_of(hid_t obj, bool attribute) {
  return h5_handle(attribute ? PARTITA_H5(H5Aget_type(obj)) : PARTITA_H5(H5Dget_type(obj)), h5_kind::datatype);
}

// Number of elements of a dataspace that must be scalar or one-dimensional; nullopt otherwise.
std::optional<std::uint64_t> count_1d(hid_t space) {
  const H5S_class_t cls = PARTITA_H5(H5Sget_simple_extent_type(space));
  if (cls == H5S_SCALAR) return 1;
  if (cls == H5S_NULL) return 0;
  if (cls != H5S_SIMPLE) return std::nullopt;
  if (PARTITA_H5(H5Sget_simple_extent_ndims(space)) != 1) return std::nullopt;
  hsize_t dims[1] = {0};
  PARTITA_H5(H5Sget_simple_extent_dims(space, dims, nullptr));
  return static_cast<std::uint64_t>(dims[0]);
}

// The size of a datatype; HDF5 signals failure with 0, which becomes an hdf5_error like PARTITA_H5's.
std::size_t type_size(hid_t type) {
  const std::size_t n = H5Tget_size(type);
  if (n == 0) throw_hdf5_error("H5Tget_size(type)");
  return n;
}

bool checked_add(std::uint64_t& sum, std::uint64_t add) {
  if (add > std::numeric_limits<std::uint64_t>::max() - sum) return false;
  sum += add;
  return true;
}

}  // namespace

checkpoint_file::checkpoint_file(fs::path file) : path_(std::move(file)), name_(path_.string()) {
  prepare_hdf5();
  std::error_code ec;
  const auto status = fs::status(path_, ec);
  if (ec || !fs::exists(status)) fail("no such file");
  if (!fs::is_regular_file(status)) fail("not a regular file");
  size_ = fs::file_size(path_, ec);
  if (ec) fail("cannot read its size: " + ec.message());
  if (size_ < 512) fail(fmt::format("only {} bytes: too small to be a checkpoint (truncated?)", size_));
  try {
    lapl_ = h5_handle(PARTITA_H5(H5Pcreate(H5P_DATASET_ACCESS)), h5_kind::plist);
    PARTITA_H5(H5Pset_elink_cb(lapl_.get(), deny_external_link, nullptr));
    PARTITA_H5(H5Pset_nlinks(lapl_.get(), 8));
    h5_handle fapl = make_fapl();
    file_ = h5_handle(PARTITA_H5(H5Fopen(name_.c_str(), H5F_ACC_RDONLY, fapl.get())), h5_kind::file);
  } catch (const hdf5_error& e) {
    fail(std::string("cannot be opened as HDF5 (truncated, corrupt or not a checkpoint): ") + e.what());
  }
}

void checkpoint_file::fail(const std::string& problem) const { throw checkpoint_error(name_, problem); }

namespace {

// Attribute readers for /meta: each checks the shape (one element), the type class and the size
// before reading anything.
class attr_reader {
 public:
  attr_reader(hid_t obj, const std::string& file) : obj_(obj), file_(file) {}

  h5_handle open(const char* name) const {
    if (PARTITA_H5(H5Aexists(obj_, name)) <= 0)
      throw checkpoint_error(file_, std::string("/meta has no attribute '") + name + "' (not a Partita checkpoint?)");
    h5_handle attr(PARTITA_H5(H5Aopen(obj_, name, H5P_DEFAULT)), h5_kind::attribute);
    h5_handle space(PARTITA_H5(H5Aget_space(attr.get())), h5_kind::dataspace);
    const auto n = count_1d(space.get());
    if (!n || *n != 1)
      throw checkpoint_error(file_, std::string("/meta attribute '") + name + "' is not a single value");
    return attr;
  }

  std::string text(const char* name) const {
    h5_handle attr = open(name);
    h5_handle type = type_of(attr.get(), true);
    if (PARTITA_H5(H5Tget_class(type.get())) != H5T_STRING || PARTITA_H5(H5Tis_variable_str(type.get())) > 0)
      throw checkpoint_error(file_, std::string("/meta attribute '") + name + "' is not a fixed-length string");
    const std::size_t size = type_size(type.get());
    if (size == 0 || size > max_string_bytes)
      throw checkpoint_error(file_, fmt::format("/meta attribute '{}' claims {} bytes (bound {})", name, size,
                                                max_string_bytes));
    h5_handle mem = string_type(size, H5T_STR_NULLPAD);
    std::string buf(size, '\0');
    PARTITA_H5(H5Aread(attr.get(), mem.get(), buf.data()));
    if (auto nul = buf.find('\0'); nul != std::string::npos) buf.resize(nul);
    return buf;
  }

  std::uint64_t unsigned_value(const char* name) const {
    h5_handle attr = open(name);
    h5_handle type = type_of(attr.get(), true);
    if (PARTITA_H5(H5Tget_class(type.get())) != H5T_INTEGER || type_size(type.get()) > 8)
      throw checkpoint_error(file_, std::string("/meta attribute '") + name + "' is not an integer");
    if (PARTITA_H5(H5Tget_sign(type.get())) == H5T_SGN_2) {
      std::int64_t v = 0;
      PARTITA_H5(H5Aread(attr.get(), H5T_NATIVE_INT64, &v));
      if (v < 0) throw checkpoint_error(file_, fmt::format("/meta attribute '{}' is negative ({})", name, v));
      return static_cast<std::uint64_t>(v);
    }
    std::uint64_t v = 0;
    PARTITA_H5(H5Aread(attr.get(), H5T_NATIVE_UINT64, &v));
    return v;
  }

 private:
  hid_t obj_;
  const std::string& file_;
};

}  // namespace

checkpoint_meta checkpoint_file::read_meta() {
  try {
    if (PARTITA_H5(H5Lexists(file_.get(), "meta", H5P_DEFAULT)) <= 0) fail("no /meta group: not a Partita checkpoint");
    h5_handle group(PARTITA_H5(H5Gopen2(file_.get(), meta_group, H5P_DEFAULT)), h5_kind::group);
    attr_reader attrs(group.get(), name_);
    checkpoint_meta m;
    const std::uint64_t version = attrs.unsigned_value("format_version");
    if (version == 0 || version > std::numeric_limits<std::uint32_t>::max())
      fail(fmt::format("format version {} is not a Partita checkpoint format", version));
    if (version > checkpoint_format_version) {
      std::string writer = "a newer Partita";
      try {
        writer = "Partita " + attrs.text("code_version");
      } catch (const error&) {  // the newer format may store it differently
      }
      fail(fmt::format("written in checkpoint format version {} by {}; this build (Partita {}) reads format "
                       "versions up to {}: restart with a newer Partita, or start fresh",
                       version, writer, PARTITA_CODE_VERSION, checkpoint_format_version));
    }
    m.format_version = static_cast<std::uint32_t>(version);
    m.code_version = attrs.text("code_version");
    m.job = attrs.text("job");
    m.model = attrs.text("model");
    m.params_hash = attrs.unsigned_value("params_hash");
    m.epoch = epoch_t{attrs.unsigned_value("epoch")};
    m.step = step_t{attrs.unsigned_value("step")};
    m.partition_count = attrs.unsigned_value("partition_count");
    const std::uint64_t ranks = attrs.unsigned_value("rank_count");
    if (ranks == 0 || ranks > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      fail(fmt::format("/meta attribute 'rank_count' is {}, not a rank count", ranks));
    m.rank_count = static_cast<int>(ranks);
    return m;
  } catch (const checkpoint_error&) {
    throw;
  } catch (const hdf5_error& e) {
    fail(std::string("cannot read /meta: ") + e.what());
  }
}

// Every member must be there with the expected class and size; the path's string size is the file's.
std::size_t checkpoint_file::manifest_path_len(hid_t ftype) const {
  const std::string where(manifest_dataset);
  auto member = [&](const char* name, H5T_class_t cls) {
    const int idx = H5Tget_member_index(ftype, name);
    if (idx < 0) {
      H5Eclear2(H5E_DEFAULT);
      throw bad_dataset(name_, where, std::string("has no member '") + name + "'");
    }
    h5_handle t(PARTITA_H5(H5Tget_member_type(ftype, static_cast<unsigned>(idx))), h5_kind::datatype);
    if (PARTITA_H5(H5Tget_class(t.get())) != cls)
      throw bad_dataset(name_, where, std::string("member '") + name + "' has the wrong type");
    return t;
  };
  h5_handle path_type = member("path", H5T_STRING);
  if (PARTITA_H5(H5Tis_variable_str(path_type.get())) > 0)
    throw bad_dataset(name_, where, "member 'path' is not a fixed-length string");
  const std::size_t path_len = type_size(path_type.get());
  if (path_len == 0 || path_len > max_string_bytes)
    throw bad_dataset(name_, where, fmt::format("paths claim {} bytes each (bound {})", path_len, max_string_bytes));
  for (const char* n : {"bytes", "crc32", "step"}) {
    h5_handle t = member(n, H5T_INTEGER);
    if (type_size(t.get()) > 8)
      throw bad_dataset(name_, where, std::string("member '") + n + "' is wider than 64 bits");
  }
  return path_len;
}

// The /meta row, then the data rows: unique, absolute, and together no larger than the file.
std::vector<manifest_row> checkpoint_file::data_rows(const std::vector<manifest_row>& rows,
                                                     const checkpoint_meta& meta) const {
  const std::string where(manifest_dataset);
  std::vector<manifest_row> data;
  data.reserve(rows.size() - 1);
  std::set<std::string_view> seen;
  bool meta_seen = false;
  std::uint64_t total = 0;
  for (const auto& r : rows) {
    if (!seen.insert(r.path).second) throw bad_dataset(name_, where, "lists " + r.path + " twice");
    if (r.path == meta_row_path) {
      const bytes enc = encode_meta(meta);
      const std::uint32_t crc = crc32(enc);
      if (r.crc != crc || r.bytes != enc.size())
        throw bad_dataset(name_, std::string(meta_row_path),
                          fmt::format("checksum mismatch (manifest {:#010x}, computed {:#010x})", r.crc, crc));
      meta_seen = true;
      continue;
    }
    if (r.path.size() < 2 || r.path.front() != '/' || r.path == where)
      throw bad_dataset(name_, where, "lists an invalid dataset path '" + r.path + "'");
    if (!checked_add(total, r.bytes) || total > size_)
      throw bad_dataset(name_, where,
                        fmt::format("lists {} bytes of data or more, but the file has only {} bytes", total, size_));
    data.push_back(r);
  }
  if (!meta_seen) throw bad_dataset(name_, where, "has no row for /meta");
  return data;
}

std::vector<manifest_row> checkpoint_file::read_manifest(const checkpoint_meta& meta) {
  const std::string where(manifest_dataset);
  try {
    if (PARTITA_H5(H5Lexists(file_.get(), "manifest", H5P_DEFAULT)) <= 0)
      throw bad_dataset(name_, where, "missing: the file has no checksum manifest");
    h5_handle ds(PARTITA_H5(H5Dopen2(file_.get(), manifest_dataset, lapl_.get())), h5_kind::dataset);
    h5_handle ftype = type_of(ds.get(), false);
    if (PARTITA_H5(H5Tget_class(ftype.get())) != H5T_COMPOUND)
      throw bad_dataset(name_, where, "not a compound dataset");

    const std::size_t path_len = manifest_path_len(ftype.get());

    h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
    const auto n = count_1d(space.get());
    if (!n) throw bad_dataset(name_, where, "is not one-dimensional");
    const std::size_t disk_row = type_size(ftype.get());
    if (*n > max_manifest_rows || *n > size_ / std::max<std::size_t>(disk_row, 1))
      throw bad_dataset(name_, where,
                        fmt::format("claims {} rows of {} bytes, more than the file's {} bytes hold", *n, disk_row,
                                    size_));
    if (*n == 0) throw bad_dataset(name_, where, "is empty (it must at least list /meta)");
    if (PARTITA_H5(H5Dget_storage_size(ds.get())) < *n * disk_row)
      throw bad_dataset(name_, where, "stores fewer bytes than its rows need (unwritten or truncated)");

    // In memory: packed rows {char path[L]; u64 bytes; u32 crc32; u64 step}.
    h5_handle mem = manifest_row_type(path_len, row_place::memory, H5T_STR_NULLPAD);
    std::vector<char> buf(static_cast<std::size_t>(*n) * manifest_row_size(path_len));
    PARTITA_H5(H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()));
    const std::vector<manifest_row> rows = unpack_manifest(buf, path_len);
    const std::uint64_t stored_crc = attr_reader(ds.get(), name_).unsigned_value("crc32");
    const std::uint32_t computed = manifest_crc(rows);
    if (stored_crc != computed)
      throw bad_dataset(name_, where,
                        fmt::format("checksum mismatch (stored {:#010x}, computed {:#010x})", stored_crc, computed));

    return data_rows(rows, meta);
  } catch (const checkpoint_error&) {
    throw;
  } catch (const hdf5_error& e) {
    throw bad_dataset(name_, where, std::string("unreadable: ") + e.what());
  }
}

bytes checkpoint_file::read_dataset(const manifest_row& row, dataset_kind& kind) {
  try {
    const bool partition = parse_partition_path(row.path).has_value();
    if (row.path.starts_with("/partitions/") && !partition)
      throw bad_dataset(name_, row.path, "is not of the form /partitions/<id>/<name>");
    if (!partition && row.path.starts_with("/meta/")) throw bad_dataset(name_, row.path, "is under /meta");
    if (!partition && key_problem(std::string_view(row.path).substr(1)))
      throw bad_dataset(name_, row.path, *key_problem(std::string_view(row.path).substr(1)));
    h5_handle ds;
    try {
      ds = h5_handle(PARTITA_H5(H5Dopen2(file_.get(), row.path.c_str(), lapl_.get())), h5_kind::dataset);
    } catch (const hdf5_error& e) {
      throw bad_dataset(name_, row.path, std::string("listed in the manifest but cannot be opened: ") + e.what());
    }
    h5_handle type = type_of(ds.get(), false);
    const H5T_class_t cls = PARTITA_H5(H5Tget_class(type.get()));
    const std::size_t size = type_size(type.get());
    if (cls == H5T_INTEGER && size == 1) {
      kind = dataset_kind::blob;
    } else if (cls == H5T_INTEGER && size == 8 && PARTITA_H5(H5Tget_sign(type.get())) == H5T_SGN_NONE) {
      kind = dataset_kind::u64;
    } else if (cls == H5T_FLOAT && size == 8) {
      kind = dataset_kind::f64;
    } else {
      throw bad_dataset(name_, row.path, "has a type other than uint8, uint64 or float64");
    }
    if (partition && kind == dataset_kind::u64) throw bad_dataset(name_, row.path, "is neither uint8 nor float64");

    h5_handle space(PARTITA_H5(H5Dget_space(ds.get())), h5_kind::dataspace);
    const auto n = count_1d(space.get());
    if (!n) throw bad_dataset(name_, row.path, "is not one-dimensional");
    const std::size_t esize = element_size(kind);
    if (*n > max_dataset_bytes / esize || *n * esize != row.bytes)
      throw bad_dataset(name_, row.path,
                        fmt::format("holds {} elements of {} bytes, the manifest says {} bytes", *n, esize, row.bytes));
    if (row.bytes > max_dataset_bytes || row.bytes > size_ || bytes_read_ + row.bytes > size_)
      throw bad_dataset(name_, row.path,
                        fmt::format("claims {} bytes, more than the file's {} bytes hold", row.bytes, size_));

    // Only plain storage inside this file: no filters, no external files, no virtual datasets.
    h5_handle dcpl(PARTITA_H5(H5Dget_create_plist(ds.get())), h5_kind::plist);
    const H5D_layout_t layout = PARTITA_H5(H5Pget_layout(dcpl.get()));
    if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT)
      throw bad_dataset(name_, row.path, "uses a storage layout a checkpoint never writes (chunked or virtual)");
    if (PARTITA_H5(H5Pget_external_count(dcpl.get())) != 0 || PARTITA_H5(H5Pget_nfilters(dcpl.get())) != 0)
      throw bad_dataset(name_, row.path, "uses external storage or filters, which a checkpoint never writes");
    if (row.bytes > 0 && PARTITA_H5(H5Dget_storage_size(ds.get())) < row.bytes)
      throw bad_dataset(name_, row.path, "stores fewer bytes than it claims (unwritten or truncated)");

    bytes data(static_cast<std::size_t>(row.bytes));
    bytes_read_ += row.bytes;
    if (!data.empty()) {
      PARTITA_H5(H5Dread(ds.get(), mem_type_of(kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
    }
    const std::uint32_t crc = crc32(data);
    if (crc != row.crc)
      throw bad_dataset(name_, row.path,
                        fmt::format("checksum mismatch (manifest {:#010x}, computed {:#010x})", row.crc, crc));
    return data;
  } catch (const checkpoint_error&) {
    throw;
  } catch (const hdf5_error& e) {
    throw bad_dataset(name_, row.path, std::string("unreadable: ") + e.what());
  }
}

void checkpoint_file::for_each_dataset(const std::vector<manifest_row>& rows, const dataset_fn& use,
                                       const bad_dataset_fn& on_bad) {
  for (const auto& row : rows) {
    dataset_kind kind{};
    bytes data;
    try {
      data = read_dataset(row, kind);
    } catch (const bad_dataset& e) {
      if (!on_bad) throw;
      on_bad(e);
      continue;
    }
    use(row, kind, std::move(data));
  }
}

}  // namespace partita::detail
