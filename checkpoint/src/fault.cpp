#include <partita/checkpoint/detail/fault.hpp>

namespace partita::detail {

namespace {
std::optional<int> injected_rank;
bool skip_space_check = false;
}  // namespace

void inject_checkpoint_write_failure(std::optional<int> rank) noexcept { injected_rank = rank; }
std::optional<int> injected_checkpoint_write_failure() noexcept { return injected_rank; }
void skip_free_space_check(bool skip) noexcept { skip_space_check = skip; }
bool free_space_check_skipped() noexcept { return skip_space_check; }

}  // namespace partita::detail
