#pragma once
/// Checkpoint file names (<job>.<epoch>.h5, .tmp, LATEST) and the POSIX steps of the commit protocol.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace partita::detail {

inline constexpr std::string_view committed_suffix = ".h5";
inline constexpr std::string_view tmp_suffix = ".h5.tmp";
inline constexpr std::string_view latest_name = "LATEST";

/// <dir>/<job>.<epoch>.h5
std::filesystem::path committed_path(const std::filesystem::path& dir, const std::string& job, std::uint64_t epoch);
/// <dir>/<job>.<epoch>.h5.tmp
std::filesystem::path tmp_path(const std::filesystem::path& dir, const std::string& job, std::uint64_t epoch);

/// The epoch of a file name of the form <job>.<epoch><suffix>, if it is one (epoch: decimal digits, no sign).
std::optional<std::uint64_t> parse_epoch(std::string_view filename, std::string_view job, std::string_view suffix);

/// A checkpoint file of one job found in a directory.
struct epoch_file {
  std::uint64_t epoch;
  std::filesystem::path path;
};
/// The files <job>.<epoch><suffix> in `dir`, newest epoch first. A missing directory gives none.
std::vector<epoch_file> list_epochs(const std::filesystem::path& dir, std::string_view job, std::string_view suffix);

/// Problem text if `job` cannot be part of a file name (empty, '/', leading '.', control characters...).
std::optional<std::string> job_name_problem(const std::string& job);

/// fsync()s a file or directory; throws std::system_error naming the path.
void fsync_path(const std::filesystem::path& path, bool directory);

/// Renames `from` to `to` unless `to` exists (renameat2 RENAME_NOREPLACE; where the file system does not
/// offer it, link + unlink). Throws std::system_error (EEXIST when `to` exists).
void rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to);

/// Writes `content` to `path` atomically: <path>.tmp.<pid>, fsync, rename over `path`, fsync the directory.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// The first line of a small file (at most 4 KiB read), if it can be read.
std::optional<std::string> read_first_line(const std::filesystem::path& path);

}  // namespace partita::detail
