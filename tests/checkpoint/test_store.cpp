// Writing and committing checkpoints alone (MPI_COMM_SELF): round trip, commit protocol, retention.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <partita/checkpoint.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::make_image;
using partita::testing::temp_dir;

TEST(Checkpoint_Store, RoundTripGivesBackEveryByte) {
  temp_dir dir;
  const auto img = make_image("rt", 1);
  const auto r = write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img);
  EXPECT_EQ(r.file, dir.path() / "rt.1.h5");
  EXPECT_EQ(r.epoch, epoch_t{1});
  EXPECT_EQ(r.bytes, fs::file_size(r.file));
  EXPECT_GT(r.seconds, 0.0);

  const auto back = read_checkpoint(r.file, partita::testing::expectation_for("rt"));
  auto expected = img;
  expected.meta.format_version = checkpoint_format_version;
  expected.meta.code_version = back.meta.code_version;
  EXPECT_FALSE(back.meta.code_version.empty());
  EXPECT_EQ(back.meta, expected.meta);
  EXPECT_EQ(back.blobs, expected.blobs);
  EXPECT_EQ(back.u64, expected.u64);
  EXPECT_EQ(back.f64, expected.f64);
  ASSERT_EQ(back.partitions.size(), expected.partitions.size());
  std::sort(expected.partitions.begin(), expected.partitions.end(),
            [](const partition_blob& a, const partition_blob& b) {
              return a.id != b.id ? a.id < b.id : a.name < b.name;
            });
  EXPECT_EQ(back.partitions, expected.partitions);
  EXPECT_TRUE(verify_checkpoint(r.file).ok);
}

TEST(Checkpoint_Store, EmptyImageRoundTrips) {
  temp_dir dir;
  checkpoint_image img;
  img.meta.job = "empty";
  img.meta.model = "map_reduce";
  const auto r = write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img);
  const auto back = read_checkpoint(r.file, {"empty", 0, "map_reduce"});
  EXPECT_TRUE(back.partitions.empty());
  EXPECT_TRUE(back.blobs.empty());
  EXPECT_EQ(back.meta.job, "empty");
}

TEST(Checkpoint_Store, CommitLeavesNoTmpAndPointsLatestAtTheNewFile) {
  temp_dir dir;
  partita::testing::write_epoch(dir.path(), "job", 1);
  partita::testing::write_epoch(dir.path(), "job", 2);
  EXPECT_FALSE(fs::exists(dir.path() / "job.2.h5.tmp"));
  std::ifstream latest(dir.path() / "LATEST");
  std::string line;
  std::getline(latest, line);
  EXPECT_EQ(line, "job.2.h5");
}

TEST(Checkpoint_Store, RetentionKeepsTheLastNAndNeverTheNewestGoes) {
  temp_dir dir;
  for (std::uint64_t e = 1; e <= 5; ++e) partita::testing::write_epoch(dir.path(), "keep", e, 2);
  EXPECT_FALSE(fs::exists(dir.path() / "keep.1.h5"));
  EXPECT_FALSE(fs::exists(dir.path() / "keep.3.h5"));
  EXPECT_TRUE(fs::exists(dir.path() / "keep.4.h5"));
  EXPECT_TRUE(fs::exists(dir.path() / "keep.5.h5"));
  // keep below 1 still keeps the newest.
  partita::testing::write_epoch(dir.path(), "keep", 6, 0);
  EXPECT_TRUE(fs::exists(dir.path() / "keep.6.h5"));
  EXPECT_FALSE(fs::exists(dir.path() / "keep.5.h5"));
  EXPECT_TRUE(verify_checkpoint(dir.path() / "keep.6.h5").ok);
}

TEST(Checkpoint_Store, RetentionOnlyTouchesTheSameJob) {
  temp_dir dir;
  partita::testing::write_epoch(dir.path(), "a", 1, 1);
  partita::testing::write_epoch(dir.path(), "a.1", 7, 1);  // a name that looks like job "a"'s epochs
  partita::testing::write_epoch(dir.path(), "a", 2, 1);
  EXPECT_TRUE(fs::exists(dir.path() / "a.1.7.h5"));
  EXPECT_TRUE(fs::exists(dir.path() / "a.2.h5"));
  EXPECT_FALSE(fs::exists(dir.path() / "a.1.h5"));
}

TEST(Checkpoint_Store, NeverOverwritesACommittedEpoch) {
  temp_dir dir;
  partita::testing::write_epoch(dir.path(), "once", 1);
  const auto before = fs::file_size(dir.path() / "once.1.h5");
  try {
    partita::testing::write_epoch(dir.path(), "once", 1, 3, 5000);
    FAIL() << "a second write of epoch 1 must be refused";
  } catch (const checkpoint_error& e) {
    EXPECT_NE(std::string(e.what()).find("already committed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(dir.path() / "once.1.h5"), before);
  EXPECT_TRUE(verify_checkpoint(dir.path() / "once.1.h5").ok);
}

TEST(Checkpoint_Store, RefusesNamesThatCannotBeFilesOrDatasets) {
  temp_dir dir;
  auto img = make_image("ok", 1);
  img.meta.job = "../evil";
  EXPECT_THROW(write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img), checkpoint_error);
  img = make_image("ok", 1);
  img.blobs["partitions/x"] = {};
  EXPECT_THROW(write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img), checkpoint_error);
  img = make_image("ok", 1);
  img.partitions.push_back({partition_id{0}, step_t{0}, "a/b", {}});
  EXPECT_THROW(write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img), checkpoint_error);
  img = make_image("ok", 1);
  img.partitions.push_back(img.partitions.front());  // the same dataset twice
  EXPECT_THROW(write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img), checkpoint_error);
  img = make_image("ok", 1);
  img.u64["scheduler/accumulator"] = {1};  // the same key as a blob
  EXPECT_THROW(write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img), checkpoint_error);
  for (const auto& entry : fs::directory_iterator(dir.path())) ADD_FAILURE() << "left behind: " << entry.path();
}

TEST(Checkpoint_Store, LargePartitionRoundTrips) {
  temp_dir dir;
  checkpoint_image img;
  img.meta.job = "big";
  img.meta.model = "iterative";
  bytes data(24u << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>((i * 2654435761u) >> 13);
  img.partitions.push_back({partition_id{3}, step_t{1}, "state", data});
  const auto r = write_checkpoint(MPI_COMM_SELF, {dir.path(), 3}, img);
  const auto back = read_checkpoint(r.file, {"big", 0, "iterative"});
  ASSERT_EQ(back.partitions.size(), 1u);
  EXPECT_TRUE(back.partitions[0].data == data);
}
