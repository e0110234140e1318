// Unit tests of crash points. Each case runs in a forked child, because the armed point is read from
// PARTITA_CRASH_AT once per process and a fired point kills the process.
#include <partita/runtime/crash_point.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

// Runs `body` in a forked child with PARTITA_CRASH_AT set to `spec` (unset if null) and returns the
// child's wait status. The child exits 0 if `body` returns.
int run_child(const char* spec, const std::function<void()>& body, const char* rank = nullptr) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (spec) ::setenv("PARTITA_CRASH_AT", spec, 1);
    else ::unsetenv("PARTITA_CRASH_AT");
    for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) ::unsetenv(v);
    if (rank) ::setenv("OMPI_COMM_WORLD_RANK", rank, 1);
    body();
    std::_Exit(0);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

bool exited_cleanly(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool killed_by_sigkill(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

TEST(Runtime_CrashPoint, NotArmedDoesNothing) {
  int status = run_child(nullptr, [] {
    for (int i = 0; i < 3; ++i) partita::crash_point("after_write");
  });
  EXPECT_TRUE(exited_cleanly(status)) << "status " << status;
  status = run_child("", [] { partita::crash_point("after_write"); });
  EXPECT_TRUE(exited_cleanly(status)) << "status " << status;
}

TEST(Runtime_CrashPoint, OtherNameDoesNothing) {
  int status = run_child("before_commit", [] {
    partita::crash_point("after_write");
    partita::crash_point("before_commit_2");
  });
  EXPECT_TRUE(exited_cleanly(status)) << "status " << status;
}

TEST(Runtime_CrashPoint, ArmedKillsWithSigkill) {
  int status = run_child("after_write", [] {
    partita::crash_point("before");
    partita::crash_point("after_write");
    std::_Exit(3);  // not reached if the point fires
  });
  EXPECT_TRUE(killed_by_sigkill(status)) << "status " << status;
}

TEST(Runtime_CrashPoint, RankSelector) {
  auto body = [] {
    partita::crash_point("p");
    std::_Exit(3);
  };
  EXPECT_TRUE(killed_by_sigkill(run_child("p@1", body, "1")));
  EXPECT_TRUE(WIFEXITED(run_child("p@1", body, "0")));
}

TEST(Runtime_CrashPoint, NthHit) {
  int status = run_child("p:3", [] {
    partita::crash_point("p");
    partita::crash_point("p");
    std::_Exit(3);
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "fired before the third hit";
  status = run_child("p:3", [] {
    for (int i = 0; i < 3; ++i) partita::crash_point("p");
    std::_Exit(3);
  });
  EXPECT_TRUE(killed_by_sigkill(status)) << "status " << status;
}

TEST(Runtime_CrashPoint, ArmedInCodeRunsItsHookThenKills) {
  char path[] = "/tmp/partita_crash_hook_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string file = path;
  // Arming in code wins over the environment (which names another point) and fires on the 2nd hit.
  int status = run_child("other", [&] {
    partita::arm_crash_point("p:2", [&] {
      if (FILE* f = std::fopen(file.c_str(), "w")) {
        std::fputs("recorded", f);
        std::fclose(f);
      }
    });
    partita::crash_point("other");
    partita::crash_point("p");
    if (FILE* f = std::fopen(file.c_str(), "r")) {  // not yet: the hook runs only when the point fires
      const int c = std::fgetc(f);
      std::fclose(f);
      if (c != EOF) std::_Exit(4);
    }
    partita::crash_point("p");
    std::_Exit(3);
  });
  EXPECT_TRUE(killed_by_sigkill(status)) << "status " << status;
  char buf[16] = {};
  if (FILE* f = std::fopen(file.c_str(), "r")) {
    std::fgets(buf, sizeof buf, f);
    std::fclose(f);
  }
  EXPECT_STREQ(buf, "recorded");
  // Disarming ("") leaves the process alive.
  status = run_child("p", [] {
    partita::arm_crash_point("");
    partita::crash_point("p");
  });
  EXPECT_TRUE(exited_cleanly(status)) << "status " << status;
  std::remove(file.c_str());
}

}  // namespace
