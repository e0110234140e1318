#include <partita/runtime/exit_status.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <thread>

#include <partita/runtime/log.hpp>

namespace partita {

std::optional<std::string> status_file() {
  const char* f = std::getenv("PARTITA_STATUS_FILE");
  if (!f || !*f) return std::nullopt;
  return std::string(f);
}

namespace {

// Writes `code` to a temporary file beside `file` and returns its name, or nothing (logged) if it cannot.
std::optional<std::string> write_word(const std::string& file, int code) {
  const std::string tmp = file + ".tmp." + std::to_string(::getpid());
  std::ofstream out(tmp, std::ios::trunc);
  out << code << '\n';
  out.flush();
  if (!out) {
    log().error("cannot write the exit status to {} (PARTITA_STATUS_FILE)", tmp);
    return std::nullopt;
  }
  return tmp;
}

}  // namespace

void record_exit_status(int code) noexcept {
  try {
    const auto file = status_file();
    if (!file) return;
    const auto tmp = write_word(*file, code);
    if (tmp && std::rename(tmp->c_str(), file->c_str()) != 0) log().error("cannot rename {} to {}", *tmp, *file);
  } catch (...) {
  }
}

void record_failure_if_no_word(int code) noexcept {
  try {
    const auto file = status_file();
    if (!file) return;
    const auto tmp = write_word(*file, code);
    if (!tmp) return;
    // link(2) fails with EEXIST when a word is there: the first one stands.
    if (::link(tmp->c_str(), file->c_str()) == 0) log().info("exit status {} left in {} for the launcher", code, *file);
    ::unlink(tmp->c_str());
  } catch (...) {
  }
}

bool under_open_mpi_recovery() noexcept {
  const char* r = std::getenv("OMPI_MCA_orte_enable_recovery");
  return r && (std::string_view(r) == "1" || std::string_view(r) == "true");
}

namespace detail {

void make_launcher_see_failure(int code) noexcept {
  if (code == 0 || !under_open_mpi_recovery()) return;
  record_failure_if_no_word(code);
  try {
    const pid_t parent = ::getppid();
    std::string name;
    std::ifstream comm("/proc/" + std::to_string(parent) + "/comm");
    std::getline(comm, name);
    const bool open_mpi = name == "mpirun" || name == "mpiexec" || name == "orterun" || name == "orted";
    if (!open_mpi) {
      log().warn("exit code {} under mpirun --enable-recovery, which reports 0 whatever the ranks' codes; the parent "
                 "process '{}' is not Open MPI's launcher, so it is not told: check the job's summary",
                 code, name);
      return;
    }
    log().warn("exit code {} under mpirun --enable-recovery, which would report success: stopping {} (pid {}) "
               "so that it exits non-zero",
               code, name, static_cast<long>(parent));
    std::fflush(stdout);
    std::fflush(stderr);
    // mpirun forwards the ranks' output through its own I/O channel; a SIGTERM right away can end it before the
    // lines above (and the error that led here) reach the terminal or the job's log.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(parent, SIGTERM);
  } catch (...) {
  }
}

}  // namespace detail
}  // namespace partita
