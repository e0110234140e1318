// A full file system (tmpfs of a fixed size, as root) or a file-size limit (RLIMIT_FSIZE, any user) during a
// write: a clear error, no .tmp left behind, and the previous checkpoint still verifies and stays LATEST.
#include <gtest/gtest.h>

#include <partita/checkpoint/detail/fault.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <partita/checkpoint.hpp>

#include "support/ckpt_test_util.hpp"

namespace fs = std::filesystem;
using namespace partita;
using partita::testing::expectation_for;
using partita::testing::temp_dir;

namespace {
std::string latest_of(const fs::path& dir) {
  std::ifstream in(dir / "LATEST");
  std::string line;
  std::getline(in, line);
  return line;
}

void expect_previous_intact(const fs::path& dir, const std::string& job) {
  EXPECT_FALSE(fs::exists(dir / (job + ".2.h5.tmp"))) << "the unfinished file must be removed";
  EXPECT_FALSE(fs::exists(dir / (job + ".2.h5")));
  EXPECT_EQ(latest_of(dir), job + ".1.h5");
  const auto v = verify_checkpoint(dir / (job + ".1.h5"));
  EXPECT_TRUE(v.ok) << v.first_bad << ": " << v.problem;
  const auto c = select_restart(dir, expectation_for(job));
  ASSERT_TRUE(c.file);
  EXPECT_EQ(*c.file, dir / (job + ".1.h5"));
}

/// A tmpfs mounted on a fresh directory for the life of the object (needs root and a sandbox that allows it).
class tmpfs_mount {
 public:
  tmpfs_mount(const fs::path& at, std::size_t bytes) : at_(at) {
    const std::string opts = "size=" + std::to_string(bytes);
    if (::geteuid() != 0) {
      why_not_ = "not root";
    } else if (::mount("tmpfs", at.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      why_not_ = std::string("mount tmpfs: ") + std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~tmpfs_mount() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }

 private:
  fs::path at_;
  bool mounted_ = false;
  std::string why_not_;
};
}  // namespace

/// Fills a 1 MiB tmpfs with one good epoch, then writes one too large for it: a clear error, the previous
/// epoch intact, and the next epoch commits once there is room. `skip_check` bypasses the free-space check
/// before the file is created, so the failure comes from reserving the blocks instead.
void full_file_system_case(bool skip_check) {
  temp_dir base;
  const fs::path dir = base.path() / "small";
  fs::create_directories(dir);
  tmpfs_mount mnt(dir, 1u << 20);  // 1 MiB
  if (!mnt.mounted()) GTEST_SKIP() << "no tmpfs (" << mnt.why_not() << "); the RLIMIT_FSIZE test covers this";
  partita::testing::write_epoch(dir, "full", 1, 3, 1000);  // ~20 KiB
  partita::detail::skip_free_space_check(skip_check);
  try {
    partita::testing::write_epoch(dir, "full", 2, 3, 400000);  // ~2.4 MiB
    partita::detail::skip_free_space_check(false);
    FAIL() << "a write larger than the file system must fail";
  } catch (const checkpoint_error& e) {
    partita::detail::skip_free_space_check(false);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("full"), std::string::npos) << msg;
    EXPECT_NE(msg.find("full.1.h5 is still valid"), std::string::npos) << msg;
    EXPECT_NE(msg.find("full.2.h5.tmp"), std::string::npos) << msg;
    EXPECT_NE(msg.find(skip_check ? "reserving" : "ENOSPC"), std::string::npos) << msg;
    std::printf("the error: %s\n", msg.c_str());
  }
  expect_previous_intact(dir, "full");
  // Once space is back (old data deleted), the next epoch commits.
  partita::testing::write_epoch(dir, "full", 2, 3, 1000);
  EXPECT_TRUE(verify_checkpoint(dir / "full.2.h5").ok);
}

TEST(Checkpoint_FullDisk, FullFileSystemIsRefusedBeforeTheFileIsCreated) { full_file_system_case(false); }

TEST(Checkpoint_FullDisk, FileSystemFullWhenReservingGivesAClearErrorAndKeepsThePrevious) {
  full_file_system_case(true);
}

TEST(Checkpoint_FullDisk, FileSizeLimitGivesAClearErrorAndKeepsThePrevious) {
  temp_dir dir;
  // Epoch 1 (~2.4 MiB) is written freely; then the helper limits file sizes to 256 KiB and writes epoch 2
  // (as large): write() fails with EFBIG, as on a full disk.
  const auto r = partita::testing::run_child({PARTITA_CKPT_HELPER, dir.path().string(), "limited", "1", "2", "400000",
                                              std::to_string(256 * 1024)});
  ASSERT_TRUE(r.exited) << r.output;
  EXPECT_EQ(r.exit_code, 3) << "expected a checkpoint_error; the helper said:\n" << r.output;
  EXPECT_NE(r.output.find("file-size limit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("limited.1.h5 is still valid"), std::string::npos) << r.output;
  std::printf("the helper said:\n%s\n", r.output.c_str());
  expect_previous_intact(dir.path(), "limited");
}
