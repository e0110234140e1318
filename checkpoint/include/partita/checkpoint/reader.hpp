#pragma once
/// Reading a checkpoint file, which is treated as untrusted input.

#include <cstdint>
#include <filesystem>
#include <string>

#include <partita/checkpoint/image.hpp>

namespace partita {

/// What a restarting job requires of a checkpoint. Value type.
struct checkpoint_expectation {
  std::string job;                ///< must equal meta.job
  std::uint64_t params_hash = 0;  ///< must equal meta.params_hash
  std::string model;              ///< must equal meta.model unless empty
};

/// Reads a whole checkpoint and checks it against `expect`.
///
///     auto image = partita::read_checkpoint(file, {.job = "pi", .params_hash = h, .model = "map_reduce"});
///
/// The file is untrusted: the format version is checked first (a newer one is refused, naming both
/// versions), then job, parameters hash and model, then every size against the file and a sane bound
/// before anything is allocated, then every CRC-32 of the manifest. Throws checkpoint_error naming the
/// file and the problem; never crashes on a truncated, corrupt or crafted file (external links, filters,
/// external storage and unwritten datasets are refused). Local, not collective (needs no MPI). Not
/// thread-safe: the parallel HDF5 build is not, so call the checkpoint layer from one thread at a time.
/// Cost: reads the file once; memory = its datasets.
checkpoint_image read_checkpoint(const std::filesystem::path& file, const checkpoint_expectation& expect);

/// As read_checkpoint, but whatever parameters hash the file has (job and model are still checked): for telling a
/// user what changed between the checkpoint and this run, never for restarting from it.
checkpoint_image read_checkpoint_any_parameters(const std::filesystem::path& file,
                                                const checkpoint_expectation& expect);

}  // namespace partita
