#include <partita/checkpoint/detail/files.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <system_error>

namespace partita::detail {

namespace fs = std::filesystem;

fs::path committed_path(const fs::path& dir, const std::string& job, std::uint64_t epoch) {
  return dir / (job + "." + std::to_string(epoch) + std::string(committed_suffix));
}

fs::path tmp_path(const fs::path& dir, const std::string& job, std::uint64_t epoch) {
  return dir / (job + "." + std::to_string(epoch) + std::string(tmp_suffix));
}

std::optional<std::uint64_t> parse_epoch(std::string_view name, std::string_view job, std::string_view suffix) {
  if (name.size() <= job.size() + 1 + suffix.size()) return std::nullopt;
  if (!name.starts_with(job) || name[job.size()] != '.' || !name.ends_with(suffix)) return std::nullopt;
  const std::string_view digits = name.substr(job.size() + 1, name.size() - job.size() - 1 - suffix.size());
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t epoch = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), epoch);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return epoch;
}

std::vector<epoch_file> list_epochs(const fs::path& dir, std::string_view job, std::string_view suffix) {
  std::vector<epoch_file> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (auto e = parse_epoch(name, job, suffix)) out.push_back({*e, it->path()});
  }
  std::sort(out.begin(), out.end(), [](const epoch_file& a, const epoch_file& b) { return a.epoch > b.epoch; });
  return out;
}

std::optional<std::string> job_name_problem(const std::string& job) {
  if (job.empty()) return "the job name is empty";
  if (job.size() > 200) return "the job name '" + job + "' is longer than 200 bytes";
  if (job.front() == '.') return "the job name '" + job + "' starts with '.'";
  for (unsigned char c : job) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return "the job name '" + job + "' has a character other than letters, digits, '_', '-' and '.'";
  }
  return std::nullopt;
}

void fsync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string() + " to fsync it");
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "fsync " + path.string());
  }
  ::close(fd);
}

void rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  const int err = errno;
  if (err != EINVAL && err != ENOSYS && err != ENOTSUP) {
    throw std::system_error(err, std::generic_category(), "rename " + from.string() + " to " + to.string());
  }
  // The file system cannot rename without replacing: a hard link fails if `to` exists, atomically.
  if (::link(from.c_str(), to.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(), "link " + from.string() + " to " + to.string());
  }
  ::unlink(from.c_str());
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + tmp.string());
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::system_error(err, std::generic_category(), "write " + tmp.string());
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  const int sync_rc = ::fsync(fd);
  const int sync_err = errno;
  const int close_rc = ::close(fd);
  if (sync_rc != 0 || close_rc != 0) {
    const int err = sync_rc != 0 ? sync_err : errno;
    ::unlink(tmp.c_str());
    throw std::system_error(err, std::generic_category(), "fsync/close " + tmp.string());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::system_error(err, std::generic_category(), "rename " + tmp.string() + " to " + path.string());
  }
  fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path(), true);
}

std::optional<std::string> read_first_line(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string buf(4096, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  buf.resize(static_cast<std::size_t>(in.gcount()));
  if (auto nl = buf.find('\n'); nl != std::string::npos) buf.resize(nl);
  return buf;
}

}  // namespace partita::detail
