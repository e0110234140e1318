// A process killed (SIGKILL) at each phase of the commit protocol leaves a directory that restarts from a
// checkpoint that verifies, and the next epoch commits.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include <partita/checkpoint.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::expectation_for;
using partita::testing::temp_dir;

namespace {
struct crash_case {
  const char* point;
  std::uint64_t survivor;  // the epoch restart must find
  bool tmp_left;           // an uncommitted epoch-2 .tmp is left behind
  const char* latest;      // what LATEST names afterwards
};

class Checkpoint_CrashPoints : public ::testing::TestWithParam<crash_case> {};
}  // namespace

TEST_P(Checkpoint_CrashPoints, KilledWritingEpochTwoLeavesARestartableJob) {
  const auto& c = GetParam();
  temp_dir dir;
  // Epoch 1 commits; the crash point fires on its second hit, inside the write of epoch 2.
  const auto r = partita::testing::run_child({PARTITA_CKPT_HELPER, dir.path().string(), "crashy", "1", "2"},
                                             {std::string("PARTITA_CRASH_AT=") + c.point + ":2"});
  ASSERT_TRUE(r.signaled) << "the helper was not killed at " << c.point << "; it said:\n" << r.output;
  EXPECT_EQ(r.signal, SIGKILL);

  EXPECT_EQ(fs::exists(dir.path() / "crashy.2.h5.tmp"), c.tmp_left);
  std::ifstream latest(dir.path() / "LATEST");
  std::string line;
  std::getline(latest, line);
  EXPECT_EQ(line, c.latest);

  const auto choice = select_restart(dir.path(), expectation_for("crashy"));
  ASSERT_TRUE(choice.file);
  EXPECT_EQ(*choice.file, dir.path() / ("crashy." + std::to_string(c.survivor) + ".h5"));
  const auto v = verify_checkpoint(*choice.file);
  EXPECT_TRUE(v.ok) << v.first_bad << ": " << v.problem;
  auto expected = partita::testing::make_image("crashy", c.survivor);
  const auto back = read_checkpoint(*choice.file, expectation_for("crashy"));
  EXPECT_EQ(back.blobs, expected.blobs);
  EXPECT_EQ(back.f64, expected.f64);
  EXPECT_EQ(back.partitions.size(), expected.partitions.size());

  // The job goes on: numbering continues after the newest committed epoch, and epoch 3 commits.
  EXPECT_EQ(newest_epoch(dir.path(), "crashy"), epoch_t{c.survivor});
  const auto again = partita::testing::run_child({PARTITA_CKPT_HELPER, dir.path().string(), "crashy", "3", "3"});
  ASSERT_TRUE(again.exited && again.exit_code == 0) << again.output;
  EXPECT_TRUE(verify_checkpoint(dir.path() / "crashy.3.h5").ok);
  EXPECT_FALSE(fs::exists(dir.path() / "crashy.2.h5.tmp"));
  const auto after = select_restart(dir.path(), expectation_for("crashy"));
  ASSERT_TRUE(after.file);
  EXPECT_EQ(*after.file, dir.path() / "crashy.3.h5");
}

INSTANTIATE_TEST_SUITE_P(EveryPhase, Checkpoint_CrashPoints,
                         ::testing::Values(crash_case{"ckpt.before_write", 1, false, "crashy.1.h5"},
                                           crash_case{"ckpt.after_tmp_close", 1, true, "crashy.1.h5"},
                                           crash_case{"ckpt.after_fsync", 1, true, "crashy.1.h5"},
                                           crash_case{"ckpt.after_rename", 2, false, "crashy.1.h5"},
                                           crash_case{"ckpt.after_dir_fsync", 2, false, "crashy.1.h5"},
                                           crash_case{"ckpt.after_latest", 2, false, "crashy.2.h5"},
                                           crash_case{"ckpt.after_prune", 2, false, "crashy.2.h5"}),
                         [](const ::testing::TestParamInfo<crash_case>& info) {
                           std::string name = info.param.point + 5;  // drop "ckpt."
                           return name;
                         });
