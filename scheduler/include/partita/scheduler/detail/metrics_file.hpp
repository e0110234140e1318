#pragma once
/// The file --metrics-file names, rewritten whole and atomically so that a reader (a node exporter's textfile
/// collector, promtool) never sees half of it.

#include <filesystem>
#include <string_view>

namespace partita::detail {

/// Writes text to `<file>.tmp` in the same folder, then renames it over `file`. A write that fails is reported in
/// one log line, naming the file, the reason and the fix, and every later write is skipped: metrics never fail a
/// job. Single-threaded. Non-copyable by convention (it remembers that it reported).
class metrics_file {
 public:
  explicit metrics_file(std::filesystem::path file);

  /// Replaces the file's contents with `text`. False when it failed now or before (nothing is written any more).
  /// Never throws. Costs an open, a write, a close and a rename (no fsync: the next write replaces it anyway).
  bool write(std::string_view text) noexcept;
  bool broken() const noexcept { return broken_; }
  const std::filesystem::path& path() const noexcept { return file_; }

 private:
  std::filesystem::path file_, tmp_;
  bool broken_ = false;
};

}  // namespace partita::detail
