#include <partita/checkpoint/restart.hpp>

#include <variant>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/files.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

namespace {
/// The image of `file` if it is a usable restart point for `expect` (meta, expectation, sizes, every checksum),
/// else why not.
std::variant<checkpoint_image, std::string> try_read(const std::filesystem::path& file,
                                                     const checkpoint_expectation& expect) {
  try {
    return read_checkpoint(file, expect);
  } catch (...) {
    return detail::problem_of_current_exception();
  }
}
}  // namespace

restart_choice select_restart(const std::filesystem::path& dir, const checkpoint_expectation& expect) {
  restart_choice out;
  for (const auto& stale : detail::list_epochs(dir, expect.job, detail::tmp_suffix)) {
    out.skipped.push_back(stale.path.string() + ": not committed (left by an interrupted write), ignored");
    log().warn("restart: passed over {}", out.skipped.back());
  }
  for (const auto& candidate : detail::list_epochs(dir, expect.job, detail::committed_suffix)) {
    auto read = try_read(candidate.path, expect);
    if (auto* why = std::get_if<std::string>(&read)) {
      out.skipped.push_back(candidate.path.string() + ": " + *why);
      log().warn("restart: passed over {}", out.skipped.back());
      continue;
    }
    out.file = candidate.path;
    out.image = std::move(std::get<checkpoint_image>(read));
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
