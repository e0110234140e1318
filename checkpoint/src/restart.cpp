#include <partita/checkpoint/restart.hpp>

#include <new>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/files.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

namespace {
/// Nullopt if `file` is a usable restart point for `expect` (meta, expectation, every checksum), else why not.
std::optional<std::string> unusable(const std::filesystem::path& file, const checkpoint_expectation& expect) {
  try {
    detail::checkpoint_file f(file);
    const auto meta = f.read_meta();
    const auto rows = f.read_manifest(meta);
    if (auto why = detail::expectation_mismatch(meta, expect)) return why;
    for (const auto& row : rows) {
      detail::dataset_kind kind{};
      (void)f.read_dataset(row, kind);
    }
    return std::nullopt;
  } catch (const checkpoint_error& e) {
    return detail::problem_of(e);
  } catch (const std::bad_alloc&) {
    return "out of memory while verifying it";
  } catch (const std::exception& e) {
    return e.what();
  }
}
}  // namespace

restart_choice select_restart(const std::filesystem::path& dir, const checkpoint_expectation& expect) {
  restart_choice out;
  for (const auto& stale : detail::list_epochs(dir, expect.job, detail::tmp_suffix)) {
    out.skipped.push_back(stale.path.string() + ": not committed (left by an interrupted write), ignored");
    log().warn("restart: skipping {}", out.skipped.back());
  }
  for (const auto& candidate : detail::list_epochs(dir, expect.job, detail::committed_suffix)) {
    if (auto why = unusable(candidate.path, expect)) {
      out.skipped.push_back(candidate.path.string() + ": " + *why);
      log().warn("restart: skipping {}", out.skipped.back());
      continue;
    }
    out.file = candidate.path;
    break;
  }
  const auto latest = detail::read_first_line(dir / detail::latest_name);
  if (out.file) {
    const std::string chosen = out.file->filename().string();
    if (!latest) {
      log().info("restart: {} has no LATEST pointer; chose the newest valid checkpoint {}", dir.string(), chosen);
    } else if (*latest != chosen && detail::parse_epoch(*latest, expect.job, detail::committed_suffix)) {
      log().info("restart: LATEST names {}, but the newest valid checkpoint is {}", *latest, chosen);
    }
    log().info("restart: from {}", out.file->string());
  } else {
    log().info("restart: no usable checkpoint of job '{}' in {}: starting fresh", expect.job, dir.string());
  }
  return out;
}

std::optional<epoch_t> newest_epoch(const std::filesystem::path& dir, const std::string& job) {
  const auto committed = detail::list_epochs(dir, job, detail::committed_suffix);
  if (committed.empty()) return std::nullopt;
  return epoch_t{committed.front().epoch};
}

}  // namespace partita
