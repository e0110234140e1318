#pragma once
/// Writing and committing one checkpoint epoch with parallel HDF5 (the commit protocol in docs/design.md,
/// "Checkpoints").

#include <mpi.h>

#include <cstdint>
#include <filesystem>

#include <partita/checkpoint/image.hpp>
#include <partita/runtime/ids.hpp>

namespace partita {

/// Where checkpoints go and how many stay. Value type.
struct store_options {
  std::filesystem::path dir;  ///< created if missing
  int keep = 3;               ///< committed epochs of the job to keep (values below 1 count as 1)
};

/// What a committed checkpoint cost. Value type.
struct commit_result {
  std::filesystem::path file;  ///< the committed file, <dir>/<job>.<epoch>.h5
  epoch_t epoch;
  std::uint64_t bytes = 0;  ///< size of the file
  double seconds = 0;       ///< wall time of the whole commit (write, fsync, rename, LATEST, prune)
};

/// Writes `local` as checkpoint epoch `local.meta.epoch` of job `local.meta.job` and commits it.
///
///     auto r = partita::write_checkpoint(comm, {.dir = "ckpt", .keep = 3}, image);
///     partita::log().info("checkpoint {} took {:.2f} s", r.file.string(), r.seconds);
///
/// Collective over `comm` (pass MPI_COMM_SELF when one process writes alone). meta, blobs, u64 and f64
/// are taken from rank 0 of `comm`; every rank contributes its own `partitions`. Protocol: write
/// <dir>/<job>.<epoch>.h5.tmp with the MPI-IO driver (every object created collectively with sizes agreed
/// by an allgather; each rank reserves its datasets' blocks with fallocate, so that a full file system
/// fails early, then writes them independently and checksums them while they go to disk), close, fsync on
/// every rank, agree on success (allreduce), rename without replacing, fsync the directory, point
/// <dir>/LATEST at the new file (temp + rename), then delete all but the newest `keep` epochs of the job
/// and older stale .tmp files. HDF5 file locking is off (HDF5_USE_FILE_LOCKING=FALSE unless set, and
/// the file-access property).
/// Crash points: ckpt.before_write, ckpt.after_tmp_close and ckpt.after_fsync on every rank;
/// ckpt.after_rename, ckpt.after_dir_fsync, ckpt.after_latest and ckpt.after_prune on rank 0 of `comm`,
/// the only rank that publishes.
/// Every rank returns the same result or throws checkpoint_error (naming the file and the problem, the
/// same text on every rank; a full file system or a file-size limit says so and what to do). On failure
/// the .tmp is removed and nothing is published, so the previous checkpoint stays the valid one. Refuses
/// to replace a committed file of the same epoch. Limitation: HDF5 offers no way out of its collective
/// object-creation calls, so a failure inside HDF5 on one rank only, in that phase, can still hang.
/// Not thread-safe (HDF5 is not; MPI calls on `comm`). Cost: one pass over the bytes for the CRC-32s,
/// the file write, an fsync, and O(total partitions) metadata on every rank. Progress and the time of
/// each phase go to the log (info and debug).
commit_result write_checkpoint(MPI_Comm comm, const store_options& opt, const checkpoint_image& local);

/// Writes `local` as a job's output file `file`, in the checkpoint format (so `partita verify` checks it and h5py
/// reads /partitions/<id>/<name>), and commits it: the same protocol as write_checkpoint up to the close and fsync
/// of `file`.tmp, then rank 0 of `comm` renames it over `file` and fsyncs the directory (no LATEST, no pruning). A
/// crash at any moment leaves either the previous `file` or the new one whole, never a half-written `file` (at
/// most a stale `file`.tmp). It replaces an existing `file`: check it first with output_file_problem
/// (checkpoint/output_file.hpp). Crash points: output.before_write, output.after_tmp_close, output.after_fsync
/// and output.after_rename. Collective over `comm`; throws checkpoint_error like write_checkpoint.
commit_result write_output(MPI_Comm comm, const std::filesystem::path& file, const checkpoint_image& local);

}  // namespace partita
