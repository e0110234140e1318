#pragma once
/// Choosing the checkpoint to restart from, and the next epoch number.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint/reader.hpp>
#include <partita/runtime/ids.hpp>

namespace partita {

/// The outcome of a restart search: a file, or none ("start fresh"), and why others were passed over.
struct restart_choice {
  std::optional<std::filesystem::path> file;  ///< the newest usable committed checkpoint, if any
  std::optional<checkpoint_image> image;      ///< its contents, as read and verified (read once)
  std::vector<std::string> skipped;           ///< "<file>: why", newest first
};

/// Finds the newest committed checkpoint <dir>/<job>.<epoch>.h5 of `expect.job` that matches `expect`
/// and whose checksums all verify, falling back to older epochs.
///
///     auto choice = partita::select_restart(dir, expect);
///     if (!choice.file) partita::log().info("no checkpoint to restart from: starting fresh");
///
/// Ignores stale .tmp files (listed in `skipped`), does not need LATEST (uses it only to log a
/// disagreement), and logs one warning line per skipped file; says "starting fresh" when none is usable (the
/// caller logs the file it restarts from). A missing directory means no checkpoint.
/// Expected outcomes are values: never throws for a bad file. Local (no MPI). Cost: reads each candidate
/// file fully, newest first, until one verifies.
restart_choice select_restart(const std::filesystem::path& dir, const checkpoint_expectation& expect);

/// The largest epoch of a committed file of `job` in `dir` (verified or not; .tmp files do not count),
/// so that the next checkpoint is numbered after it and never replaces a committed file. Local; cheap.
std::optional<epoch_t> newest_epoch(const std::filesystem::path& dir, const std::string& job);

}  // namespace partita
