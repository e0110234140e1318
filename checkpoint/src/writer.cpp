#include <partita/checkpoint/writer.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/collective.hpp>
#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/fault.hpp>
#include <partita/checkpoint/detail/files.hpp>
#include <partita/checkpoint/detail/h5_handle.hpp>
#include <partita/checkpoint/detail/h5_types.hpp>
#include <partita/checkpoint/detail/human_bytes.hpp>
#include <partita/checkpoint/detail/layout.hpp>
#include <partita/checkpoint/detail/write_plan.hpp>
#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita {

namespace fs = std::filesystem;
using detail::dataset_entry;
using detail::group_info;
using detail::h5_handle;
using detail::h5_kind;
using detail::human_bytes;
using detail::manifest_row;
using detail::write_plan;

namespace {

// ---- HDF5 pieces.

void write_attr(hid_t obj, const char* name, const std::string& value) {
  h5_handle type = detail::string_type(value.size() + 1, H5T_STR_NULLTERM);
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

/// The /meta group and its attributes. Collective (metadata).
void write_meta_group(hid_t file, const write_plan& plan) {
  h5_handle meta(PARTITA_H5(H5Gcreate2(file, detail::meta_group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
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
}

/// The creation properties of every data dataset: intermediate groups made as needed; contiguous storage
/// allocated at creation and never filled (every byte is written by its owner).
struct creation_plists {
  h5_handle lcpl, dcpl;
  creation_plists()
      : lcpl(PARTITA_H5(H5Pcreate(H5P_LINK_CREATE)), h5_kind::plist),
        dcpl(PARTITA_H5(H5Pcreate(H5P_DATASET_CREATE)), h5_kind::plist) {
    PARTITA_H5(H5Pset_create_intermediate_group(lcpl.get(), 1));
    PARTITA_H5(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS));
    PARTITA_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY));
    PARTITA_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER));
  }
};

h5_handle create_dataset(hid_t where, const std::string& path, const dataset_entry& e, hid_t lcpl, hid_t dcpl) {
  const auto kind = e.element_kind();  // uint8, uint64 or float64
  const hsize_t dims[1] = {static_cast<hsize_t>(e.row.bytes / detail::element_size(kind))};
  h5_handle space(PARTITA_H5(H5Screate_simple(1, dims, nullptr)), h5_kind::dataspace);
  return h5_handle(PARTITA_H5(H5Dcreate2(where, path.c_str(), detail::file_type_of(kind), space.get(), lcpl, dcpl,
                                         H5P_DEFAULT)),
                   h5_kind::dataset);
}

/// A dataset this rank writes, kept open from its creation.
struct owned_dataset {
  h5_handle ds;
  const dataset_entry* entry;
};

/// Creates /partitions/<id>/<name> for every partition of every rank (collective: all create all, in the same
/// order); returns those `rank` owns.
std::vector<owned_dataset> create_partition_datasets(hid_t file, const std::vector<dataset_entry>& parts, int rank,
                                                     hid_t dcpl) {
  std::vector<owned_dataset> mine;
  h5_handle partitions(PARTITA_H5(H5Gcreate2(file, detail::partitions_group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
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
    const std::string leaf = e.row.path.substr(e.row.path.rfind('/') + 1);
    h5_handle ds = create_dataset(id_group.get(), leaf, e, H5P_DEFAULT, dcpl);
    if (e.owner == rank) mine.push_back({std::move(ds), &e});
  }
  return mine;
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

/// The bytes of `e` in this rank's image: a partition by its position, a scheduler dataset (rank 0) by its key.
const void* data_of(const checkpoint_image& local, const dataset_entry& e) {
  if (e.row.path.starts_with("/partitions/")) return local.partitions[e.index].data.data();
  const std::string key = e.row.path.substr(1);
  switch (e.element_kind()) {
    case detail::dataset_kind::blob: return local.blobs.at(key).data();
    case detail::dataset_kind::u64: return local.u64.at(key).data();
    case detail::dataset_kind::f64: return local.f64.at(key).data();
  }
  return nullptr;
}

/// The manifest dataset {path, bytes, crc32, step}, created collectively (its crc32 attribute comes once the
/// checksums are known), and the memory type of its rows, for rank 0 to write them.
struct manifest_dataset {
  h5_handle ds, mem_type;
  std::size_t path_len = 0;
};

manifest_dataset create_manifest(hid_t file, const std::vector<manifest_row>& rows) {
  manifest_dataset m;
  m.path_len = 1;
  for (const auto& r : rows) m.path_len = std::max(m.path_len, r.path.size() + 1);
  h5_handle ftype = detail::manifest_row_type(m.path_len, detail::row_place::file, H5T_STR_NULLTERM);
  m.mem_type = detail::manifest_row_type(m.path_len, detail::row_place::memory, H5T_STR_NULLTERM);
  const hsize_t dims[1] = {rows.size()};
  h5_handle space(PARTITA_H5(H5Screate_simple(1, dims, nullptr)), h5_kind::dataspace);
  m.ds = h5_handle(PARTITA_H5(H5Dcreate2(file, detail::manifest_dataset, ftype.get(), space.get(), H5P_DEFAULT,
                                         H5P_DEFAULT, H5P_DEFAULT)),
                   h5_kind::dataset);
  write_attr(m.ds.get(), "checksum", std::string(detail::checksum_name));
  return m;
}

// ---- Explaining failures.

/// Turns a failed write into a message that says what happened and what to do. A full file system (or a
/// file-size limit) is recognised from the error text, from the free space, or from RLIMIT_FSIZE.
std::string explain_write_failure(const std::string& problem, const fs::path& dir, std::uint64_t needed,
                                  const std::string& previous) {
  std::string lower = problem;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool says_space = lower.find("no space") != std::string::npos || lower.find("no_space") != std::string::npos ||
                          lower.find("quota") != std::string::npos || lower.find("enospc") != std::string::npos;
  const bool says_size = lower.find("file too large") != std::string::npos || lower.find("efbig") != std::string::npos;
  struct statvfs vfs {};
  std::optional<std::uint64_t> free_bytes;
  if (::statvfs(dir.c_str(), &vfs) == 0) free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  struct rlimit fsize {};
  const bool limited = ::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
                       static_cast<std::uint64_t>(fsize.rlim_cur) < needed;
  const std::string keep_note = "Nothing was published (no .tmp is left behind); " +
                                (previous.empty() ? std::string("there is no earlier checkpoint of this job.")
                                                  : "the previous checkpoint " + previous + " is still valid.");
  if (limited || says_size) {
    return fmt::format("the file-size limit of this process ({}; ulimit -f) is smaller than the checkpoint "
                       "(about {}): raise the limit or make the checkpoint smaller. {} (Underlying error: {})",
                       limited ? human_bytes(fsize.rlim_cur) : std::string("RLIMIT_FSIZE"), human_bytes(needed),
                       keep_note, problem);
  }
  if (says_space || (free_bytes && *free_bytes < needed)) {
    return fmt::format("the file system holding {} is full: the checkpoint needs about {}, {} free. Free space "
                       "there or point the checkpoint directory at a larger file system. {} (Underlying error: {})",
                       dir.string(), human_bytes(needed),
                       free_bytes ? human_bytes(*free_bytes) : std::string("unknown"), keep_note, problem);
  }
  return problem + ". " + keep_note;
}

// ---- The phases before the file exists.

/// Where the time of one commit goes, for the debug log: (phase, seconds since the previous mark).
class phase_clock {
 public:
  void mark(const char* name) {
    const auto now = std::chrono::steady_clock::now();
    marks_.emplace_back(name, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(); }
  std::string text() const {
    std::string out;
    for (const auto& [name, secs] : marks_) out += fmt::format(" {} {:.4f}", name, secs);
    return out;
  }

 private:
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now(), last_ = started_;
  std::vector<std::pair<const char*, double>> marks_;
};

/// What a commit publishes: a checkpoint epoch (never replaced, then LATEST and pruning) or a job's output file
/// (replaces the file it names: the caller checked it is this job's).
enum class commit_kind { checkpoint, output };

/// The files of one commit: <dir>/<job>.<epoch>.h5 and its .tmp, or an output FILE and FILE.tmp.
struct commit_paths {
  explicit commit_paths(const write_plan& plan)
      : dir(plan.dir), final_path(detail::committed_path(dir, plan.job, plan.epoch)),
        tmp(detail::tmp_path(dir, plan.job, plan.epoch)), tmp_name(tmp.string()) {}
  explicit commit_paths(const fs::path& output)
      : kind(commit_kind::output), dir(output.parent_path().empty() ? fs::path(".") : output.parent_path()),
        final_path(output), tmp(output.string() + ".tmp"), tmp_name(tmp.string()) {}
  commit_kind kind = commit_kind::checkpoint;
  fs::path dir, final_path, tmp;
  std::string tmp_name;
};

/// Rank 0 checks meta and the scheduler datasets and broadcasts the plan. Collective.
write_plan agree_on_plan(const group_info& g, const store_options& opt, const checkpoint_image& local) {
  write_plan plan;
  if (auto p = detail::run_and_agree(g, [&] {
        if (g.rank == 0) plan = detail::make_plan(opt, local);
      })) {
    throw checkpoint_error(opt.dir.string(), "cannot write checkpoint: " + *p);
  }
  bytes wire;
  if (g.rank == 0) wire = serialize(plan);
  detail::bcast_bytes(g, wire, 0);
  if (g.rank != 0) plan = deserialize<write_plan>(wire);
  return plan;
}

/// This rank's partition datasets. Collective (agrees on a bad one).
std::vector<dataset_entry> own_partitions(const group_info& g, const checkpoint_image& local,
                                          const commit_paths& paths) {
  std::vector<dataset_entry> mine;
  if (auto p = detail::run_and_agree(g, [&] { mine = detail::local_partitions(local, g.rank); }))
    throw checkpoint_error(paths.tmp_name, *p);
  return mine;
}

/// Every rank's partition datasets, sorted: creation is collective, so all must create all of them. Collective.
std::vector<dataset_entry> all_partitions(const group_info& g, const std::vector<dataset_entry>& mine,
                                          const commit_paths& paths) {
  std::vector<std::vector<dataset_entry>> by_rank;
  for (const auto& b : detail::allgather_bytes(g, serialize(mine)))
    by_rank.push_back(deserialize<std::vector<dataset_entry>>(b));
  auto parts = detail::sorted_partitions(std::move(by_rank));
  // The same list on every rank, so the same verdict: no agreement needed.
  if (auto why = detail::shared_partition_problem(parts)) throw checkpoint_error(paths.tmp_name, *why);
  return parts;
}

/// The checks before HDF5 sees the file: the file-size limit on every rank; on rank 0 the directory, an
/// already committed epoch (never replaced) and the free space. Returns the newest committed checkpoint, which
/// stays valid if this one fails. Throws partita::error.
std::string check_room(const group_info& g, const write_plan& plan, const commit_paths& paths, std::uint64_t needed) {
  // A file-size limit (ulimit -f) is checked before HDF5 sees the file: HDF5 1.10 cannot recover from a
  // failed H5Fclose, and a close that writes past the limit would fail.
  struct rlimit fsize {};
  if (::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
      static_cast<std::uint64_t>(fsize.rlim_cur) < needed) {
    throw error("write would exceed the file-size limit (EFBIG)");
  }
  if (g.rank != 0) return {};
  fs::create_directories(paths.dir);
  if (paths.kind == commit_kind::checkpoint && fs::exists(paths.final_path))
    throw error("epoch " + std::to_string(plan.epoch) + " is already committed as " + paths.final_path.string() +
                "; a committed checkpoint is never overwritten (continue numbering after newest_epoch())");
  // The same for free space: a file system too full for the checkpoint is found before HDF5 has a file
  // whose close could fail. (A file system that fills up while we write is caught by the reservation.)
  struct statvfs vfs {};
  if (!detail::free_space_check_skipped() && ::statvfs(paths.dir.c_str(), &vfs) == 0 &&
      static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize < needed)
    throw error("no space left on the file system (ENOSPC)");
  const auto older = detail::list_epochs(paths.dir, plan.job, detail::committed_suffix);
  return older.empty() ? std::string() : older.front().path.string();
}

/// Prepares the directory (check_room) and agrees on it; returns the checkpoint that stays valid on every
/// rank, for messages. Collective.
std::string prepare_directory(const group_info& g, const write_plan& plan, const commit_paths& paths,
                              std::uint64_t needed) {
  std::string previous;
  if (auto p = detail::run_and_agree(g, [&] { previous = check_room(g, plan, paths, needed); })) {
    std::string text = *p;
    if (text.find("EFBIG") != std::string::npos || text.find("ENOSPC") != std::string::npos) {
      const auto older = detail::list_epochs(paths.dir, plan.job, detail::committed_suffix);
      text = explain_write_failure(text, paths.dir, needed,
                                   older.empty() ? std::string() : older.front().path.string());
    }
    throw checkpoint_error(paths.tmp_name, text);
  }
  detail::bcast_text(g, previous, 0);
  return previous;
}

// ---- The .tmp file: create, reserve, write, manifest, close, sync.

/// Reserves the blocks of `ranges` (file offset, length) in `tmp` with fallocate, so that a full file system
/// shows as one clear failure before any data is written. File systems without fallocate skip it. Throws
/// std::system_error.
void reserve_blocks(const fs::path& tmp, const std::vector<std::pair<haddr_t, std::uint64_t>>& ranges) {
  std::uint64_t reserved = 0;
  int fd = -1;
  for (const auto& [offset, length] : ranges) {
    if (length == 0 || offset == HADDR_UNDEF) continue;  // empty, or not contiguous (compact)
    if (fd < 0) fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + tmp.string());
    if (::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
      const int err = errno;
      if (err == EOPNOTSUPP || err == ENOSYS) break;
      ::close(fd);
      throw std::system_error(err, std::generic_category(),
                              fmt::format("reserving {} in {} after {}", human_bytes(length), tmp.string(),
                                          human_bytes(reserved)));
    }
    reserved += length;
  }
  if (fd >= 0) ::close(fd);
}

/// The .tmp file while it is written, with the HDF5 objects open in it. Each method is one phase of the
/// protocol, run on every rank and agreed on; a failure anywhere in any of them goes through fail(), the one
/// clean-up path, which every rank reaches together. Not copyable or movable.
class tmp_file {
 public:
  tmp_file(const group_info& g, const write_plan& plan, const commit_paths& paths, std::uint64_t needed,
           std::string previous)
      : g_(g), plan_(plan), paths_(paths), needed_(needed), previous_(std::move(previous)) {}
  tmp_file(const tmp_file&) = delete;
  tmp_file& operator=(const tmp_file&) = delete;

  /// Creates the file with the MPI-IO driver. Collective.
  void create() {
    agreed([&] {
      h5_handle fapl = detail::make_fapl();
      PARTITA_H5(H5Pset_fapl_mpio(fapl.get(), g_.comm, MPI_INFO_NULL));
      PARTITA_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110));
      PARTITA_H5(H5Pset_coll_metadata_write(fapl.get(), true));
      file_ = h5_handle(PARTITA_H5(H5Fcreate(paths_.tmp_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())),
                        h5_kind::file);
    });
  }

  /// Creates every object of the file: /meta, the scheduler datasets, the partitions, the manifest (HDF5
  /// creates objects collectively, so every rank creates all of them); keeps open those this rank writes.
  void create_objects(const std::vector<dataset_entry>& parts, const std::vector<manifest_row>& rows) {
    agreed([&] {
      const hid_t f = file_.get();
      write_meta_group(f, plan_);
      const creation_plists pl;
      for (const auto& e : plan_.scheduler) {
        h5_handle ds = create_dataset(f, e.row.path, e, pl.lcpl.get(), pl.dcpl.get());
        if (g_.rank == 0) to_write_.push_back({std::move(ds), &e});
      }
      auto mine = create_partition_datasets(f, parts, g_.rank, pl.dcpl.get());
      std::move(mine.begin(), mine.end(), std::back_inserter(to_write_));
      manifest_ = create_manifest(f, rows);
    });
  }

  /// Reserves the blocks of this rank's datasets (and rank 0's manifest) before any data is written, so that
  /// a full file system shows here, as one clear failure, and not halfway through the data.
  void reserve(std::size_t manifest_rows) {
    agreed([&] {
      // H5Dget_offset gives HADDR_UNDEF (not an error) for datasets without contiguous storage yet.
      std::vector<std::pair<haddr_t, std::uint64_t>> ranges;
      for (const auto& w : to_write_) ranges.emplace_back(H5Dget_offset(w.ds.get()), w.entry->row.bytes);
      if (manifest_.ds)
        ranges.emplace_back(H5Dget_offset(manifest_.ds.get()),
                            manifest_rows * detail::manifest_row_size(manifest_.path_len));
      reserve_blocks(paths_.tmp, ranges);
    });
  }

  /// Each rank writes its own datasets (independent I/O: one rank's failure cannot block the others inside a
  /// collective write), then checksums its partitions into `mine` while the data goes to disk.
  void write_owned(const checkpoint_image& local, std::vector<dataset_entry>& mine) {
    agreed([&] {
      if (auto bad = detail::injected_checkpoint_write_failure(); bad && *bad == g_.rank)
        throw error("injected write failure (test hook)");
      for (auto& w : to_write_) {
        const auto kind = w.entry->element_kind();
        const std::size_t esize = detail::element_size(kind);
        write_whole(w.ds.get(), detail::mem_type_of(kind), data_of(local, *w.entry), w.entry->row.bytes / esize, esize);
        w.ds.close();
      }
      // Start the writeback now and checksum while the disk works (the fsync below then waits less).
      if (const int fd = ::open(paths_.tmp.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
        (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        ::close(fd);
      }
      for (auto& e : mine) e.row.crc = detail::crc32(local.partitions[e.index].data);
    });
    to_write_.clear();
  }

  /// Every rank learns every CRC-32 (4 bytes per dataset) for the manifest's crc32 attribute, which all ranks
  /// must write with the same value; rank 0 writes the rows.
  void write_manifest(const std::vector<dataset_entry>& mine, const std::vector<dataset_entry>& parts,
                      std::vector<manifest_row>& rows) {
    agreed([&] {
      fill_partition_crcs(mine, parts, rows);
      write_attr(manifest_.ds.get(), "crc32", detail::manifest_crc(rows), H5T_STD_U32LE, H5T_NATIVE_UINT32);
      if (g_.rank == 0) {
        const auto packed = detail::pack_manifest(rows, manifest_.path_len);
        PARTITA_H5(H5Dwrite(manifest_.ds.get(), manifest_.mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                            packed.data()));
      }
      manifest_.ds.close();
    });
    manifest_.mem_type.reset();
  }

  /// Closes the file (collective: flushes the metadata).
  void close() {
    agreed([&] { file_.close(); });
  }

  /// fsyncs the file on every rank.
  void sync() {
    agreed([&] { detail::fsync_path(paths_.tmp, false); });
  }

 private:
  /// Runs one phase on every rank; a failure on any rank is agreed on and then goes to fail() everywhere.
  template <class Fn>
  void agreed(Fn&& fn) {
    if (auto p = detail::run_and_agree(g_, std::forward<Fn>(fn))) fail(*p);
  }

  /// The partitions' CRC-32s of every rank into their manifest rows. Collective.
  void fill_partition_crcs(const std::vector<dataset_entry>& mine, const std::vector<dataset_entry>& parts,
                           std::vector<manifest_row>& rows) const {
    std::vector<std::uint32_t> crcs(mine.size());
    for (std::size_t i = 0; i < mine.size(); ++i) crcs[i] = mine[i].row.crc;
    const auto* b = reinterpret_cast<const std::byte*>(crcs.data());
    const auto all = detail::allgather_bytes(g_, bytes(b, b + crcs.size() * sizeof(std::uint32_t)));
    const std::size_t first = detail::first_partition_row(plan_);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& from = all.at(static_cast<std::size_t>(parts[i].owner));
      const std::size_t at = static_cast<std::size_t>(parts[i].index) * sizeof(std::uint32_t);
      if (at + sizeof(std::uint32_t) > from.size()) throw error("internal: a rank sent too few checksums");
      std::memcpy(&rows[first + i].crc, from.data() + at, sizeof(std::uint32_t));
    }
  }

  /// The one clean-up path: every rank gets here together and nobody writes data any more. Rank 0 explains
  /// (free space, size limit: before the file gives its space back) so that every rank throws the same text.
  /// Then the file is emptied before the collective close: the close rewrites the metadata, which must not
  /// fail for lack of space (HDF5 1.10 leaves a file whose H5Fclose failed in a state that crashes at exit).
  /// Nothing is published and the .tmp is removed.
  [[noreturn]] void fail(const std::string& problem) {
    to_write_.clear();  // the objects in the file are closed before it
    manifest_.ds.reset();
    std::string text;
    if (g_.rank == 0) {
      log().error("checkpoint epoch {} of job '{}' failed: {}", plan_.epoch, plan_.job, problem);
      text = explain_write_failure(problem, paths_.dir, needed_, previous_);
    }
    if (file_) {
      if (g_.rank == 0) (void)::truncate(paths_.tmp.c_str(), 0);
      (void)MPI_Barrier(g_.comm);  // failing here changes nothing: we are reporting a failure already
      file_.reset();
    }
    if (g_.rank == 0) {
      std::error_code ec;
      fs::remove(paths_.tmp, ec);
    }
    detail::bcast_text(g_, text, 0);
    throw checkpoint_error(paths_.tmp_name, text);
  }

  const group_info& g_;
  const write_plan& plan_;
  const commit_paths& paths_;
  std::uint64_t needed_;
  std::string previous_;  // the checkpoint that stays valid, for messages
  h5_handle file_;        // declared before the objects in it: closed last
  std::vector<owned_dataset> to_write_;
  manifest_dataset manifest_;
};

// ---- Publishing.

/// Deletes all but the newest `keep` committed epochs of the job, and stale .tmp files of older epochs; never
/// what was just committed or newer. Logs what it could not delete.
void prune(const fs::path& dir, const write_plan& plan) {
  const auto committed = detail::list_epochs(dir, plan.job, detail::committed_suffix);
  for (std::size_t i = static_cast<std::size_t>(plan.keep); i < committed.size(); ++i) {
    if (committed[i].epoch >= plan.epoch) continue;
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
}

/// Rank 0, after a rename: fsyncs the directory, so that the rename survives a crash. The problem if it could not.
std::optional<std::string> sync_after_rename(const commit_paths& paths) {
  try {
    detail::fsync_path(paths.dir, true);
  } catch (const std::system_error& e) {
    return std::string("renamed, but the directory could not be synced, so the rename may not survive a crash: ") +
           e.what();
  }
  return std::nullopt;
}

/// Rank 0 publishes an output file: rename over FILE (the caller checked that a file there is this job's), fsync
/// the directory. Returns the problem if it is not published (or its rename may not survive a crash).
std::optional<std::string> publish_output(const commit_paths& paths, phase_clock& clock) {
  if (::rename(paths.tmp.c_str(), paths.final_path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::error_code ec;
    fs::remove(paths.tmp, ec);
    return "cannot publish the output (rename " + paths.tmp_name + "): " + why;
  }
  crash_point("output.after_rename");
  auto problem = sync_after_rename(paths);
  clock.mark("rename");
  return problem;
}

/// Rank 0 publishes: rename without replacing, fsync the directory, LATEST, prune. Returns the problem if the
/// checkpoint is not published (or its rename may not survive a crash).
std::optional<std::string> publish(const write_plan& plan, const commit_paths& paths, phase_clock& clock) {
  if (paths.kind == commit_kind::output) return publish_output(paths, clock);
  try {
    detail::rename_no_replace(paths.tmp, paths.final_path);
  } catch (const std::system_error& e) {
    std::error_code ec;
    fs::remove(paths.tmp, ec);
    return std::string("cannot publish the checkpoint: ") + e.what();
  }
  crash_point("ckpt.after_rename");
  if (auto problem = sync_after_rename(paths)) return problem;
  clock.mark("rename");
  crash_point("ckpt.after_dir_fsync");
  try {
    detail::write_file_atomically(paths.dir / detail::latest_name, paths.final_path.filename().string() + "\n");
  } catch (const std::exception& e) {  // LATEST is a hint; restart does not need it
    log().warn("checkpoint {} is committed but LATEST could not be updated: {}", paths.final_path.string(), e.what());
  }
  clock.mark("latest");
  crash_point("ckpt.after_latest");
  prune(paths.dir, plan);
  clock.mark("prune");
  crash_point("ckpt.after_prune");
  return std::nullopt;
}

/// Rank 0 publishes; the others wait for the outcome, so that every rank returns the same result or throws
/// the same error. Collective.
commit_result publish_and_agree(const group_info& g, const write_plan& plan, const commit_paths& paths,
                                phase_clock& clock) {
  commit_result result{paths.final_path, epoch_t{plan.epoch}, 0, 0};
  std::optional<std::string> problem;
  if (g.rank == 0) {
    problem = publish(plan, paths, clock);
    std::error_code ec;
    if (!problem) result.bytes = fs::file_size(paths.final_path, ec);
  }
  if (auto p = detail::agree(g, problem)) throw checkpoint_error(paths.final_path.string(), *p);
  double stats[2] = {static_cast<double>(result.bytes), clock.seconds()};
  PARTITA_MPI(MPI_Bcast(stats, 2, MPI_DOUBLE, 0, g.comm));
  result.bytes = static_cast<std::uint64_t>(stats[0]);
  result.seconds = stats[1];
  if (g.rank == 0 && paths.kind == commit_kind::output) {
    log().info("output of job '{}' at step {} committed: {} ({}, {:.3f} s)", plan.job, plan.step,
               paths.final_path.string(), human_bytes(result.bytes), stats[1]);
  } else if (g.rank == 0) {
    log().info("checkpoint epoch {} of job '{}' committed: {} ({}, {:.3f} s)", plan.epoch, plan.job,
               paths.final_path.string(), human_bytes(result.bytes), stats[1]);
    log().debug("checkpoint epoch {} phases (s):{}", plan.epoch, clock.text());
  }
  return result;
}

}  // namespace

namespace {

/// The protocol of write_checkpoint and write_output; they differ in the paths and in what publishing means.
/// `output`: the output file to commit instead of a checkpoint epoch. The crash points are named after the kind
/// (ckpt.* or output.*).
commit_result commit(MPI_Comm comm, const store_options& opt, const checkpoint_image& local,
                     const std::optional<fs::path>& output) {
  const auto hdf5 = h5_lock();
  detail::prepare_hdf5();
  phase_clock clock;
  const group_info g = detail::group_of(comm);
  const char* const prefix = output ? "output." : "ckpt.";
  const auto crash_at = [prefix](const char* phase) { crash_point(std::string(prefix) + phase); };

  // 1. Plan: rank 0 checks and broadcasts meta and the scheduler datasets; every rank learns every partition
  //    dataset (creation is collective, so all must create all of them).
  const write_plan plan = agree_on_plan(g, opt, local);
  const commit_paths paths = output ? commit_paths(*output) : commit_paths(plan);
  std::vector<dataset_entry> mine = own_partitions(g, local, paths);
  const std::vector<dataset_entry> parts = all_partitions(g, mine, paths);
  const std::uint64_t needed = detail::file_size_bound(plan, parts);

  // 2. Prepare the directory on rank 0; a committed file of this epoch is never replaced.
  tmp_file tmp(g, plan, paths, needed, prepare_directory(g, plan, paths, needed));
  clock.mark("prepare");
  crash_at("before_write");

  // 3. Create the file and every object in it, reserve the blocks, and write: each rank its own datasets,
  //    rank 0 the manifest. From here on every failure goes through tmp_file's one clean-up path.
  tmp.create();
  std::vector<manifest_row> rows = detail::manifest_rows(plan, parts);
  tmp.create_objects(parts, rows);
  clock.mark("create");
  tmp.reserve(rows.size());
  clock.mark("reserve");
  tmp.write_owned(local, mine);
  clock.mark("write");
  tmp.write_manifest(mine, parts, rows);
  clock.mark("manifest");

  // 4. Close (collective: flushes the metadata), fsync on every rank, agree.
  tmp.close();
  clock.mark("close");
  crash_at("after_tmp_close");
  tmp.sync();
  clock.mark("fsync");
  crash_at("after_fsync");

  // 5. Publish on rank 0: rename without replacing, fsync the directory, LATEST, prune (an output: rename over).
  return publish_and_agree(g, plan, paths, clock);
}

}  // namespace

commit_result write_checkpoint(MPI_Comm comm, const store_options& opt, const checkpoint_image& local) {
  return commit(comm, opt, local, std::nullopt);
}

commit_result write_output(MPI_Comm comm, const std::filesystem::path& file, const checkpoint_image& local) {
  const store_options opt{file.parent_path().empty() ? fs::path(".") : file.parent_path(), 1};
  return commit(comm, opt, local, file);
}

}  // namespace partita
