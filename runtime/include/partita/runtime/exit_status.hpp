#pragma once
/// How a process's exit status reaches the launcher: the job's own word in $PARTITA_STATUS_FILE, and a failure
/// made visible to `mpirun --enable-recovery`, which otherwise exits 0 whatever its ranks' exit codes
/// (docs/design.md, "Exit status").

#include <optional>
#include <string>

namespace partita {

/// The file named by $PARTITA_STATUS_FILE (set by slurm/partita-launch.sh), or nothing.
std::optional<std::string> status_file();

/// Writes `code` (0 done, 2 usage error, 75 checkpointed and stopped, ...) as one line to $PARTITA_STATUS_FILE, if
/// set: the job's own word on how it ended, which the launcher trusts over mpirun's exit status. Written atomically
/// (temporary file, rename). The rank that knows the outcome calls it (the scheduler, or the first rank for a
/// usage error). Never throws; a file that cannot be written is logged.
void record_exit_status(int code) noexcept;

/// Like record_exit_status, but only if no word is there yet (an atomic link(2), so that of several ranks that fail
/// at once one word stands, and the scheduler's own word, written with record_exit_status, is never replaced). For
/// a rank that gives up on a run under `mpirun --enable-recovery`: there mpirun may wait forever for a lost node's
/// daemon, and the launcher ends it only once it has the job's word. Never throws.
void record_failure_if_no_word(int code) noexcept;

/// Whether this process runs under `mpirun --enable-recovery` (OMPI_MCA_orte_enable_recovery=1).
bool under_open_mpi_recovery() noexcept;

namespace detail {
/// Called as a process that exits with a non-zero `code` finishes. Under `mpirun --enable-recovery` Open MPI 4.1
/// exits 0 even when every rank failed (it reports neither non-zero exits, nor MPI_Abort, nor deaths by signal);
/// it does exit non-zero when it is itself sent SIGTERM, after stopping every rank. So a rank whose parent is
/// Open MPI's launcher (mpirun/orterun on its node, orted on the others) sends it SIGTERM, after leaving the job's
/// word (record_failure_if_no_word): after a node loss that mpirun may never act on. Does nothing elsewhere. Never
/// throws.
void make_launcher_see_failure(int code) noexcept;
}  // namespace detail

}  // namespace partita
