#include <partita/checkpoint/writer.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/fault.hpp>
#include <partita/checkpoint/detail/files.hpp>
#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/layout.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita {

namespace fs = std::filesystem;
using detail::h5_handle;
using detail::h5_kind;

namespace {

// ---- What rank 0 broadcasts and what every rank contributes (internal wire format, Boost.Serialization).

struct dataset_entry {  // one dataset of the file: its path, type, size, checksum, step, and who writes it
  std::string path;
  std::uint8_t kind = 0;
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
  std::uint64_t step = 0;
  std::uint64_t id = 0;  // partition id (partitions only)
  int owner = 0;         // rank of comm that writes it
  std::uint64_t index = 0;  // position in the owner's list (partitions) or in rank 0's scheduler list
  template <class Archive>
  void serialize(Archive& ar, unsigned) { ar & path & kind & bytes & crc & step & id & owner & index; }
};

struct write_plan {
  std::string job, model, code_version, dir;
  std::uint64_t params_hash = 0, epoch = 0, step = 0, partition_count = 0;
  std::int64_t rank_count = 1;
  std::uint32_t format_version = 0;
  int keep = 3;
  std::vector<dataset_entry> scheduler;  // blobs, then u64, then f64, in key order
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar & job & model & code_version & dir & params_hash & epoch & step & partition_count & rank_count &
        format_version & keep & scheduler;
  }
  checkpoint_meta meta() const {
    checkpoint_meta m;
    m.job = job;
    m.params_hash = params_hash;
    m.epoch = epoch_t{epoch};
    m.step = step_t{step};
    m.rank_count = static_cast<int>(rank_count);
    m.model = model;
    m.partition_count = partition_count;
    m.format_version = format_version;
    m.code_version = code_version;
    return m;
  }
};

// ---- Collective helpers over the writing communicator.

struct group_info {
  MPI_Comm comm;
  int rank = 0;
  int size = 1;
};

void bcast_bytes(const group_info& g, bytes& data, int root) {
  std::uint64_t n = data.size();
  PARTITA_MPI(MPI_Bcast(&n, 1, MPI_UINT64_T, root, g.comm));
  data.resize(static_cast<std::size_t>(n));
  for (std::uint64_t off = 0; off < n;) {
    const int piece = static_cast<int>(std::min<std::uint64_t>(n - off, 1u << 30));
    PARTITA_MPI(MPI_Bcast(data.data() + off, piece, MPI_BYTE, root, g.comm));
    off += static_cast<std::uint64_t>(piece);
  }
}

std::vector<bytes> allgather_bytes(const group_info& g, const bytes& mine) {
  std::uint64_t n = mine.size();
  std::vector<std::uint64_t> sizes(static_cast<std::size_t>(g.size));
  PARTITA_MPI(MPI_Allgather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, g.comm));
  std::vector<int> counts(sizes.size()), displs(sizes.size());
  std::uint64_t total = 0;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    if (total + sizes[r] > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      throw error("checkpoint: the partition list of all ranks exceeds 2 GiB of metadata");
    counts[r] = static_cast<int>(sizes[r]);
    displs[r] = static_cast<int>(total);
    total += sizes[r];
  }
  bytes all(static_cast<std::size_t>(total));
  PARTITA_MPI(MPI_Allgatherv(mine.data(), static_cast<int>(n), MPI_BYTE, all.data(), counts.data(),
                             displs.data(), MPI_BYTE, g.comm));
  std::vector<bytes> out(sizes.size());
  for (std::size_t r = 0; r < sizes.size(); ++r)
    out[r].assign(all.begin() + displs[r], all.begin() + displs[r] + counts[r]);
  return out;
}

/// Agrees on the outcome of a phase: nullopt if every rank succeeded, else the problem of the lowest failing
/// rank (prefixed with its rank when there are several), the same text on every rank. Collective.
std::optional<std::string> agree(const group_info& g, const std::optional<std::string>& problem) {
  int mine = problem ? g.rank : g.size;
  int first = g.size;
  PARTITA_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, g.comm));
  if (first == g.size) return std::nullopt;
  bytes text;
  if (g.rank == first) {
    const auto* p = reinterpret_cast<const std::byte*>(problem->data());
    text.assign(p, p + problem->size());
  }
  bcast_bytes(g, text, first);
  std::string out(reinterpret_cast<const char*>(text.data()), text.size());
  if (g.size > 1) out = fmt::format("rank {} of {}: {}", first, g.size, out);
  return out;
}

/// Runs `fn` on every rank, then agrees on whether it threw anywhere.
template <class Fn>
std::optional<std::string> phase(const group_info& g, Fn&& fn) {
  std::optional<std::string> problem;
  try {
    fn();
  } catch (const std::exception& e) {
    problem = e.what();
  } catch (...) {
    problem = "unknown exception";
  }
  return agree(g, problem);
}

// ---- Building the plan.

write_plan make_plan(const store_options& opt, const checkpoint_image& img) {
  write_plan p;
  const auto& m = img.meta;
  if (auto why = detail::job_name_problem(m.job)) throw error(*why);
  if (m.model.empty()) throw error("the job model is empty (expected map_reduce or iterative)");
  if (m.model.size() > 256 || m.code_version.size() > 256) throw error("the model name is longer than 256 bytes");
  if (m.rank_count < 1) throw error(fmt::format("rank_count is {}, must be at least 1", m.rank_count));
  if (opt.dir.empty()) throw error("no checkpoint directory given");
  p.job = m.job;
  p.model = m.model;
  p.code_version = PARTITA_CODE_VERSION;
  p.dir = opt.dir.string();
  p.params_hash = m.params_hash;
  p.epoch = m.epoch.value;
  p.step = m.step.value;
  p.partition_count = m.partition_count;
  p.rank_count = m.rank_count;
  p.format_version = checkpoint_format_version;
  p.keep = std::max(1, opt.keep);

  std::set<std::string> keys;
  auto add = [&](const std::string& key, detail::dataset_kind kind, std::span<const std::byte> data,
                 std::uint64_t index) {
    if (auto why = detail::key_problem(key)) throw error(*why);
    if (!keys.insert(key).second) throw error("dataset key '" + key + "' is used twice (blobs, u64, f64)");
    dataset_entry e;
    e.path = "/" + key;
    e.kind = static_cast<std::uint8_t>(kind);
    e.bytes = data.size();
    e.crc = detail::crc32(data);
    e.index = index;
    p.scheduler.push_back(std::move(e));
  };
  std::uint64_t i = 0;
  for (const auto& [k, v] : img.blobs) add(k, detail::dataset_kind::blob, v, i++);
  i = 0;
  for (const auto& [k, v] : img.u64) add(k, detail::dataset_kind::u64, std::as_bytes(std::span(v)), i++);
  i = 0;
  for (const auto& [k, v] : img.f64) add(k, detail::dataset_kind::f64, std::as_bytes(std::span(v)), i++);
  // A key may not be both a dataset and a group ("a" and "a/b").
  for (const auto& k : keys) {
    auto it = keys.upper_bound(k + "/");
    if (it != keys.end() && it->starts_with(k + "/"))
      throw error("dataset key '" + k + "' is also the group of '" + *it + "'");
  }
  return p;
}

std::vector<dataset_entry> local_partitions(const checkpoint_image& img, int rank) {
  std::vector<dataset_entry> out;
  out.reserve(img.partitions.size());
  for (std::size_t i = 0; i < img.partitions.size(); ++i) {
    const auto& b = img.partitions[i];
    if (auto why = detail::partition_name_problem(b.name)) throw error(*why);
    dataset_entry e;
    e.path = detail::partition_path(b.id.value, b.name);
    if (b.type == element_type::f64 && b.data.size() % 8 != 0)
      throw error("partition dataset " + e.path + " is float64 but holds " + std::to_string(b.data.size()) +
                  " bytes, not a multiple of 8");
    e.kind = static_cast<std::uint8_t>(b.type == element_type::f64 ? detail::dataset_kind::f64
                                                                   : detail::dataset_kind::blob);
    e.bytes = b.data.size();  // the CRC-32 comes later, while the written data goes to disk
    e.step = b.step.value;
    e.id = b.id.value;
    e.owner = rank;
    e.index = i;
    out.push_back(std::move(e));
  }
  return out;
}

// ---- HDF5 pieces.

h5_handle string_type(std::size_t len) {
  h5_handle t(PARTITA_H5(H5Tcopy(H5T_C_S1)), h5_kind::datatype);
  PARTITA_H5(H5Tset_size(t.get(), len + 1));
  PARTITA_H5(H5Tset_strpad(t.get(), H5T_STR_NULLTERM));
  return t;
}

void write_attr(hid_t obj, const char* name, const std::string& value) {
  h5_handle type = string_type(value.size());
  h5_handle space(PARTITA_H5(H5Screate(H5S_SCALAR)), h5_kind::dataspace);
  h5_handle attr(PARTITA_H5(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT)),
                 h5_kind::attribute);
  PARTITA_H5(H5Awrite(attr.get(), type.get(), value.c_str()));
}

template <class T>
void write_attr(hid_t obj, const char* name, T value, hid_t file_type, hid_t mem_type) {
  h5_handle space(PARTITA_H5(H5Screate(H5S_SCALAR)), h5_kind::dataspace);
  h5_handle attr(PARTITA_H5(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT)),
                 h5_kind::attribute);
  PARTITA_H5(H5Awrite(attr.get(), mem_type, &value));
}

hid_t file_type_of(detail::dataset_kind k) {
  switch (k) {
    case detail::dataset_kind::blob: return H5T_STD_U8LE;
    case detail::dataset_kind::u64: return H5T_STD_U64LE;
    case detail::dataset_kind::f64: return H5T_IEEE_F64LE;
  }
  return H5T_STD_U8LE;
}
hid_t mem_type_of(detail::dataset_kind k) {
  switch (k) {
    case detail::dataset_kind::blob: return H5T_NATIVE_UINT8;
    case detail::dataset_kind::u64: return H5T_NATIVE_UINT64;
    case detail::dataset_kind::f64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_UINT8;
}

h5_handle create_dataset(hid_t file, const std::string& path, hid_t type, std::uint64_t count, hid_t lcpl,
                         hid_t dcpl) {
  const hsize_t dims[1] = {static_cast<hsize_t>(count)};
  h5_handle space(PARTITA_H5(H5Screate_simple(1, dims, nullptr)), h5_kind::dataspace);
  return h5_handle(PARTITA_H5(H5Dcreate2(file, path.c_str(), type, space.get(), lcpl, dcpl, H5P_DEFAULT)),
                   h5_kind::dataset);
}

/// Writes `count` elements from `data` into the whole of `ds`, independently, in pieces of at most 1 GiB
/// (large single MPI-IO requests overflow int counts in some MPI libraries).
void write_whole(hid_t ds, hid_t mem_type, const void* data, std::uint64_t count, std::size_t esize) {
  if (count == 0) return;
  const std::uint64_t piece = (std::uint64_t{1} << 30) / esize;
  if (count <= piece) {
    PARTITA_H5(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    return;
  }
  h5_handle fspace(PARTITA_H5(H5Dget_space(ds)), h5_kind::dataspace);
  for (std::uint64_t off = 0; off < count; off += piece) {
    const hsize_t start[1] = {off};
    const hsize_t n[1] = {std::min(piece, count - off)};
    PARTITA_H5(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, n, nullptr));
    h5_handle mspace(PARTITA_H5(H5Screate_simple(1, n, nullptr)), h5_kind::dataspace);
    PARTITA_H5(H5Dwrite(ds, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT,
                        static_cast<const char*>(data) + off * esize));
  }
}

/// The manifest dataset {path, bytes, crc32, step}, created collectively (its crc32 attribute comes once the
/// checksums are known); returns it for rank 0 to write.
h5_handle create_manifest(hid_t file, const std::vector<detail::manifest_row>& rows, std::size_t& path_len,
                          h5_handle& mem_type) {
  path_len = 1;
  for (const auto& r : rows) path_len = std::max(path_len, r.path.size() + 1);
  h5_handle str(PARTITA_H5(H5Tcopy(H5T_C_S1)), h5_kind::datatype);
  PARTITA_H5(H5Tset_size(str.get(), path_len));
  PARTITA_H5(H5Tset_strpad(str.get(), H5T_STR_NULLTERM));
  h5_handle ftype(PARTITA_H5(H5Tcreate(H5T_COMPOUND, path_len + 20)), h5_kind::datatype);
  PARTITA_H5(H5Tinsert(ftype.get(), "path", 0, str.get()));
  PARTITA_H5(H5Tinsert(ftype.get(), "bytes", path_len, H5T_STD_U64LE));
  PARTITA_H5(H5Tinsert(ftype.get(), "crc32", path_len + 8, H5T_STD_U32LE));
  PARTITA_H5(H5Tinsert(ftype.get(), "step", path_len + 12, H5T_STD_U64LE));
  mem_type = h5_handle(PARTITA_H5(H5Tcreate(H5T_COMPOUND, path_len + 20)), h5_kind::datatype);
  PARTITA_H5(H5Tinsert(mem_type.get(), "path", 0, str.get()));
  PARTITA_H5(H5Tinsert(mem_type.get(), "bytes", path_len, H5T_NATIVE_UINT64));
  PARTITA_H5(H5Tinsert(mem_type.get(), "crc32", path_len + 8, H5T_NATIVE_UINT32));
  PARTITA_H5(H5Tinsert(mem_type.get(), "step", path_len + 12, H5T_NATIVE_UINT64));
  const hsize_t dims[1] = {rows.size()};
  h5_handle space(PARTITA_H5(H5Screate_simple(1, dims, nullptr)), h5_kind::dataspace);
  h5_handle ds(PARTITA_H5(H5Dcreate2(file, detail::manifest_dataset, ftype.get(), space.get(), H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT)),
               h5_kind::dataset);
  write_attr(ds.get(), "checksum", std::string(detail::checksum_name));
  return ds;
}

std::vector<char> pack_manifest(const std::vector<detail::manifest_row>& rows, std::size_t path_len) {
  const std::size_t row = path_len + 20;
  std::vector<char> buf(rows.size() * row, '\0');
  for (std::size_t i = 0; i < rows.size(); ++i) {
    char* p = buf.data() + i * row;
    std::memcpy(p, rows[i].path.data(), rows[i].path.size());
    std::memcpy(p + path_len, &rows[i].bytes, 8);
    std::memcpy(p + path_len + 8, &rows[i].crc, 4);
    std::memcpy(p + path_len + 12, &rows[i].step, 8);
  }
  return buf;
}

// ---- Explaining failures.

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

/// Turns a failed write into a message that says what happened and what to do. A full file system (or a
/// file-size limit) is recognised from the error text, from the free space, or from RLIMIT_FSIZE.
std::string explain_write_failure(const std::string& problem, const fs::path& dir, std::uint64_t needed,
                                  const std::string& previous) {
  std::string lower = problem;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool says_space = lower.find("no space") != std::string::npos || lower.find("no_space") != std::string::npos ||
                          lower.find("quota") != std::string::npos || lower.find("enospc") != std::string::npos;
  const bool says_size = lower.find("file too large") != std::string::npos || lower.find("efbig") != std::string::npos;
  struct statvfs vfs{};
  std::optional<std::uint64_t> free_bytes;
  if (::statvfs(dir.c_str(), &vfs) == 0) free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  struct rlimit fsize{};
  const bool limited = ::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
                       static_cast<std::uint64_t>(fsize.rlim_cur) < needed;
  const std::string keep_note = "Nothing was published (no .tmp is left behind); " +
                                (previous.empty() ? std::string("there is no earlier checkpoint of this job.")
                                                  : "the previous checkpoint " + previous + " is still valid.");
  if (limited || says_size) {
    return fmt::format("the file-size limit of this process ({}; ulimit -f) is smaller than the checkpoint "
                       "(about {}): raise the limit or make the checkpoint smaller. {} (Underlying error: {})",
                       limited ? human_bytes(static_cast<double>(fsize.rlim_cur)) : std::string("RLIMIT_FSIZE"),
                       human_bytes(static_cast<double>(needed)), keep_note, problem);
  }
  if (says_space || (free_bytes && *free_bytes < needed)) {
    return fmt::format("the file system holding {} is full: the checkpoint needs about {}, {} free. Free space "
                       "there or point the checkpoint directory at a larger file system. {} (Underlying error: {})",
                       dir.string(), human_bytes(static_cast<double>(needed)),
                       free_bytes ? human_bytes(static_cast<double>(*free_bytes)) : std::string("unknown"),
                       keep_note, problem);
  }
  return problem + ". " + keep_note;
}

}  // namespace

commit_result write_checkpoint(MPI_Comm comm, const store_options& opt, const checkpoint_image& local) {
  detail::prepare_hdf5();
  const auto started = std::chrono::steady_clock::now();
  // Where the time goes, for the debug log: (phase, seconds since the previous mark).
  std::vector<std::pair<const char*, double>> marks;
  auto last_mark = started;
  auto mark = [&](const char* name) {
    const auto now = std::chrono::steady_clock::now();
    marks.emplace_back(name, std::chrono::duration<double>(now - last_mark).count());
    last_mark = now;
  };
  group_info g{comm, 0, 1};
  PARTITA_MPI(MPI_Comm_rank(comm, &g.rank));
  PARTITA_MPI(MPI_Comm_size(comm, &g.size));
  const std::string dir_name = opt.dir.string();

  // 1. Rank 0 checks meta and the scheduler datasets and broadcasts the plan; every rank learns every
  //    partition dataset (creation is collective, so all must create all of them).
  write_plan plan;
  if (auto p = phase(g, [&] {
        if (g.rank == 0) plan = make_plan(opt, local);
      })) {
    throw checkpoint_error(dir_name, "cannot write checkpoint: " + *p);
  }
  {
    bytes wire;
    if (g.rank == 0) wire = serialize(plan);
    bcast_bytes(g, wire, 0);
    if (g.rank != 0) plan = deserialize<write_plan>(wire);
  }
  const fs::path dir(plan.dir);
  const fs::path final_path = detail::committed_path(dir, plan.job, plan.epoch);
  const fs::path tmp = detail::tmp_path(dir, plan.job, plan.epoch);
  const std::string tmp_name = tmp.string();

  std::vector<dataset_entry> mine;
  std::vector<dataset_entry> parts;  // every rank's partitions, sorted by path
  if (auto p = phase(g, [&] { mine = local_partitions(local, g.rank); })) throw checkpoint_error(tmp_name, *p);
  {
    const auto all = allgather_bytes(g, serialize(mine));
    for (const auto& b : all) {
      auto v = deserialize<std::vector<dataset_entry>>(b);
      parts.insert(parts.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    }
    std::sort(parts.begin(), parts.end(), [](const dataset_entry& a, const dataset_entry& b) {
      return a.id != b.id ? a.id < b.id : a.path < b.path;
    });
    for (std::size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].path == parts[i - 1].path) {  // the same on every rank: no agreement needed
        throw checkpoint_error(tmp_name, fmt::format("partition dataset {} is held by ranks {} and {}", parts[i].path,
                                                     parts[i - 1].owner, parts[i].owner));
      }
    }
  }
  std::uint64_t data_bytes = 0;
  for (const auto& e : plan.scheduler) data_bytes += e.bytes;
  for (const auto& e : parts) data_bytes += e.bytes;
  // An upper bound of the file size (metadata is well under 2 KiB per dataset and group), for the size-limit
  // check and for messages.
  const std::uint64_t needed = data_bytes + 16384 + 2048 * (plan.scheduler.size() + 2 * parts.size());

  // 2. Rank 0 prepares the directory; a committed file of this epoch is never replaced.
  std::string previous;  // for error messages: the checkpoint that stays valid
  if (auto p = phase(g, [&] {
        // A file-size limit (ulimit -f) is checked before HDF5 sees the file: HDF5 1.10 cannot recover from a
        // failed H5Fclose, and a close that writes past the limit would fail.
        struct rlimit fsize{};
        if (::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
            static_cast<std::uint64_t>(fsize.rlim_cur) < needed) {
          throw error("write would exceed the file-size limit (EFBIG)");
        }
        if (g.rank != 0) return;
        fs::create_directories(dir);
        if (fs::exists(final_path))
          throw error("epoch " + std::to_string(plan.epoch) + " is already committed as " + final_path.string() +
                      "; a committed checkpoint is never overwritten (continue numbering after newest_epoch())");
        // The same for free space: a file system too full for the checkpoint is found before HDF5 has a file
        // whose close could fail. (A file system that fills up while we write is caught by the reservation.)
        struct statvfs vfs{};
        if (!detail::free_space_check_skipped() && ::statvfs(dir.c_str(), &vfs) == 0 &&
            static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize < needed)
          throw error("no space left on the file system (ENOSPC)");
        if (auto older = detail::list_epochs(dir, plan.job, detail::committed_suffix); !older.empty())
          previous = older.front().path.string();
      })) {
    std::string text = *p;
    if (text.find("EFBIG") != std::string::npos || text.find("ENOSPC") != std::string::npos) {
      const auto older = detail::list_epochs(dir, plan.job, detail::committed_suffix);
      text = explain_write_failure(text, dir, needed, older.empty() ? std::string() : older.front().path.string());
    }
    throw checkpoint_error(tmp_name, text);
  }
  {
    bytes text(reinterpret_cast<const std::byte*>(previous.data()),
               reinterpret_cast<const std::byte*>(previous.data()) + previous.size());
    bcast_bytes(g, text, 0);
    previous.assign(reinterpret_cast<const char*>(text.data()), text.size());
  }
  mark("prepare");
  crash_point("ckpt.before_write");

  // 3. Create the file and every object in it (collective), then each rank writes its own datasets
  //    (independent I/O: one rank's failure cannot block the others inside a collective write).
  h5_handle file;  // declared first: closed last, after every object in it
  auto fail = [&](const std::string& problem) -> checkpoint_error {
    // Every rank gets here together and nobody writes data any more. Rank 0 explains (free space, size
    // limit: before the file gives its space back) so that every rank throws the same text. Then the file is
    // emptied before the collective close: the close rewrites the metadata, which must not fail for lack of
    // space (HDF5 1.10 leaves a file whose H5Fclose failed in a state that crashes at exit).
    std::string text;
    if (g.rank == 0) {
      log().error("checkpoint epoch {} of job '{}' failed: {}", plan.epoch, plan.job, problem);
      text = explain_write_failure(problem, dir, needed, previous);
    }
    if (file) {
      if (g.rank == 0) (void)::truncate(tmp.c_str(), 0);
      (void)MPI_Barrier(comm);  // failing here changes nothing: we are reporting a failure already
      file.reset();
    }
    if (g.rank == 0) {
      std::error_code ec;
      fs::remove(tmp, ec);
    }
    bytes wire(reinterpret_cast<const std::byte*>(text.data()),
               reinterpret_cast<const std::byte*>(text.data()) + text.size());
    bcast_bytes(g, wire, 0);
    text.assign(reinterpret_cast<const char*>(wire.data()), wire.size());
    return checkpoint_error(tmp_name, text);
  };
  if (auto p = phase(g, [&] {
        h5_handle fapl = detail::make_fapl();
        PARTITA_H5(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL));
        PARTITA_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110));
        PARTITA_H5(H5Pset_coll_metadata_write(fapl.get(), true));
        file = h5_handle(PARTITA_H5(H5Fcreate(tmp_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())),
                         h5_kind::file);
      })) {
    throw fail(*p);
  }

  std::vector<detail::manifest_row> rows;
  rows.reserve(1 + plan.scheduler.size() + parts.size());
  {
    const bytes enc = detail::encode_meta(plan.meta());
    rows.push_back({std::string(detail::meta_row_path), enc.size(), detail::crc32(enc), 0});
  }
  for (const auto& e : plan.scheduler) rows.push_back({e.path, e.bytes, e.crc, 0});
  const std::size_t first_part_row = rows.size();
  for (const auto& e : parts) rows.push_back({e.path, e.bytes, 0, e.step});  // CRC-32s after the write

  struct owned {
    h5_handle ds;
    const dataset_entry* entry;
  };
  std::vector<owned> to_write;  // datasets this rank writes, kept open from creation
  h5_handle manifest, manifest_type;
  std::size_t manifest_path_len = 0;
  if (auto p = phase(g, [&] {
        const hid_t f = file.get();
        h5_handle meta(PARTITA_H5(H5Gcreate2(f, detail::meta_group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                       h5_kind::group);
        write_attr(meta.get(), "job", plan.job);
        write_attr(meta.get(), "params_hash", plan.params_hash, H5T_STD_U64LE, H5T_NATIVE_UINT64);
        write_attr(meta.get(), "epoch", plan.epoch, H5T_STD_U64LE, H5T_NATIVE_UINT64);
        write_attr(meta.get(), "step", plan.step, H5T_STD_U64LE, H5T_NATIVE_UINT64);
        write_attr(meta.get(), "rank_count", plan.rank_count, H5T_STD_I64LE, H5T_NATIVE_INT64);
        write_attr(meta.get(), "model", plan.model);
        write_attr(meta.get(), "partition_count", plan.partition_count, H5T_STD_U64LE, H5T_NATIVE_UINT64);
        write_attr(meta.get(), "format_version", plan.format_version, H5T_STD_U32LE, H5T_NATIVE_UINT32);
        write_attr(meta.get(), "code_version", plan.code_version);

        h5_handle lcpl(PARTITA_H5(H5Pcreate(H5P_LINK_CREATE)), h5_kind::plist);
        PARTITA_H5(H5Pset_create_intermediate_group(lcpl.get(), 1));
        h5_handle dcpl(PARTITA_H5(H5Pcreate(H5P_DATASET_CREATE)), h5_kind::plist);
        PARTITA_H5(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS));
        PARTITA_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY));
        PARTITA_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER));  // every byte is written by its owner

        for (const auto& e : plan.scheduler) {
          const auto kind = static_cast<detail::dataset_kind>(e.kind);
          h5_handle ds = create_dataset(f, e.path, file_type_of(kind), e.bytes / detail::element_size(kind),
                                        lcpl.get(), dcpl.get());
          if (g.rank == 0) to_write.push_back({std::move(ds), &e});
        }
        h5_handle partitions(PARTITA_H5(H5Gcreate2(f, detail::partitions_group, H5P_DEFAULT, H5P_DEFAULT,
                                                   H5P_DEFAULT)),
                             h5_kind::group);
        std::optional<std::uint64_t> open_id;
        h5_handle id_group;
        for (const auto& e : parts) {
          if (open_id != e.id) {
            id_group.reset();
            const std::string name = std::to_string(e.id);
            id_group = h5_handle(PARTITA_H5(H5Gcreate2(partitions.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT,
                                                       H5P_DEFAULT)),
                                 h5_kind::group);
            open_id = e.id;
          }
          const std::string leaf = e.path.substr(e.path.rfind('/') + 1);
          const auto kind = static_cast<detail::dataset_kind>(e.kind);  // uint8, or float64 state arrays
          h5_handle ds = create_dataset(id_group.get(), leaf, file_type_of(kind), e.bytes / detail::element_size(kind),
                                        H5P_DEFAULT, dcpl.get());
          if (e.owner == g.rank) to_write.push_back({std::move(ds), &e});
        }
        manifest = create_manifest(f, rows, manifest_path_len, manifest_type);
      })) {
    to_write.clear();
    manifest.reset();
    throw fail(*p);
  }

  mark("create");
  // Reserve the blocks of its datasets on every rank before any data is written, so that a full file system
  // shows here, as one clear failure, and not halfway through the data. File systems without fallocate skip it.
  if (auto p = phase(g, [&] {
        // H5Dget_offset gives HADDR_UNDEF (not an error) for datasets without contiguous storage yet.
        std::vector<std::pair<haddr_t, std::uint64_t>> ranges;
        for (const auto& w : to_write) ranges.emplace_back(H5Dget_offset(w.ds.get()), w.entry->bytes);
        if (manifest) ranges.emplace_back(H5Dget_offset(manifest.get()), rows.size() * (manifest_path_len + 20));
        std::uint64_t reserved = 0;
        int fd = -1;
        for (const auto& [offset, length] : ranges) {
          if (length == 0 || offset == HADDR_UNDEF) continue;  // empty, or not contiguous (compact)
          if (fd < 0) fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
          if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + tmp_name);
          if (::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
            const int err = errno;
            if (err == EOPNOTSUPP || err == ENOSYS) break;
            ::close(fd);
            throw std::system_error(err, std::generic_category(),
                                    fmt::format("reserving {} in {} after {}", human_bytes(static_cast<double>(length)),
                                                tmp_name, human_bytes(static_cast<double>(reserved))));
          }
          reserved += length;
        }
        if (fd >= 0) ::close(fd);
      })) {
    to_write.clear();
    manifest.reset();
    throw fail(*p);
  }

  mark("reserve");
  if (auto p = phase(g, [&] {
        if (auto bad = detail::injected_checkpoint_write_failure(); bad && *bad == g.rank)
          throw error("injected write failure (test hook)");
        for (auto& w : to_write) {
          const auto kind = static_cast<detail::dataset_kind>(w.entry->kind);
          const void* data = nullptr;
          if (w.entry->path.starts_with("/partitions/")) {
            data = local.partitions[w.entry->index].data.data();
          } else {  // rank 0's scheduler datasets, found by key
            const std::string key = w.entry->path.substr(1);
            if (kind == detail::dataset_kind::blob) data = local.blobs.at(key).data();
            if (kind == detail::dataset_kind::u64) data = local.u64.at(key).data();
            if (kind == detail::dataset_kind::f64) data = local.f64.at(key).data();
          }
          const std::size_t esize = detail::element_size(kind);
          write_whole(w.ds.get(), mem_type_of(kind), data, w.entry->bytes / esize, esize);
          w.ds.close();
        }
        // Start the writeback now and checksum while the disk works (the fsync below then waits less).
        if (const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
          (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
          ::close(fd);
        }
        for (auto& e : mine) e.crc = detail::crc32(local.partitions[e.index].data);
      })) {
    to_write.clear();
    manifest.reset();
    throw fail(*p);
  }
  to_write.clear();
  mark("write");

  // Every rank learns every CRC-32 (4 bytes per dataset) for the manifest's crc32 attribute, which all ranks
  // must write with the same value; rank 0 writes the rows.
  if (auto p = phase(g, [&] {
        std::vector<std::uint32_t> crcs(mine.size());
        for (std::size_t i = 0; i < mine.size(); ++i) crcs[i] = mine[i].crc;
        const auto* b = reinterpret_cast<const std::byte*>(crcs.data());
        const auto all = allgather_bytes(g, bytes(b, b + crcs.size() * sizeof(std::uint32_t)));
        for (std::size_t i = 0; i < parts.size(); ++i) {
          const auto& from = all.at(static_cast<std::size_t>(parts[i].owner));
          const std::size_t at = static_cast<std::size_t>(parts[i].index) * sizeof(std::uint32_t);
          if (at + sizeof(std::uint32_t) > from.size()) throw error("internal: a rank sent too few checksums");
          std::memcpy(&rows[first_part_row + i].crc, from.data() + at, sizeof(std::uint32_t));
        }
        write_attr(manifest.get(), "crc32", detail::manifest_crc(rows), H5T_STD_U32LE, H5T_NATIVE_UINT32);
        if (g.rank == 0) {
          const auto packed = pack_manifest(rows, manifest_path_len);
          PARTITA_H5(H5Dwrite(manifest.get(), manifest_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()));
        }
        manifest.close();
      })) {
    manifest.reset();
    throw fail(*p);
  }
  manifest_type.reset();

  mark("manifest");
  // 4. Close (collective: flushes the metadata), fsync on every rank, agree.
  if (auto p = phase(g, [&] { file.close(); })) throw fail(*p);
  mark("close");
  crash_point("ckpt.after_tmp_close");
  if (auto p = phase(g, [&] { detail::fsync_path(tmp, false); })) throw fail(*p);
  mark("fsync");
  crash_point("ckpt.after_fsync");

  // 5. Publish on rank 0: rename without replacing, fsync the directory, LATEST, prune. The others wait for
  //    the outcome so that every rank returns the same result.
  commit_result result{final_path, epoch_t{plan.epoch}, 0, 0};
  std::optional<std::string> problem;
  if (g.rank == 0) {
    try {
      detail::rename_no_replace(tmp, final_path);
    } catch (const std::system_error& e) {
      problem = std::string("cannot publish the checkpoint: ") + e.what();
      std::error_code ec;
      fs::remove(tmp, ec);
    }
    if (!problem) {
      crash_point("ckpt.after_rename");
      try {
        detail::fsync_path(dir, true);
      } catch (const std::system_error& e) {
        problem = std::string("renamed, but the directory could not be synced, so the rename may not survive a "
                              "crash: ") + e.what();
      }
    }
    if (!problem) {
      mark("rename");
      crash_point("ckpt.after_dir_fsync");
      try {
        detail::write_file_atomically(dir / detail::latest_name, final_path.filename().string() + "\n");
      } catch (const std::exception& e) {  // LATEST is a hint; restart does not need it
        log().warn("checkpoint {} is committed but LATEST could not be updated: {}", final_path.string(), e.what());
      }
      mark("latest");
      crash_point("ckpt.after_latest");
      // Keep the newest `keep` committed epochs; stale .tmp files of older epochs go too.
      const auto committed = detail::list_epochs(dir, plan.job, detail::committed_suffix);
      for (std::size_t i = static_cast<std::size_t>(plan.keep); i < committed.size(); ++i) {
        if (committed[i].epoch >= plan.epoch) continue;  // never delete what was just committed or newer
        std::error_code ec;
        fs::remove(committed[i].path, ec);
        if (ec) log().warn("could not delete old checkpoint {}: {}", committed[i].path.string(), ec.message());
        else log().debug("deleted old checkpoint {}", committed[i].path.string());
      }
      for (const auto& stale : detail::list_epochs(dir, plan.job, detail::tmp_suffix)) {
        if (stale.epoch >= plan.epoch) continue;
        std::error_code ec;
        fs::remove(stale.path, ec);
      }
      mark("prune");
      crash_point("ckpt.after_prune");
      std::error_code ec;
      result.bytes = fs::file_size(final_path, ec);
    }
  }
  if (auto p = agree(g, problem)) throw checkpoint_error(final_path.string(), *p);
  double stats[2] = {static_cast<double>(result.bytes),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  PARTITA_MPI(MPI_Bcast(stats, 2, MPI_DOUBLE, 0, comm));
  result.bytes = static_cast<std::uint64_t>(stats[0]);
  result.seconds = stats[1];
  if (g.rank == 0) {
    log().info("checkpoint epoch {} of job '{}' committed: {} ({}, {:.3f} s)", plan.epoch, plan.job,
               final_path.string(), human_bytes(stats[0]), stats[1]);
    std::string phases;
    for (const auto& [name, secs] : marks) phases += fmt::format(" {} {:.4f}", name, secs);
    log().debug("checkpoint epoch {} phases (s):{}", plan.epoch, phases);
  }
  return result;
}

}  // namespace partita
