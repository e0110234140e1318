#include "crafted_checkpoints.hpp"

#include <hdf5.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/layout.hpp>

namespace partita::fuzz {

namespace {

namespace fs = std::filesystem;
using detail::manifest_row;

hid_t ok(hid_t id, const char* what) {
  if (id < 0) throw std::runtime_error(std::string("crafted checkpoints: HDF5 call failed: ") + what);
  return id;
}
#define PARTITA_CRAFT_H5(...) ok((__VA_ARGS__), #__VA_ARGS__)

// Closes an HDF5 id with `close` at scope end.
struct closer {
  hid_t id;
  herr_t (*close)(hid_t);
  ~closer() {
    if (id >= 0) close(id);
  }
};

// The manifest rows of a valid file, the /meta row first.
std::vector<manifest_row> rows_of(const fs::path& file) {
  detail::checkpoint_file f(file);
  const auto meta = f.read_meta();
  auto rows = f.read_manifest(meta);
  const bytes enc = detail::encode_meta(meta);
  rows.insert(rows.begin(), {"/meta", enc.size(), detail::crc32(enc), 0});
  return rows;
}

// One copy of the base file open for editing, with its manifest rows; finish() writes the manifest back.
class editor {
 public:
  editor(const fs::path& base, fs::path out) : out_(std::move(out)), rows_(rows_of(base)) {
    fs::copy_file(base, out_, fs::copy_options::overwrite_existing);
    file_ = PARTITA_CRAFT_H5(H5Fopen(out_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  }
  ~editor() {
    if (file_ >= 0) H5Fclose(file_);
  }
  hid_t file() const { return file_; }
  std::vector<manifest_row>& rows() { return rows_; }

  /// Adds dataset `path` of file type `type` and shape `dims` (empty: scalar; {0} with null=true: null),
  /// storage from `dcpl`, holding `data` (written with `mem`, when given), and a manifest row for it
  /// (bytes = data size, CRC-32 of data) unless `listed` is false.
  void add_dataset(const std::string& path, hid_t type, std::vector<hsize_t> dims, hid_t dcpl,
                   const std::vector<std::byte>& data, hid_t mem, bool listed = true, bool null_space = false) {
    closer space{null_space ? PARTITA_CRAFT_H5(H5Screate(H5S_NULL))
                 : dims.empty()
                     ? PARTITA_CRAFT_H5(H5Screate(H5S_SCALAR))
                     : PARTITA_CRAFT_H5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)),
                 H5Sclose};
    closer lcpl{PARTITA_CRAFT_H5(H5Pcreate(H5P_LINK_CREATE)), H5Pclose};
    PARTITA_CRAFT_H5(H5Pset_create_intermediate_group(lcpl.id, 1));
    closer ds{PARTITA_CRAFT_H5(H5Dcreate2(file_, path.c_str(), type, space.id, lcpl.id, dcpl, H5P_DEFAULT)), H5Dclose};
    if (mem >= 0 && !data.empty()) PARTITA_CRAFT_H5(H5Dwrite(ds.id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
    if (listed) rows_.push_back({path, data.size(), detail::crc32(data), 0});
  }

  /// Replaces attribute `name` of /meta with one of type `type`, shape `n` elements (0: scalar), value `v`.
  void set_meta_attr(const char* name, hid_t type, const void* v, hsize_t n = 0) {
    closer meta{PARTITA_CRAFT_H5(H5Gopen2(file_, "/meta", H5P_DEFAULT)), H5Gclose};
    if (H5Aexists(meta.id, name) > 0) PARTITA_CRAFT_H5(H5Adelete(meta.id, name));
    closer space{n == 0 ? PARTITA_CRAFT_H5(H5Screate(H5S_SCALAR)) : PARTITA_CRAFT_H5(H5Screate_simple(1, &n, nullptr)),
                 H5Sclose};
    closer a{PARTITA_CRAFT_H5(H5Acreate2(meta.id, name, type, space.id, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose};
    PARTITA_CRAFT_H5(H5Awrite(a.id, type, v));
  }
  void delete_meta_attr(const char* name) {
    closer meta{PARTITA_CRAFT_H5(H5Gopen2(file_, "/meta", H5P_DEFAULT)), H5Gclose};
    PARTITA_CRAFT_H5(H5Adelete(meta.id, name));
  }

  /// Writes `rows` back as /manifest with a matching crc32 attribute: `path_type` H5T_C_S1-based fixed
  /// strings (or a variable-length string type), `dcpl` its storage; `drop_step` leaves out that member.
  /// When `refresh_meta_row`, the /meta row is recomputed from the (edited) /meta first.
  void finish(bool refresh_meta_row = true, bool vlen_path = false, bool drop_step = false, hid_t dcpl = H5P_DEFAULT) {
    H5Fflush(file_, H5F_SCOPE_LOCAL);
    if (refresh_meta_row) {
      try {
        H5Fclose(std::exchange(file_, -1));
        detail::checkpoint_file f(out_);
        const bytes enc = detail::encode_meta(f.read_meta());
        for (auto& r : rows_)
          if (r.path == "/meta") r = {"/meta", enc.size(), detail::crc32(enc), 0};
      } catch (const checkpoint_error&) {  // /meta made unreadable on purpose: keep the old row
      }
      if (file_ < 0) file_ = PARTITA_CRAFT_H5(H5Fopen(out_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    }
    PARTITA_CRAFT_H5(H5Ldelete(file_, "/manifest", H5P_DEFAULT));
    std::size_t len = 1;
    for (const auto& r : rows_) len = std::max(len, r.path.size() + 1);
    closer str{PARTITA_CRAFT_H5(H5Tcopy(H5T_C_S1)), H5Tclose};
    PARTITA_CRAFT_H5(H5Tset_size(str.id, vlen_path ? H5T_VARIABLE : len));
    const std::size_t path_size = vlen_path ? sizeof(char*) : len;
    const std::size_t mem_row = path_size + 20;
    closer t{PARTITA_CRAFT_H5(H5Tcreate(H5T_COMPOUND, mem_row)), H5Tclose};
    PARTITA_CRAFT_H5(H5Tinsert(t.id, "path", 0, str.id));
    PARTITA_CRAFT_H5(H5Tinsert(t.id, "bytes", path_size, H5T_NATIVE_UINT64));
    PARTITA_CRAFT_H5(H5Tinsert(t.id, "crc32", path_size + 8, H5T_NATIVE_UINT32));
    if (!drop_step) PARTITA_CRAFT_H5(H5Tinsert(t.id, "step", path_size + 12, H5T_NATIVE_UINT64));
    const hsize_t n = rows_.size();
    closer sp{PARTITA_CRAFT_H5(H5Screate_simple(1, &n, nullptr)), H5Sclose};
    closer d{PARTITA_CRAFT_H5(H5Dcreate2(file_, "/manifest", t.id, sp.id, H5P_DEFAULT, dcpl, H5P_DEFAULT)), H5Dclose};
    std::vector<char> buf(rows_.size() * mem_row, '\0');
    std::vector<std::string> keep;  // the variable-length strings' storage
    keep.reserve(rows_.size());
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      char* p = buf.data() + i * mem_row;
      if (vlen_path) {
        keep.push_back(rows_[i].path);
        const char* s = keep.back().c_str();
        std::memcpy(p, &s, sizeof s);
      } else {
        std::memcpy(p, rows_[i].path.data(), rows_[i].path.size());
      }
      std::memcpy(p + path_size, &rows_[i].bytes, 8);
      std::memcpy(p + path_size + 8, &rows_[i].crc, 4);
      std::memcpy(p + path_size + 12, &rows_[i].step, 8);
    }
    PARTITA_CRAFT_H5(H5Dwrite(d.id, t.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()));
    const std::uint32_t crc = detail::manifest_crc(rows_);
    closer asp{PARTITA_CRAFT_H5(H5Screate(H5S_SCALAR)), H5Sclose};
    closer a{PARTITA_CRAFT_H5(H5Acreate2(d.id, "crc32", H5T_STD_U32LE, asp.id, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose};
    PARTITA_CRAFT_H5(H5Awrite(a.id, H5T_NATIVE_UINT32, &crc));
  }

 private:
  fs::path out_;
  std::vector<manifest_row> rows_;
  hid_t file_ = -1;
};

std::vector<std::byte> some_bytes(std::size_t n) {
  std::vector<std::byte> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 37 + 11);
  return b;
}

hid_t plist_with(const std::function<void(hid_t)>& set) {
  const hid_t p = PARTITA_CRAFT_H5(H5Pcreate(H5P_DATASET_CREATE));
  set(p);
  return p;
}

}  // namespace

int write_crafted_checkpoints(const fs::path& base, const fs::path& dir) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const auto b16 = some_bytes(16);
  const hsize_t chunk = 8;
  // Each variant: a name and an edit. Comments say which check of the reader it reaches.
  const std::vector<std::pair<std::string, std::function<void(editor&)>>> variants = {
      {"compact-blob",
       [&](editor& e) {  // accepted: compact storage is plain storage in the file
         closer p{plist_with([](hid_t p) { H5Pset_layout(p, H5D_COMPACT); }), H5Pclose};
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {16}, p.id, b16, H5T_NATIVE_UINT8);
       }},
      {"chunked-blob",
       [&](editor& e) {  // storage layout
         closer p{plist_with([&](hid_t p) { H5Pset_chunk(p, 1, &chunk); }), H5Pclose};
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {16}, p.id, b16, H5T_NATIVE_UINT8);
       }},
      {"deflate-blob",
       [&](editor& e) {  // filters
         closer p{plist_with([&](hid_t p) {
                    H5Pset_chunk(p, 1, &chunk);
                    H5Pset_deflate(p, 1);
                  }),
                  H5Pclose};
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {16}, p.id, b16, H5T_NATIVE_UINT8);
       }},
      {"external-blob",
       [&](editor& e) {  // external storage (the raw file is never opened)
         closer p{plist_with([](hid_t p) { H5Pset_external(p, "fz-external.raw", 0, 16); }), H5Pclose};
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {16}, p.id, {}, -1);
         e.rows().back().bytes = 16;
       }},
      {"two-dimensional",
       [&](editor& e) {  // shape
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {2, 8}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8);
       }},
      {"int32",
       [&](editor& e) {  // type
         e.add_dataset("/scheduler/fz", H5T_STD_I32LE, {4}, H5P_DEFAULT, b16, H5T_NATIVE_INT32);
       }},
      {"int64-signed",
       [&](editor& e) {  // type: u64 must be unsigned
         e.add_dataset("/scheduler/fz", H5T_STD_I64LE, {2}, H5P_DEFAULT, b16, H5T_NATIVE_INT64);
       }},
      {"float32",
       [&](editor& e) { e.add_dataset("/scheduler/fz", H5T_IEEE_F32LE, {4}, H5P_DEFAULT, b16, H5T_NATIVE_FLOAT); }},
      {"u64-big-endian",
       [&](editor& e) {  // accepted: HDF5 converts to native
         e.add_dataset("/scheduler/fz", H5T_STD_U64BE, {2}, H5P_DEFAULT, b16, H5T_NATIVE_UINT64);
       }},
      {"f64-scalar",
       [&](editor& e) {  // accepted: a scalar is one element
         e.add_dataset("/scheduler/fz", H5T_IEEE_F64LE, {}, H5P_DEFAULT, some_bytes(8), H5T_NATIVE_DOUBLE);
       }},
      {"null-dataspace",
       [&](editor& e) {  // accepted: no elements, 0 bytes
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {}, H5P_DEFAULT, {}, -1, true, true);
       }},
      {"int8-blob",
       [&](editor& e) {                     // accepted: any 1-byte integer is a blob (values below 128: HDF5
         std::vector<std::byte> small(16);  // clamps negative ones to 0 when it converts to uint8)
         for (std::size_t i = 0; i < small.size(); ++i) small[i] = static_cast<std::byte>(i);
         e.add_dataset("/scheduler/fz", H5T_STD_I8LE, {16}, H5P_DEFAULT, small, H5T_NATIVE_INT8);
       }},
      {"enum",
       [&](editor& e) {
         closer t{PARTITA_CRAFT_H5(H5Tenum_create(H5T_NATIVE_UINT8)), H5Tclose};
         unsigned char v = 0;
         H5Tenum_insert(t.id, "zero", &v);
         e.add_dataset("/scheduler/fz", t.id, {1}, H5P_DEFAULT, some_bytes(1), -1);
       }},
      {"partition-u64",
       [&](editor& e) {  // partition datasets are uint8
         e.add_dataset("/partitions/5/state", H5T_STD_U64LE, {2}, H5P_DEFAULT, b16, H5T_NATIVE_UINT64);
       }},
      {"partition-blob",
       [&](editor& e) {  // accepted: per-partition state (the iterative model's form)
         e.add_dataset("/partitions/5/state", H5T_STD_U8LE, {16}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8);
         e.add_dataset("/partitions/5/extra", H5T_STD_U8LE, {16}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8);
         e.rows().back().step = 3;
       }},
      {"partition-bad-path",
       [&](editor& e) {  // /partitions/<id>/<name> form
         e.add_dataset("/partitions/05/state", H5T_STD_U8LE, {16}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8);
       }},
      {"bad-key",
       [&](editor& e) {  // key rules ('.' component)
         e.add_dataset("/scheduler/./fz", H5T_STD_U8LE, {16}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8);
       }},
      {"unlisted-dataset",
       [&](editor& e) {  // accepted: what the manifest does not list is not read
         e.add_dataset("/scheduler/fz", H5T_STD_U8LE, {16}, H5P_DEFAULT, b16, H5T_NATIVE_UINT8, false);
       }},
      {"external-link",
       [&](editor& e) {  // links out of the file are refused
         PARTITA_CRAFT_H5(H5Lcreate_external("fz-other.h5", "/x", e.file(), "/scheduler/fz", H5P_DEFAULT, H5P_DEFAULT));
         e.rows().push_back({"/scheduler/fz", 16, detail::crc32(b16), 0});
       }},
      {"soft-link",
       [&](editor& e) {  // accepted: an alias of a real dataset, listed twice under two names
         const auto target = e.rows().back();
         PARTITA_CRAFT_H5(H5Lcreate_soft(target.path.c_str(), e.file(), "/scheduler/fz_alias", H5P_DEFAULT,
                                         H5P_DEFAULT));
         e.rows().push_back({"/scheduler/fz_alias", target.bytes, target.crc, 0});
       }},
      {"meta-job-vlen",
       [&](editor& e) {  // /meta strings are fixed-length
         closer t{PARTITA_CRAFT_H5(H5Tcopy(H5T_C_S1)), H5Tclose};
         H5Tset_size(t.id, H5T_VARIABLE);
         const char* job = "synthetic";
         e.set_meta_attr("job", t.id, &job);
       }},
      {"meta-epoch-negative",
       [&](editor& e) {
         const std::int64_t v = -1;
         e.set_meta_attr("epoch", H5T_NATIVE_INT64, &v);
       }},
      {"meta-epoch-int32",
       [&](editor& e) {  // accepted: a narrower signed integer
         const std::int32_t v = 7;
         e.set_meta_attr("epoch", H5T_NATIVE_INT32, &v);
       }},
      {"meta-rank-count-zero",
       [&](editor& e) {
         const std::uint64_t v = 0;
         e.set_meta_attr("rank_count", H5T_NATIVE_UINT64, &v);
       }},
      {"meta-step-two-values",
       [&](editor& e) {
         const std::uint64_t v[2] = {1, 2};
         e.set_meta_attr("step", H5T_NATIVE_UINT64, v, 2);
       }},
      {"meta-no-model", [&](editor& e) { e.delete_meta_attr("model"); }},
      {"meta-format-next",
       [&](editor& e) {  // a newer format: refused, naming both versions
         const std::uint64_t v = checkpoint_format_version + 1;
         e.set_meta_attr("format_version", H5T_NATIVE_UINT64, &v);
       }},
      {"meta-params-hash-double",
       [&](editor& e) {
         const double v = 1.5;
         e.set_meta_attr("params_hash", H5T_NATIVE_DOUBLE, &v);
       }},
  };
  int n = 0;
  for (const auto& [name, edit] : variants) {
    editor e(base, dir / ("crafted-" + name + ".h5"));
    edit(e);
    e.finish();
    ++n;
  }
  // Manifests a writer never writes.
  const std::vector<std::pair<std::string, std::function<void(editor&)>>> manifests = {
      {"manifest-vlen-path", [](editor& e) { e.finish(true, true); }},
      {"manifest-no-step", [](editor& e) { e.finish(true, false, true); }},
      {"manifest-chunked",
       [&](editor& e) {  // accepted: the manifest's own storage is not restricted
         closer p{plist_with([&](hid_t p) { H5Pset_chunk(p, 1, &chunk); }), H5Pclose};
         e.finish(true, false, false, p.id);
       }},
      {"manifest-duplicate-row",
       [](editor& e) {
         e.rows().push_back(e.rows().back());
         e.finish();
       }},
      {"manifest-no-meta-row",
       [](editor& e) {
         e.rows().erase(e.rows().begin());
         e.finish(false);
       }},
  };
  for (const auto& [name, edit] : manifests) {
    editor e(base, dir / ("crafted-" + name + ".h5"));
    edit(e);
    ++n;
  }
  return n;
}

}  // namespace partita::fuzz
