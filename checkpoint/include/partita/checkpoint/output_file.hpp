#pragma once
/// Whether a job may write its output file where it was asked to: a file already there must be this job's own.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace partita {

/// Why `file` may not be replaced by the output of job `job` with parameters hash `params_hash`, or nothing if it
/// may: it does not exist, or it is an output (or checkpoint) of the same job and parameters. Otherwise the problem
/// in a few words ("holds the output of job 'heat' with other parameters", "is not a Partita output file: ...");
/// the caller adds the fix. Never throws for a bad file. Local (no MPI); reads the file's /meta only.
std::optional<std::string> output_file_problem(const std::filesystem::path& file, const std::string& job,
                                               std::uint64_t params_hash);

}  // namespace partita
