#pragma once
/// Test hook: make one rank's data write fail, to check that a failure on one rank is agreed by all.

#include <optional>

namespace partita::detail {

/// While set, write_checkpoint throws an "injected write failure" on the rank of its communicator equal to
/// `rank`, in the phase where each rank writes its own datasets. For tests only; not thread-safe.
void inject_checkpoint_write_failure(std::optional<int> rank) noexcept;

/// The rank set by inject_checkpoint_write_failure, if any.
std::optional<int> injected_checkpoint_write_failure() noexcept;

}  // namespace partita::detail
