// Checkpoint_DataPath: the HDF5 side of the map/reduce data path without MPI traffic: a declared input checked,
// described, cut in whole chunks and read in blocks; a per-partition output made, refused, resumed, written with
// pwrite (whole pages at a page with O_DIRECT, where the file system takes it) and its committed blocks recorded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include <partita/checkpoint/block_output.hpp>
#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/h5_dataset.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/checkpoint/output_check.hpp>
#include <partita/runtime/block_bytes.hpp>
#include <partita/runtime/error.hpp>

#include "support/ckpt_test_util.hpp"

namespace {

using namespace partita;

std::string error_of(const std::string& file, const std::string& dataset, data_type type) {
  try {
    inspect_h5_dataset(file, dataset, type);
  } catch (const usage_error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint_DataPath, InspectsATestDatasetAndCutsItInWholeChunks) {
  partita::testing::temp_dir dir("data");
  const auto file = (dir.path() / "in.h5").string();
  write_test_dataset(file, "/g/x", 1000, 8, 30, 7);
  const auto info = inspect_h5_dataset(file, "/g/x", data_type::float64);
  EXPECT_EQ(info.shape, (std::vector<std::uint64_t>{1000, 8}));
  EXPECT_EQ(info.chunk, (std::vector<std::uint64_t>{30, 8}));
  EXPECT_EQ(info.row_bytes(), 64u);
  // Chunks of 30 rows = 1920 bytes: 10000 bytes hold 5 of them; less than one chunk still gets one.
  EXPECT_EQ(rows_per_partition(info, 10000), 150u);
  EXPECT_EQ(rows_per_partition(info, 1), 30u);
  EXPECT_EQ(rows_per_partition(info, std::uint64_t{1} << 30), 1000u);
  EXPECT_NE(info.identity().find("shape=1000x8;chunk=30x8"), std::string::npos) << info.identity();

  h5_block_reader reader(info, 150 * 64);
  std::vector<double> block(150 * 8);
  reader.read(900, 100, block.data());  // the last, short block
  for (std::uint64_t k = 0; k < 100 * 8; ++k) EXPECT_EQ(block[k], test_dataset_value(7, 900 * 8 + k));
}

TEST(Checkpoint_DataPath, RefusesBadInputsWithOneLineEach) {
  partita::testing::temp_dir dir("data");
  const auto file = (dir.path() / "in.h5").string();
  write_test_dataset(file, "/x", 10, 2, 0, 1);  // contiguous
  EXPECT_TRUE(inspect_h5_dataset(file, "/x", data_type::float64).chunk.empty());
  EXPECT_NE(error_of((dir.path() / "none.h5").string(), "/x", data_type::float64).find("cannot read the file"),
            std::string::npos);
  EXPECT_NE(error_of(file, "/y", data_type::float64).find("no such dataset"), std::string::npos);
  EXPECT_NE(error_of(file, "/x", data_type::int32).find("its elements are float64, the job wants int32"),
            std::string::npos);
  std::ofstream(dir.path() / "text.h5") << "not hdf5\n";
  EXPECT_NE(error_of((dir.path() / "text.h5").string(), "/x", data_type::float64).find("not an HDF5 file"),
            std::string::npos);
}

TEST(Checkpoint_DataPath, OutputIsMadeRefusedResumedWrittenAndRecorded) {
  partita::testing::temp_dir dir("data");
  block_output_spec spec;
  spec.file = dir.path() / "out.h5";
  spec.dataset = "/r/y";
  spec.shape = {6, 3};
  spec.partitions = 3;
  spec.job = "filter";
  spec.params_hash = 42;
  const auto offset = prepare_block_output(spec, output_start::fresh, false);
  {
    block_file_writer w(spec.file, offset);
    const std::vector<double> rows = {1, 2, 3, 4, 5, 6};  // partition 1: rows 2-3
    w.write(2 * 3 * sizeof(double), rows.data(), rows.size() * sizeof(double));
  }
  record_block_output(spec, {0, 1, 0}, {0, 7, 0}, false);
  // The same job resumes the file (same offset, its blocks kept); a fresh start remakes it.
  EXPECT_EQ(prepare_block_output(spec, output_start::resume, false), offset);
  {
    const auto hdf5 = h5_lock();
    const hid_t f = H5Fopen(spec.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t d = H5Dopen2(f, "/r/y", H5P_DEFAULT);
    std::vector<double> all(18);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data());
    EXPECT_EQ(all[6], 1);
    EXPECT_EQ(all[11], 6);
    const hid_t c = H5Dopen2(f, "/partita/committed", H5P_DEFAULT);
    std::vector<std::uint8_t> bits(3);
    H5Dread(c, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
    EXPECT_EQ(bits, (std::vector<std::uint8_t>{0, 1, 0}));
    H5Dclose(c);
    H5Dclose(d);
    H5Fclose(f);
  }
  // Another job's parameters: refused unless overwrite.
  auto other = spec;
  other.params_hash = 43;
  try {
    prepare_block_output(other, output_start::resume, false);
    ADD_FAILURE() << "another job's output was not refused";
  } catch (const usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("with other parameters"), std::string::npos) << e.what();
  }
  EXPECT_GT(prepare_block_output(other, output_start::resume, true), 0u);
  record_block_output(other, {1, 1, 1}, {1, 2, 3}, true);
}

// Whether this file system takes O_DIRECT, asked independently of block_file_writer.
bool takes_o_direct(const std::filesystem::path& file) {
  const int f = ::open(file.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (f < 0) return false;
  ::close(f);
  return true;
}

std::vector<double> read_dataset(const std::filesystem::path& file, const char* dataset, std::size_t n) {
  const auto hdf5 = h5_lock();
  std::vector<double> all(n, -1);
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return {};
  const hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
  if (d >= 0) H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data());
  if (d >= 0) H5Dclose(d);
  H5Fclose(f);
  return all;
}

TEST(Checkpoint_DataPath, WholePagesOfAnAlignedBlockGoDirectTheRestThroughThePageCache) {
  partita::testing::temp_dir dir("data");
  block_output_spec spec;
  spec.file = dir.path() / "out.h5";
  spec.dataset = "/y";
  spec.shape = {64, 1024};  // 4 blocks of 16 rows: 128 KiB each
  spec.partitions = 4;
  spec.rows_per_partition = 16;
  spec.job = "filter";
  const auto offset = prepare_block_output(spec, output_start::fresh, false);
  EXPECT_EQ(offset % block_alignment, 0u) << "the dataset does not start on a page";
  const bool direct = takes_o_direct(spec.file);
  const std::size_t block = 16 * 1024, block_size = block * sizeof(double);
  std::vector<double> want(64 * 1024);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<double>(i) + 0.5;
  auto aligned = [&](std::size_t first, std::size_t n) {  // want[first, first + n) in a page-aligned buffer
    block_bytes b(n * sizeof(double));
    std::memcpy(b.data(), want.data() + first, n * sizeof(double));
    return b;
  };
  block_file_writer w(spec.file, offset);
  // Block 0: page aligned in the file and in memory, whole pages: all direct (when the file system takes it).
  const auto b0 = aligned(0, block);
  w.write(0, b0.data(), block_size);
  EXPECT_EQ(w.direct_bytes(), direct ? block_size : 0u);
  // Block 1 from a buffer that does not start on a page: through the page cache.
  block_bytes b1(block_size + sizeof(double));
  std::memcpy(b1.data() + sizeof(double), want.data() + block, block_size);
  w.write(block_size, b1.data() + sizeof(double), block_size);
  EXPECT_EQ(w.direct_bytes(), direct ? block_size : 0u);
  // Block 2 in two pieces: one page and 100 doubles (its whole page direct, the 800-byte tail not), then the rest,
  // which starts off a page in the file: all through the page cache.
  const std::size_t head = 512 + 100;
  const auto b2 = aligned(2 * block, head);
  w.write(2 * block_size, b2.data(), head * sizeof(double));
  EXPECT_EQ(w.direct_bytes(), direct ? block_size + block_alignment : 0u);
  const auto b2rest = aligned(2 * block + head, block - head);
  w.write(2 * block_size + head * sizeof(double), b2rest.data(), (block - head) * sizeof(double));
  EXPECT_EQ(w.direct_bytes(), direct ? block_size + block_alignment : 0u);
  EXPECT_EQ(w.direct(), direct);
  // Block 3 by a writer told to use the page cache only.
  {
    block_file_writer cached(spec.file, offset, output_io::page_cache);
    const auto b3 = aligned(3 * block, block);
    cached.write(3 * block_size, b3.data(), block_size);
    cached.sync();
    EXPECT_EQ(cached.direct_bytes(), 0u);
    EXPECT_FALSE(cached.direct());
  }
  w.sync();
  EXPECT_EQ(read_dataset(spec.file, "/y", want.size()), want);
}

// What the writing ranks compute: the CRC-32 of a block's bytes as they are in the file.
std::uint32_t crc_of(const std::vector<double>& v) { return detail::crc32(std::as_bytes(std::span<const double>(v))); }

TEST(Checkpoint_DataPath, VerifyRecomputesEachCommittedBlocksCrcAndSaysIncompleteOrBad) {
  partita::testing::temp_dir dir("data");
  block_output_spec spec;
  spec.file = dir.path() / "out.h5";
  spec.dataset = "/y";
  spec.shape = {5, 2};  // 3 partitions of 2 rows, the last one short
  spec.partitions = 3;
  spec.rows_per_partition = 2;
  spec.job = "filter";
  spec.params_hash = 7;
  const auto offset = prepare_block_output(spec, output_start::fresh, false);
  EXPECT_TRUE(is_block_output_file(spec.file));
  const std::vector<std::vector<double>> blocks = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10}};
  std::vector<std::uint32_t> crcs;
  {
    block_file_writer w(spec.file, offset);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      w.write(i * 2 * 2 * sizeof(double), blocks[i].data(), blocks[i].size() * sizeof(double));
      crcs.push_back(crc_of(blocks[i]));
    }
  }
  // Two of three committed: incomplete, the two verify.
  record_block_output(spec, {1, 0, 1}, crcs, false);
  auto r = verify_output(spec.file);
  EXPECT_EQ(r.outcome, output_verify_report::verdict::incomplete) << r.line();
  EXPECT_EQ(r.committed, 2u);
  EXPECT_EQ(r.verified, 2u);
  EXPECT_NE(r.line().find("INCOMPLETE: 2 of 3 blocks committed"), std::string::npos) << r.line();
  EXPECT_NE(inspect_output(spec.file).find("2 of 3 committed"), std::string::npos) << inspect_output(spec.file);
  // All committed and complete: OK; the record keeps no checksum for an uncommitted block.
  record_block_output(spec, {1, 1, 1}, crcs, true);
  r = verify_output(spec.file);
  EXPECT_TRUE(r.ok()) << r.line();
  EXPECT_EQ(r.verified, 3u);
  // One element of the last (short) block changed: BAD, naming partition 2 and its rows.
  {
    block_file_writer w(spec.file, offset);
    const double changed = 11;
    w.write(9 * sizeof(double), &changed, sizeof changed);
  }
  r = verify_output(spec.file);
  EXPECT_EQ(r.outcome, output_verify_report::verdict::bad_block) << r.line();
  EXPECT_EQ(r.bad_partition, 2u);
  EXPECT_NE(r.line().find("block of partition 2 (rows 4..4 of /y)"), std::string::npos) << r.line();
  EXPECT_EQ(r.recorded_crc, crcs[2]);
  // A checkpoint-like or plain HDF5 file is not an output file.
  const auto plain = (dir.path() / "in.h5").string();
  write_test_dataset(plain, "/x", 10, 2, 0, 1);
  EXPECT_FALSE(is_block_output_file(plain));
  EXPECT_EQ(verify_output(plain).outcome, output_verify_report::verdict::unreadable);
}

}  // namespace
