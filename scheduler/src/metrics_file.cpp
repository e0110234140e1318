#include <partita/scheduler/detail/metrics_file.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <partita/runtime/log.hpp>

namespace partita::detail {

metrics_file::metrics_file(std::filesystem::path file) : file_(std::move(file)), tmp_(file_) { tmp_ += ".tmp"; }

bool metrics_file::write(std::string_view text) noexcept {
  if (broken_) return false;
  const char* step = "open";
  int err = 0;
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = errno;
  } else {
    std::size_t put = 0;
    while (put < text.size()) {
      const auto n = ::write(fd, text.data() + put, text.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        err = n < 0 ? errno : ENOSPC;
        step = "write";
        break;
      }
      put += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 && err == 0) {
      err = errno;
      step = "close";
    }
    if (err == 0 && std::rename(tmp_.c_str(), file_.c_str()) != 0) {
      err = errno;
      step = "rename";
    }
    if (err != 0) ::unlink(tmp_.c_str());
  }
  if (err == 0) return true;
  broken_ = true;
  try {
    log().warn("metrics: cannot {} {} ({}); the job goes on without metrics (fix: give --metrics-file a path in a "
               "writable folder)",
               step, step[0] == 'r' ? file_.string() : tmp_.string(), std::strerror(err));
  } catch (...) {
  }
  return false;
}

}  // namespace partita::detail
