// Collective checkpoints at 1-4 ranks: partitions spread over ranks come back identical on every rank, and a
// failure on one rank makes every rank throw with nothing published.
#include <gtest/gtest.h>
#include <mpi.h>

#include <filesystem>
#include <fstream>

#include <partita/checkpoint.hpp>
#include <partita/checkpoint/detail/fault.hpp>

#include "mpi_test_env.hpp"
#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;

namespace {
/// A directory made by rank 0, known to all ranks, removed by rank 0 at the end.
class shared_dir {
 public:
  explicit shared_dir(MPI_Comm comm) : comm_(comm) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    std::string path;
    if (rank == 0) {
      dir_.emplace("ckpt-mpi");
      path = dir_->path().string();
    }
    int n = static_cast<int>(path.size());
    MPI_Bcast(&n, 1, MPI_INT, 0, comm);
    path.resize(static_cast<std::size_t>(n));
    MPI_Bcast(path.data(), n, MPI_CHAR, 0, comm);
    path_ = path;
  }
  ~shared_dir() { MPI_Barrier(comm_); }
  const fs::path& path() const { return path_; }

 private:
  MPI_Comm comm_;
  std::optional<partita::testing::temp_dir> dir_;
  fs::path path_;
};

checkpoint_image all_partitions(const std::string& job, std::uint64_t epoch, std::uint64_t n, int size) {
  auto img = partita::testing::make_image(job, epoch, n, 3000, 0, 1);
  img.meta.rank_count = size;
  return img;
}
}  // namespace

TEST(Checkpoint_Collective, PartitionsSpreadOverRanksReadBackIdenticallyEverywhere) {
  auto& s = partita::testing::test_session();
  const int rank = s.rank().value, size = s.size();
  shared_dir dir(s.comm());
  constexpr std::uint64_t n = 11;  // not a multiple of any rank count: ranks hold different numbers
  for (std::uint64_t epoch = 1; epoch <= 2; ++epoch) {
    // Rank r holds partitions r, r+size, ...; meta and scheduler datasets count only from rank 0.
    auto mine = partita::testing::make_image("spread", epoch, n, 3000, rank, size);
    if (rank != 0) {
      mine.blobs.clear();
      mine.meta.job = "ignored-on-other-ranks";
    }
    const auto r = write_checkpoint(s.comm(), {dir.path(), 3}, mine);
    EXPECT_EQ(r.file, dir.path() / ("spread." + std::to_string(epoch) + ".h5"));
    EXPECT_GT(r.bytes, n * 3000);

    MPI_Barrier(s.comm());
    auto expected = all_partitions("spread", epoch, n, size);
    const auto back = read_checkpoint(r.file, partita::testing::expectation_for("spread"));
    EXPECT_EQ(back.meta.epoch, epoch_t{epoch});
    EXPECT_EQ(back.meta.rank_count, size);
    EXPECT_EQ(back.blobs, expected.blobs);
    EXPECT_EQ(back.u64, expected.u64);
    EXPECT_EQ(back.f64, expected.f64);
    std::sort(expected.partitions.begin(), expected.partitions.end(),
              [](const auto& a, const auto& b) { return a.id != b.id ? a.id < b.id : a.name < b.name; });
    ASSERT_EQ(back.partitions.size(), 2 * n);
    EXPECT_TRUE(back.partitions == expected.partitions);
    EXPECT_TRUE(verify_checkpoint(r.file).ok);
  }
  MPI_Barrier(s.comm());
  const auto c = select_restart(dir.path(), partita::testing::expectation_for("spread"));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir.path() / "spread.2.h5");
}

TEST(Checkpoint_Collective, OneRankFailingMakesEveryRankThrowAndPublishesNothing) {
  auto& s = partita::testing::test_session();
  const int rank = s.rank().value, size = s.size();
  shared_dir dir(s.comm());
  write_checkpoint(s.comm(), {dir.path(), 3}, partita::testing::make_image("fail", 1, 7, 500, rank, size));

  const int bad = size - 1;  // the last rank fails while writing its own datasets
  detail::inject_checkpoint_write_failure(bad);
  bool threw = false;
  try {
    write_checkpoint(s.comm(), {dir.path(), 3}, partita::testing::make_image("fail", 2, 7, 500, rank, size));
  } catch (const checkpoint_error& e) {
    threw = true;
    const std::string msg = e.what();
    EXPECT_NE(msg.find("injected write failure"), std::string::npos) << msg;
    if (size > 1) {
      EXPECT_NE(msg.find("rank " + std::to_string(bad)), std::string::npos) << msg;
    }
    EXPECT_NE(msg.find("fail.1.h5 is still valid"), std::string::npos) << msg;
  }
  detail::inject_checkpoint_write_failure(std::nullopt);
  EXPECT_TRUE(threw) << "rank " << rank << " did not throw";
  MPI_Barrier(s.comm());
  EXPECT_FALSE(fs::exists(dir.path() / "fail.2.h5"));
  EXPECT_FALSE(fs::exists(dir.path() / "fail.2.h5.tmp"));
  std::ifstream latest(dir.path() / "LATEST");
  std::string line;
  std::getline(latest, line);
  EXPECT_EQ(line, "fail.1.h5");
  EXPECT_TRUE(verify_checkpoint(dir.path() / "fail.1.h5").ok);

  // And the job can go on: the same epoch commits once the failure is gone.
  MPI_Barrier(s.comm());
  const auto r = write_checkpoint(s.comm(), {dir.path(), 3},
                                  partita::testing::make_image("fail", 2, 7, 500, rank, size));
  EXPECT_TRUE(verify_checkpoint(r.file).ok);
}

TEST(Checkpoint_Collective, Float64PartitionArraysKeepTheirTypeOnDisk) {
  auto& s = partita::testing::test_session();
  const int rank = s.rank().value, size = s.size();
  shared_dir dir(s.comm());
  constexpr std::uint64_t n = 5;
  // Even partitions hold whole doubles, marked float64; odd ones stay bytes.
  const auto typed = [](checkpoint_image& img) {
    for (auto& p : img.partitions)
      if (p.id.value % 2 == 0) {
        p.type = partita::element_type::f64;
        p.data.resize(p.data.size() / 8 * 8);
      }
  };
  auto mine = partita::testing::make_image("typed", 1, n, 3000, rank, size);
  typed(mine);
  const auto r = write_checkpoint(s.comm(), {dir.path(), 3}, mine);
  MPI_Barrier(s.comm());
  auto expected = all_partitions("typed", 1, n, size);
  typed(expected);
  std::sort(expected.partitions.begin(), expected.partitions.end(),
            [](const auto& a, const auto& b) { return a.id != b.id ? a.id < b.id : a.name < b.name; });
  const auto back = read_checkpoint(r.file, partita::testing::expectation_for("typed"));
  EXPECT_TRUE(back.partitions == expected.partitions);
  // A float64 partition dataset of a size that is not whole doubles is refused before anything is written.
  mine.partitions.front().data.resize(mine.partitions.front().data.size() / 8 * 8 + 1);
  mine.partitions.front().type = partita::element_type::f64;
  mine.meta.epoch = partita::epoch_t{2};
  EXPECT_THROW(write_checkpoint(s.comm(), {dir.path(), 3}, mine), partita::checkpoint_error);
}
