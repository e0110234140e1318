#include <partita/checkpoint/detail/fault.hpp>

namespace partita::detail {

namespace {
std::optional<int> injected_rank;
}

void inject_checkpoint_write_failure(std::optional<int> rank) noexcept { injected_rank = rank; }
std::optional<int> injected_checkpoint_write_failure() noexcept { return injected_rank; }

}  // namespace partita::detail
