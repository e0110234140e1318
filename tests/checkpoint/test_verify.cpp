// verify_checkpoint and inspect_checkpoint, and the checksum itself.
#include <gtest/gtest.h>

#include <boost/crc.hpp>

#include <filesystem>
#include <random>

#include <partita/checkpoint.hpp>
#include <partita/checkpoint/detail/crc32.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::temp_dir;
using partita::testing::write_epoch;

TEST(Checkpoint_Crc, MatchesBoostCrc32) {
  std::mt19937 rng(7);
  for (std::size_t n : {0u, 1u, 3u, 64u, 1000u, 65537u}) {
    bytes data(n);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    boost::crc_32_type boost_crc;
    boost_crc.process_bytes(data.data(), data.size());
    EXPECT_EQ(detail::crc32(data), boost_crc.checksum()) << n << " bytes";
    // Incremental use gives the same value.
    const auto half = n / 2;
    EXPECT_EQ(detail::crc32(std::span(data).subspan(half), detail::crc32(std::span(data).first(half))),
              boost_crc.checksum());
  }
}

TEST(Checkpoint_Verify, ACleanFileVerifiesEveryDataset) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "v", 1).file;
  const auto r = verify_checkpoint(f);
  EXPECT_TRUE(r.ok) << r.first_bad << ": " << r.problem;
  // /meta, 4 scheduler datasets, 6 partitions x 2 names.
  EXPECT_EQ(r.datasets_checked, 1u + 4u + 12u);
  EXPECT_TRUE(r.first_bad.empty());
}

TEST(Checkpoint_Verify, AFlippedByteIsNamedByItsDataset) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "v", 1).file;
  for (const std::string victim : {"/partitions/0/state", "/scheduler/done_ranges", "/scheduler/accumulator"}) {
    const auto copy = dir.path() / "copy.h5";
    partita::testing::copy_file(f, copy);
    partita::testing::flip_byte(copy, partita::testing::dataset_offset(copy, victim) + 3, 0x01);
    const auto r = verify_checkpoint(copy);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.first_bad, victim);
    EXPECT_NE(r.problem.find("checksum mismatch"), std::string::npos) << r.problem;
    EXPECT_NE(inspect_checkpoint(copy).find("BAD: " + victim), std::string::npos) << inspect_checkpoint(copy);
  }
}

TEST(Checkpoint_Verify, AMissingFileIsAReportNotAnException) {
  temp_dir dir;
  const auto r = verify_checkpoint(dir.path() / "nope.h5");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, (dir.path() / "nope.h5").string());
  EXPECT_NE(r.problem.find("no such file"), std::string::npos);
}

TEST(Checkpoint_Inspect, SummarisesJobEpochPartitionsAndCosts) {
  temp_dir dir;
  const auto f = write_epoch(dir.path(), "summary", 2).file;
  const auto text = inspect_checkpoint(f);
  const std::string version = "format version " + std::to_string(checkpoint_format_version);
  for (const std::string want :
       {"job          summary (iterative)", "epoch        2, step 20", "1 rank(s)", version.c_str(), "6 in the job",
        "6 stored here", "/scheduler/cost", "min 2.5", "max 3.75", "/scheduler/done_ranges", "covering 4 partitions",
        "checksums    all 17 verify"}) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing '" << want << "' in:\n" << text;
  }
}
