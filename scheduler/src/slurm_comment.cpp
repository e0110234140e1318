#include <partita/scheduler/detail/slurm_comment.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include <partita/runtime/log.hpp>

extern char** environ;

namespace partita::detail {

slurm_comment::slurm_comment(double period_seconds) : period_(period_seconds) {
  const char* id = std::getenv("SLURM_JOB_ID");
  const char* opt = std::getenv("PARTITA_SLURM_COMMENT");
  if (!id || !*id || (opt && std::string(opt) == "0")) return;
  job_id_ = id;
  next_ = clock::now();
}

slurm_comment::~slurm_comment() {
  if (child_ > 0) reap(false);  // a child still running is left to init: it ends by itself
}

// True when the last scontrol is done (or none ran). A refusal turns the updates off.
bool slurm_comment::reap(bool wait) {
  if (child_ <= 0) return true;
  int status = 0;
  pid_t got = 0;
  for (int k = 0; k < (wait ? 500 : 1); ++k) {
    got = ::waitpid(child_, &status, WNOHANG);
    if (got != 0) break;
    if (wait) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (got == 0) return false;
  child_ = -1;
  if (got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  next_ = clock::time_point::max();
  log().warn("slurm: scontrol could not set job {}'s comment (exit {}); the progress stays in the log only "
             "(PARTITA_SLURM_COMMENT=0 stops trying)",
             job_id_, got > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return true;
}

void slurm_comment::update(const std::string& line, clock::time_point now, bool last) {
  if (job_id_.empty() || next_ == clock::time_point::max()) return;
  if (!last && now < next_) return;
  if (!reap(last)) return;  // the previous one still runs: try at the next call
  if (next_ == clock::time_point::max()) return;
  next_ = now + to_ns(period_);
  // One child, its output to /dev/null; no shell, so the line needs no quoting.
  std::string job = "JobId=" + job_id_, comment = "Comment=partita: " + line;
  std::vector<char*> argv{const_cast<char*>("scontrol"), const_cast<char*>("update"), job.data(), comment.data(),
                          nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "scontrol", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    next_ = clock::time_point::max();
    log().warn("slurm: cannot run scontrol to set job {}'s comment; the progress stays in the log only", job_id_);
    return;
  }
  child_ = pid;
  if (last) reap(true);
}

}  // namespace partita::detail
