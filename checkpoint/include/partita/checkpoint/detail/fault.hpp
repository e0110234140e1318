#pragma once
/// Test hooks: make one rank's data write fail, to check that a failure on one rank is agreed by all; skip the
/// free-space check, to reach the reservation of blocks on a full file system.

#include <optional>

namespace partita::detail {

/// While set, write_checkpoint throws an "injected write failure" on the rank of its communicator equal to
/// `rank`, in the phase where each rank writes its own datasets. For tests only; not thread-safe.
void inject_checkpoint_write_failure(std::optional<int> rank) noexcept;

/// The rank set by inject_checkpoint_write_failure, if any.
std::optional<int> injected_checkpoint_write_failure() noexcept;

/// While true, write_checkpoint skips its free-space check before creating the file. For tests only.
void skip_free_space_check(bool skip) noexcept;
bool free_space_check_skipped() noexcept;

}  // namespace partita::detail
