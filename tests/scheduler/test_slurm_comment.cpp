// Scheduler_SlurmComment: the progress line in the Slurm job's comment, through a stand-in scontrol on PATH (the real
// one is exercised by tests/slurm/slurm_one_node.sh). No MPI.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <partita/scheduler/detail/slurm_comment.hpp>

namespace {

namespace fs = std::filesystem;
using partita::detail::clock;
using partita::detail::slurm_comment;

class Scheduler_SlurmComment : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("partita-slurm-comment-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", (dir_.string() + ":" + path_).c_str(), 1);
    setenv("SLURM_JOB_ID", "4242", 1);
  }
  void TearDown() override {
    setenv("PATH", path_.c_str(), 1);
    unsetenv("SLURM_JOB_ID");
    unsetenv("PARTITA_SLURM_COMMENT");
    fs::remove_all(dir_);
  }
  // A stand-in scontrol that appends its arguments to calls.txt and exits `rc`.
  void fake_scontrol(int rc) {
    std::ofstream(dir_ / "scontrol") << "#!/bin/sh\necho \"$@\" >> " << (dir_ / "calls.txt").string() << "\nexit " << rc
                                     << "\n";
    fs::permissions(dir_ / "scontrol", fs::perms::owner_all);
  }
  std::string calls() {
    std::ifstream in(dir_ / "calls.txt");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(Scheduler_SlurmComment, SetsTheCommentAtOnceThenAtMostEveryPeriodAndAtTheEnd) {
  fake_scontrol(0);
  slurm_comment c(60);
  const auto t0 = clock::now();
  ASSERT_TRUE(c.due(t0));
  c.update("0/10 partitions, ETA --:--:--", t0);
  EXPECT_FALSE(c.due(t0 + std::chrono::seconds(59)));
  c.update("5/10 partitions", t0 + std::chrono::seconds(30));                       // not due: nothing
  c.update("10/10 partitions, ETA 00:00:00", t0 + std::chrono::seconds(31), true);  // the last one, waited for
  EXPECT_EQ(calls(), "update JobId=4242 Comment=partita: 0/10 partitions, ETA --:--:--\n"
                     "update JobId=4242 Comment=partita: 10/10 partitions, ETA 00:00:00\n");
}

TEST_F(Scheduler_SlurmComment, ARefusalEndsTheUpdatesWithoutThrowing) {
  fake_scontrol(1);
  slurm_comment c(0.001);
  c.update("1/10 partitions", clock::now(), true);
  EXPECT_FALSE(c.due(clock::now() + std::chrono::hours(1)));
  c.update("2/10 partitions", clock::now(), true);
  EXPECT_EQ(calls(), "update JobId=4242 Comment=partita: 1/10 partitions\n");
}

TEST_F(Scheduler_SlurmComment, OffOutsideSlurmAndWhenTurnedOff) {
  fake_scontrol(0);
  unsetenv("SLURM_JOB_ID");
  slurm_comment outside(0.001);
  EXPECT_FALSE(outside.due(clock::now() + std::chrono::hours(1)));
  outside.update("1/10", clock::now(), true);
  setenv("SLURM_JOB_ID", "4242", 1);
  setenv("PARTITA_SLURM_COMMENT", "0", 1);
  slurm_comment off(0.001);
  off.update("1/10", clock::now(), true);
  EXPECT_EQ(calls(), "");
}

}  // namespace
