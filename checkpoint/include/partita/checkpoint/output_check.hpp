#pragma once
/// Checking and summarising a map/reduce job's per-partition output file for operators (`partita verify`,
/// `partita inspect`), as verify.hpp does for checkpoints (docs/design.md, "Map/reduce data path").

#include <cstdint>
#include <filesystem>
#include <string>

namespace partita {

/// Whether `file` is an output file of a map/reduce job (HDF5 with the partita_job and partita_partitions
/// attributes on its root): what verify_output and inspect_output read. False for a checkpoint, an iterative
/// --output file (checkpoint layout), anything else, or a file that cannot be read. Never throws. Local.
bool is_block_output_file(const std::filesystem::path& file);

/// The verdict of verify_output. Value type.
struct output_verify_report {
  enum class verdict {
    ok,          ///< complete, and every block's CRC-32 matches the one recorded when it was committed
    bad_block,   ///< a committed block's bytes do not match its recorded CRC-32
    incomplete,  ///< the committed blocks verify, but not every block is committed or the job did not complete
    unreadable   ///< not an output file Partita can check (the problem says why)
  };
  verdict outcome = verdict::unreadable;
  std::string job, dataset;
  std::uint64_t partitions = 0;  ///< blocks in the file
  std::uint64_t committed = 0;   ///< blocks recorded as committed
  std::uint64_t verified = 0;    ///< committed blocks whose CRC-32 was recomputed and matched
  bool complete = false;         ///< partita_complete
  std::uint64_t bad_partition = 0, first_row = 0, rows = 0;  ///< bad_block: which block, its rows
  std::uint32_t recorded_crc = 0, computed_crc = 0;          ///< bad_block: the two checksums
  std::string problem;                                       ///< unreadable: why

  bool ok() const noexcept { return outcome == verdict::ok; }
  /// One line for operators: "OK (...)", "BAD: block of partition ...", "INCOMPLETE: ...".
  std::string line() const;
};

/// Recomputes the CRC-32 of every committed block from the dataset's bytes and compares it with the one the
/// scheduler recorded (/partita/block_crc32); then checks that every block is committed and the job completed.
/// Stops at the first bad block. Never throws for a bad file. Local (no MPI). Cost: reads every committed block
/// once, one block in memory at a time.
///
///     const auto r = partita::verify_output(file);
///     std::puts(r.line().c_str()); return r.ok() ? 0 : 1;
output_verify_report verify_output(const std::filesystem::path& file);

/// A human summary of an output file: job, parameters hash, dataset, shape, element type, rows per partition,
/// blocks committed of all, complete or not. Never throws for a bad file. Local; reads the attributes and the
/// record, not the blocks.
std::string inspect_output(const std::filesystem::path& file);

}  // namespace partita
