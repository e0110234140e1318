// Restart selection over damaged directories: truncated newest, flipped byte, stale .tmp, missing LATEST.
#include <gtest/gtest.h>

#include <filesystem>

#include <partita/checkpoint.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::expectation_for;
using partita::testing::temp_dir;
using partita::testing::write_epoch;

namespace {
bool mentions(const std::vector<std::string>& skipped, const std::string& file, const std::string& word) {
  for (const auto& s : skipped)
    if (s.starts_with(file) && s.find(word) != std::string::npos) return true;
  return false;
}
std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}
}  // namespace

TEST(Checkpoint_Restart, TakesTheNewestValidCheckpoint) {
  temp_dir dir;
  for (std::uint64_t e = 1; e <= 3; ++e) write_epoch(dir.path(), "job", e);
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.3.h5");
  EXPECT_TRUE(c.skipped.empty()) << joined(c.skipped);
}

TEST(Checkpoint_Restart, TruncatedNewestFallsBackToThePreviousWithAReason) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  write_epoch(dir.path(), "job", 2);
  const auto newest = dir.path() / "job.2.h5";
  fs::resize_file(newest, fs::file_size(newest) / 2);
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.1.h5");
  ASSERT_EQ(c.skipped.size(), 1u) << joined(c.skipped);
  EXPECT_TRUE(c.skipped[0].starts_with(newest.string() + ": ")) << c.skipped[0];
  EXPECT_FALSE(verify_checkpoint(newest).ok);
}

TEST(Checkpoint_Restart, FlippedByteInADatasetFallsBackAndVerifyNamesIt) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  write_epoch(dir.path(), "job", 2);
  const auto newest = dir.path() / "job.2.h5";
  const std::string victim = "/partitions/4/state";
  partita::testing::flip_byte(newest, partita::testing::dataset_offset(newest, victim) + 17);

  const auto report = verify_checkpoint(newest);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad, victim);
  EXPECT_NE(report.problem.find("checksum mismatch"), std::string::npos) << report.problem;

  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.1.h5");
  EXPECT_TRUE(mentions(c.skipped, newest.string(), victim)) << joined(c.skipped);
  EXPECT_THROW(read_checkpoint(newest, expectation_for("job")), checkpoint_error);
}

TEST(Checkpoint_Restart, StaleTmpIsIgnored) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  write_epoch(dir.path(), "job", 2);
  // An interrupted epoch 3: a complete-looking .tmp that was never committed.
  fs::copy_file(dir.path() / "job.2.h5", dir.path() / "job.3.h5.tmp");
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.2.h5");
  EXPECT_TRUE(mentions(c.skipped, (dir.path() / "job.3.h5.tmp").string(), "not committed")) << joined(c.skipped);
  EXPECT_EQ(newest_epoch(dir.path(), "job"), epoch_t{2});
  // Committing epoch 3 for real replaces the uncommitted .tmp.
  write_epoch(dir.path(), "job", 3);
  EXPECT_FALSE(fs::exists(dir.path() / "job.3.h5.tmp"));
  EXPECT_TRUE(verify_checkpoint(dir.path() / "job.3.h5").ok);
}

TEST(Checkpoint_Restart, MissingLatestStillFindsTheNewest) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  write_epoch(dir.path(), "job", 2);
  fs::remove(dir.path() / "LATEST");
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.2.h5");
}

TEST(Checkpoint_Restart, LatestPointingAtABadFileIsNotTrusted) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  write_epoch(dir.path(), "job", 2);
  const auto newest = dir.path() / "job.2.h5";
  partita::testing::flip_byte(newest, partita::testing::dataset_offset(newest, "/scheduler/cost"));
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.1.h5");
  EXPECT_TRUE(mentions(c.skipped, newest.string(), "/scheduler/cost")) << joined(c.skipped);
}

TEST(Checkpoint_Restart, OtherJobsAndParametersAreSkippedWithTheMismatch) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 1);
  auto other = partita::testing::make_image("job", 2);
  other.meta.params_hash ^= 1;
  write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, other);
  write_epoch(dir.path(), "other", 9);
  const auto c = select_restart(dir.path(), expectation_for("job"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "job.1.h5");
  EXPECT_TRUE(mentions(c.skipped, (dir.path() / "job.2.h5").string(), "parameters hash")) << joined(c.skipped);
}

TEST(Checkpoint_Restart, NothingToRestartFromIsAValue) {
  temp_dir dir;
  auto c = select_restart(dir.path(), expectation_for("job"));
  EXPECT_FALSE(c.file);
  c = select_restart(dir.path() / "does-not-exist", expectation_for("job"));
  EXPECT_FALSE(c.file);
  EXPECT_FALSE(newest_epoch(dir.path(), "job"));
  // Every file bad: no choice, every file listed.
  write_epoch(dir.path(), "job", 1);
  fs::resize_file(dir.path() / "job.1.h5", 100);
  c = select_restart(dir.path(), expectation_for("job"));
  EXPECT_FALSE(c.file);
  EXPECT_EQ(c.skipped.size(), 1u);
}

TEST(Checkpoint_Restart, NewestEpochCountsCommittedFilesEvenBadOnes) {
  temp_dir dir;
  write_epoch(dir.path(), "job", 4);
  write_epoch(dir.path(), "job", 5);
  fs::resize_file(dir.path() / "job.5.h5", 10);
  fs::copy_file(dir.path() / "job.4.h5", dir.path() / "job.9.h5.tmp");
  EXPECT_EQ(newest_epoch(dir.path(), "job"), epoch_t{5});
  EXPECT_FALSE(newest_epoch(dir.path(), "jo"));
}
