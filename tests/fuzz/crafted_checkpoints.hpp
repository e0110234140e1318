#pragma once
/// Crafted checkpoints for the checkpoint fuzzer's seed corpus: a real checkpoint edited with the HDF5 API
/// into what a writer never writes (chunked, filtered, external or multi-dimensional datasets, other
/// types, links, odd attributes and manifests), each with a manifest that checksums, so that every seed
/// reaches one of the reader's own checks instead of stopping at HDF5's or the manifest's checksum.

#include <filesystem>

namespace partita::fuzz {

/// Writes the crafted variants of `base` (a valid checkpoint) into `dir` as crafted-<what>.h5 and returns
/// how many. Objects they add use HDF5's earliest format (no metadata checksums), which the fuzzer can
/// mutate without HDF5 refusing every change. Needs no MPI. Throws std::runtime_error when an HDF5 call fails.
int write_crafted_checkpoints(const std::filesystem::path& base, const std::filesystem::path& dir);

}  // namespace partita::fuzz
