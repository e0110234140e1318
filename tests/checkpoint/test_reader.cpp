// The reader treats a checkpoint as untrusted input: mismatches, newer formats, crafted sizes, and fuzzing.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <partita/checkpoint.hpp>
#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/layout.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::expectation_for;
using partita::testing::temp_dir;
using partita::testing::write_epoch;

namespace {

std::string error_of(const fs::path& file, const checkpoint_expectation& expect) {
  try {
    read_checkpoint(file, expect);
  } catch (const checkpoint_error& e) {
    EXPECT_EQ(e.file(), file.string());
    return e.what();
  }
  ADD_FAILURE() << "read_checkpoint accepted " << file;
  return {};
}

// Test-side HDF5 editing of a committed file, to craft what a writer never would.
struct h5_edit {
  hid_t file;
  explicit h5_edit(const fs::path& p) : file(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    if (file < 0) throw std::runtime_error("cannot open " + p.string() + " for editing");
  }
  ~h5_edit() { H5Fclose(file); }

  void set_u32_attr(const char* obj, const char* name, std::uint32_t v) {
    const hid_t o = H5Oopen(file, obj, H5P_DEFAULT);
    H5Adelete(o, name);
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(o, name, H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
  }

  // A uint8 dataset of `n` elements with no storage allocated (late allocation, never written).
  void add_unwritten_dataset(const char* path, hsize_t n) {
    const hid_t sp = H5Screate_simple(1, &n, nullptr);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t d = H5Dcreate2(file, path, H5T_STD_U8LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
  }

  // Replaces /manifest with `rows` (the /meta row included) and a matching crc32 attribute; `claimed_rows`
  // makes the dataset claim more rows than are written.
  void rewrite_manifest(const std::vector<detail::manifest_row>& rows, hsize_t claimed_rows = 0) {
    H5Ldelete(file, "/manifest", H5P_DEFAULT);
    std::size_t len = 1;
    for (const auto& r : rows) len = std::max(len, r.path.size() + 1);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, len);
    const hid_t t = H5Tcreate(H5T_COMPOUND, len + 20);
    H5Tinsert(t, "path", 0, str);
    H5Tinsert(t, "bytes", len, H5T_NATIVE_UINT64);
    H5Tinsert(t, "crc32", len + 8, H5T_NATIVE_UINT32);
    H5Tinsert(t, "step", len + 12, H5T_NATIVE_UINT64);
    const hsize_t n = claimed_rows ? claimed_rows : rows.size();
    const hid_t sp = H5Screate_simple(1, &n, nullptr);
    const hid_t d = H5Dcreate2(file, "/manifest", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    if (!claimed_rows) {
      std::vector<char> buf(rows.size() * (len + 20), '\0');
      for (std::size_t i = 0; i < rows.size(); ++i) {
        char* p = buf.data() + i * (len + 20);
        std::memcpy(p, rows[i].path.data(), rows[i].path.size());
        std::memcpy(p + len, &rows[i].bytes, 8);
        std::memcpy(p + len + 8, &rows[i].crc, 4);
        std::memcpy(p + len + 12, &rows[i].step, 8);
      }
      H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    }
    const std::uint32_t crc = detail::manifest_crc(rows);
    const hid_t asp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(d, "crc32", H5T_STD_U32LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &crc);
    H5Aclose(a);
    H5Sclose(asp);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    H5Tclose(str);
  }
};

// The manifest rows of a valid file, the /meta row first.
std::vector<detail::manifest_row> rows_of(const fs::path& file) {
  detail::checkpoint_file f(file);
  const auto meta = f.read_meta();
  auto rows = f.read_manifest(meta);
  const bytes enc = detail::encode_meta(meta);
  rows.insert(rows.begin(), {"/meta", enc.size(), detail::crc32(enc), 0});
  return rows;
}

}  // namespace

TEST(Checkpoint_Reader, OtherJobIsRefusedNamingFileAndJobs) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto expect = expectation_for("alpha");
  expect.job = "beta";
  const auto msg = error_of(f, expect);
  EXPECT_NE(msg.find(f.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("'alpha'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'beta'"), std::string::npos) << msg;
}

TEST(Checkpoint_Reader, OtherParametersHashIsRefused) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto expect = expectation_for("alpha");
  expect.params_hash += 1;
  const auto msg = error_of(f, expect);
  EXPECT_NE(msg.find("parameters hash"), std::string::npos) << msg;
}

TEST(Checkpoint_Reader, OtherModelIsRefused) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto expect = expectation_for("alpha");
  expect.model = "map_reduce";
  const auto msg = error_of(f, expect);
  EXPECT_NE(msg.find("'iterative'"), std::string::npos) << msg;
}

TEST(Checkpoint_Reader, NewerFormatIsRefusedNamingBothVersions) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  h5_edit(f).set_u32_attr("/meta", "format_version", checkpoint_format_version + 1);
  const auto msg = error_of(f, expectation_for("alpha"));
  EXPECT_NE(msg.find("format version " + std::to_string(checkpoint_format_version + 1)), std::string::npos) << msg;
  EXPECT_NE(msg.find("up to " + std::to_string(checkpoint_format_version)), std::string::npos) << msg;
  // Other checks come after the version: a newer file of another job still says "newer format".
  auto other = expectation_for("alpha");
  other.job = "zzz";
  EXPECT_NE(error_of(f, other).find("format version"), std::string::npos);
  EXPECT_FALSE(verify_checkpoint(f).ok);
}

TEST(Checkpoint_Reader, CraftedHugeDatasetIsRefusedBeforeAllocating) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto rows = rows_of(f);
  const std::uint64_t huge = std::uint64_t{1} << 40;
  {
    h5_edit e(f);
    e.add_unwritten_dataset("/scheduler/huge", huge);
    rows.push_back({"/scheduler/huge", huge, 0, 0});
    e.rewrite_manifest(rows);
  }
  const auto rss = partita::testing::peak_rss_bytes();
  const auto msg = error_of(f, expectation_for("alpha"));
  // Caught by the manifest's total against the file size, before the dataset is even opened.
  EXPECT_NE(msg.find("but the file has only"), std::string::npos) << msg;
  const auto r = verify_checkpoint(f);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, "/manifest");

  // The same dataset behind a manifest row that claims a plausible size: the dataset's own shape is checked
  // against the row before anything is allocated.
  const auto g = write_epoch(dir.path(), "gamma", 1).file;
  auto rows2 = rows_of(g);
  {
    h5_edit e(g);
    e.add_unwritten_dataset("/scheduler/huge", huge);
    rows2.push_back({"/scheduler/huge", 100, 0, 0});
    e.rewrite_manifest(rows2);
  }
  const auto r2 = verify_checkpoint(g);
  EXPECT_EQ(r2.first_bad, "/scheduler/huge");
  EXPECT_NE(r2.problem.find("holds 1099511627776 elements"), std::string::npos) << r2.problem;
  EXPECT_LT(partita::testing::peak_rss_bytes() - rss, std::uint64_t{64} << 20);
}

TEST(Checkpoint_Reader, UnwrittenDatasetOfPlausibleSizeIsRefused) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto rows = rows_of(f);
  {
    h5_edit e(f);
    e.add_unwritten_dataset("/scheduler/ghost", 100);
    rows.push_back({"/scheduler/ghost", 100, 0, 0});
    e.rewrite_manifest(rows);
  }
  const auto r = verify_checkpoint(f);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, "/scheduler/ghost");
  EXPECT_NE(r.problem.find("stores fewer bytes"), std::string::npos) << r.problem;
}

TEST(Checkpoint_Reader, ManifestClaimingHugeSizesIsRefused) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "alpha", 1).file;
  auto rows = rows_of(f);
  rows.back().bytes = 2 * rows.back().bytes + 8;  // a lie about a real dataset, small enough to fit the file
  h5_edit(f).rewrite_manifest(rows);
  const auto msg = error_of(f, expectation_for("alpha"));
  EXPECT_NE(msg.find("the manifest says"), std::string::npos) << msg;

  const auto g = write_epoch(dir.path(), "beta", 1).file;
  h5_edit(g).rewrite_manifest(rows_of(g), hsize_t{1} << 36);  // 2^36 rows, none stored
  const auto rss = partita::testing::peak_rss_bytes();
  const auto msg2 = error_of(g, expectation_for("beta"));
  EXPECT_NE(msg2.find("claims 68719476736 rows"), std::string::npos) << msg2;
  EXPECT_LT(partita::testing::peak_rss_bytes() - rss, std::uint64_t{64} << 20);
}

TEST(Checkpoint_Reader, NotACheckpointIsAClearError) {
  temp_dir dir;
  EXPECT_NE(error_of(dir.path() / "missing.h5", expectation_for("x")).find("no such file"), std::string::npos);
  const auto junk = dir.path() / "junk.1.h5";
  {
    std::ofstream out(junk, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(i * 7));
  }
  EXPECT_NE(error_of(junk, expectation_for("x")).find("HDF5"), std::string::npos);
  // A valid HDF5 file that is not a checkpoint.
  const auto plain = dir.path() / "plain.h5";
  H5Fclose(H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  std::filesystem::resize_file(plain, std::max<std::uintmax_t>(fs::file_size(plain), 1024));
  const auto msg = error_of(plain, expectation_for("x"));
  EXPECT_FALSE(msg.empty());
}

TEST(Checkpoint_Reader, FuzzedFilesNeverCrashTheReader) {
  temp_dir dir;
  const auto valid = write_epoch(dir.path(), "fuzz", 1, 3, 300).file;
  const auto size = fs::file_size(valid);
  const auto victim = dir.path() / "fuzz.2.h5";
  std::mt19937_64 rng(20261125);
  int read_ok = 0, refused = 0, verify_bad = 0;
  // PARTITA_FUZZ_ITERATIONS (default 400) runs a longer campaign by hand; the seed is fixed so failures repeat.
  const char* env = std::getenv("PARTITA_FUZZ_ITERATIONS");
  const int iterations = env ? std::max(1, std::atoi(env)) : 400;
  for (int iter = 0; iter < iterations; ++iter) {
    SCOPED_TRACE("fuzz iteration " + std::to_string(iter));
    partita::testing::copy_file(valid, victim);
    const int how = static_cast<int>(rng() % 4);
    if (how == 0) {  // a few random flips anywhere
      for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
        partita::testing::flip_byte(victim, rng() % size, static_cast<unsigned char>(1 + rng() % 255));
    } else if (how == 1) {  // truncation
      fs::resize_file(victim, rng() % size);
    } else if (how == 2) {  // flips in the metadata near the start
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k)
        partita::testing::flip_byte(victim, rng() % std::min<std::uintmax_t>(size, 2048),
                                    static_cast<unsigned char>(1 + rng() % 255));
    } else {  // a random 16-byte window
      const auto at = rng() % (size - 16);
      for (std::uint64_t k = 0; k < 16; ++k)
        partita::testing::flip_byte(victim, at + k, static_cast<unsigned char>(1 + rng() % 255));
    }
    try {
      const auto img = read_checkpoint(victim, expectation_for("fuzz"));
      ++read_ok;
      // If it reads, it must be the original (checksums hold) apart from bytes outside any dataset.
      EXPECT_EQ(img.meta.job, "fuzz");
    } catch (const checkpoint_error&) {
      ++refused;
    } catch (const hdf5_error&) {
      ++refused;
    }
    const auto r = verify_checkpoint(victim);
    if (!r.ok) ++verify_bad;
    EXPECT_FALSE(inspect_checkpoint(victim).empty());
  }
  const auto c = select_restart(dir.path(), expectation_for("fuzz"));
  EXPECT_TRUE(c.file);
  std::printf("fuzz: %d read fine, %d refused, %d failed verify\n", read_ok, refused, verify_bad);
  EXPECT_GT(refused, iterations / 4);
}
