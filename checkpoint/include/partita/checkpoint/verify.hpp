#pragma once
/// Checking and summarising a checkpoint file for operators (`partita verify`, `partita inspect`).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace partita {

/// The verdict of verify_checkpoint. Value type.
struct verify_report {
  bool ok = false;
  std::string first_bad;             ///< the first dataset (HDF5 path) that failed, or the file itself
  std::string problem;               ///< what was wrong with it; empty when ok
  std::size_t datasets_checked = 0;  ///< datasets whose checksum was recomputed (the /meta record included)
  std::string job, model;            ///< from /meta, once it was read
  std::uint64_t step = 0;            ///< from /meta: the step of an iterative checkpoint or --output file
  std::uint64_t epoch = 0;           ///< from /meta: a checkpoint's epoch (1, 2, ...); 0 in an iterative --output file
};

/// Recomputes the CRC-32 of every dataset listed in the manifest (and of /meta and the manifest itself)
/// and reports the first that does not match, or the structural problem that stopped the check.
///
///     auto r = partita::verify_checkpoint(file);
///     return r.ok ? 0 : (std::cerr << r.first_bad << ": " << r.problem << '\n', 1);
///
/// Never throws for a bad file (a missing file is a report too). Local (no MPI). Cost: reads the file
/// once, one dataset in memory at a time.
verify_report verify_checkpoint(const std::filesystem::path& file);

/// A human summary of a checkpoint: job, model, epoch, step, rank count, format and code version,
/// partitions stored and done, dataset sizes, the cost model (count, min, mean, max) and whether the
/// checksums verify. Never throws for a bad file: says what could not be read instead. Local; reads the file.
std::string inspect_checkpoint(const std::filesystem::path& file);

}  // namespace partita
