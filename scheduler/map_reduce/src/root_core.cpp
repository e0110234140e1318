#include <partita/scheduler/map_reduce/detail/root_core.hpp>

#include <utility>

namespace partita::detail {

root_core::root_core(dispatcher d, scheduler_tree tree, std::vector<int> threads, map_reduce_state state, fold_fn fold,
                     clock::time_point start)
    : dispatch_(std::move(d)), tree_(std::move(tree)), threads_(std::move(threads)), state_(std::move(state)),
      fold_(std::move(fold)), last_speculation_check_(start), parked_(static_cast<std::size_t>(tree_.ranks()), 0) {
  // Held results that continue the folded prefix (the survivors of a failover may have reported them) are folded
  // now; the rest wait in held_.
  auto& held = state_.held;
  for (auto it = held.begin(); it != held.end() && it->first == state_.folded; it = held.erase(it)) {
    fold_(it->second);
    ++state_.folded;
  }
  state_.done.clear();  // the dispatcher owns the done set while the job runs, held_ the held results
  held_.add(state_.held);
  state_.held.clear();
}

bool root_core::begin_round(clock::time_point now) {
  speculation_round_ = false;
  if (!dispatch_.may_speculate()) return false;
  // A wake-up at the deadline counts as the deadline reached (the simulator waits for deadlines exactly).
  if (now + std::chrono::nanoseconds(1) < next_speculation_check()) return false;
  last_speculation_check_ = now;
  speculation_round_ = true;
  return true;
}

std::optional<root_answer> root_core::answer(rank_t to, std::uint32_t want, clock::time_point now, request_kind kind) {
  auto chunks = dispatch_.assign(to, static_cast<int>(want), now);
  if (!chunks.empty()) return root_answer{want, std::move(chunks)};
  auto& parked = parked_.at(static_cast<std::size_t>(to.value));
  const bool first = parked == 0;
  if (first) parked_order_.push_back(to.value);
  parked += want;
  if (kind == request_kind::parked_again || !first || !tree_.is_node_scheduler(to.value)) return std::nullopt;
  return root_answer{};  // a node scheduler hears that the queue is empty
}

std::vector<parked_request> root_core::take_parked() {
  std::vector<parked_request> out;
  if (!may_hand_out() || parked_order_.empty()) return out;
  out.reserve(parked_order_.size());
  for (const int r : std::exchange(parked_order_, {}))
    out.push_back({rank_t{r}, std::exchange(parked_[static_cast<std::size_t>(r)], 0)});
  return out;
}

void root_core::forget(rank_t r) {
  auto& parked = parked_.at(static_cast<std::size_t>(r.value));
  if (parked == 0) return;
  parked = 0;
  std::erase(parked_order_, r.value);
}

bool root_core::adopt(rank_t r) {
  return r != tree_.root && !tree_.reports_to_root(r.value) &&
         dispatch_.adopt(r, threads_.at(static_cast<std::size_t>(r.value)));
}

std::vector<int> root_core::adopt_orphans(const std::function<bool(int)>& talks) {
  std::vector<int> out;
  for (int r = 0; r < tree_.ranks(); ++r) {
    if (r == tree_.root.value || tree_.reports_to_root(r) || talks(r)) continue;
    if (!dispatch_.tally(tree_.boss_of(rank_t{r})).lost || !adopt(rank_t{r})) continue;
    out.push_back(r);
  }
  return out;
}

commit_outcome root_core::commit(rank_t w, partition_id id, double seconds, std::span<const std::byte> result) {
  const auto won_before = dispatch_.copies_won();
  if (!dispatch_.complete(w, id, seconds)) return commit_outcome::duplicate;
  state_.note_cost(id.value, static_cast<float>(seconds));
  if (id.value == state_.folded) {
    held_.close();  // the fold may reach the open run
    fold_(result);
    state_.folded = held_.fold_from(state_.folded + 1, fold_);
  } else {
    held_.append(id.value, result);
  }
  return dispatch_.copies_won() != won_before ? commit_outcome::copy_won : commit_outcome::committed;
}

void root_core::to_image(checkpoint_image& image, bytes accumulator, double run_seconds) {
  state_.accumulator = std::move(accumulator);
  state_.done = dispatch_.done_set();
  state_.run_seconds = run_seconds;
  state_.held = held_.to_map();
  state_.to_image(image);
  state_.done.clear();
  state_.held.clear();
}

}  // namespace partita::detail
