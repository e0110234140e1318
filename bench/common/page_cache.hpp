#pragma once
/// Drops a file's pages from the page cache, so that the next read of it comes from the disk (a cold read).

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <partita/runtime/error.hpp>

namespace partita::bench {

/// Flushes `file` (fsync: dirty pages cannot be dropped) and asks the kernel to drop its cached pages
/// (posix_fadvise POSIX_FADV_DONTNEED over the whole file). Local; call it on every rank that will read the file.
/// Throws error naming the file and the failing call. Costs one fsync of the file's dirty pages.
inline void drop_cached_pages(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) throw error("open " + file + ": " + std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const int advice = synced ? ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) : errno;
  ::close(fd);
  if (!synced) throw error("fsync " + file + ": " + std::strerror(advice));
  if (advice != 0) throw error("posix_fadvise(DONTNEED) " + file + ": " + std::strerror(advice));
}

}  // namespace partita::bench
