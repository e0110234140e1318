#include <partita/scheduler/map_reduce/detail/root_core.hpp>

#include <string>
#include <utility>

#include <partita/runtime/error.hpp>

namespace partita::detail {

root_core::root_core(dispatcher d, scheduler_tree tree, std::vector<int> threads, map_reduce_state state, fold_ops fold,
                     clock::time_point start)
    : dispatch_(std::move(d)), tree_(std::move(tree)), threads_(std::move(threads)), state_(std::move(state)),
      fold_(dispatch_.total(), std::move(fold)), last_speculation_check_(start),
      parked_(static_cast<std::size_t>(tree_.ranks()), 0) {
  // Held results and block values that continue the folded prefix (the survivors of a failover may have reported
  // them) are folded now; the rest wait in fold_.
  fold_.start(std::move(state_.accumulator), std::move(state_.block_accumulator), state_.folded, state_.held,
              std::move(state_.held_blocks));
  state_.fold_block = fold_.block_size();
  state_.accumulator.clear();
  state_.block_accumulator.clear();
  state_.held_blocks.clear();
  state_.done.clear();  // the dispatcher owns the done set while the job runs, fold_ the held results
  state_.held.clear();
}

bool root_core::begin_round(clock::time_point now) {
  speculation_round_ = false;
  if (!dispatch_.may_share_tail()) return false;
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
  ++results_committed_;
  state_.note_cost(id.value, static_cast<float>(seconds));
  fold_.add_result(id.value, result);
  return dispatch_.copies_won() != won_before ? commit_outcome::copy_won : commit_outcome::committed;
}

std::uint64_t root_core::commit_block(rank_t w, std::uint64_t k, double seconds, std::span<const std::byte> value) {
  if (k >= fold_.block_count()) throw error("root: value of block " + std::to_string(k) + " past the last block");
  const auto n = dispatch_.complete_range(w, {fold_.block_begin(k), fold_.block_end(k)}, seconds);
  ++block_commits_;
  if (n == 0) return 0;
  ++blocks_committed_;
  fold_block(k, seconds, value);
  return n;
}

root_core::blocks_outcome root_core::commit_blocks(rank_t w, const result_batch& blocks) {
  blocks_outcome out;
  auto seconds = [&](std::size_t i) { return static_cast<double>(blocks.nanos[i]) * 1e-9; };
  for (std::size_t i = 0, j = 0; i < blocks.size(); i = j) {
    // [i, j): a run of consecutive block indices.
    for (j = i + 1; j < blocks.size() && blocks.ids[j] == blocks.ids[j - 1] + 1; ++j) {
    }
    const auto first = blocks.ids[i], last = blocks.ids[j - 1];
    const id_range run{fold_.block_begin(first), fold_.block_end(last)};  // used only once both are blocks
    if (j - i > 1 && first < fold_.block_count() && last < fold_.block_count() && dispatch_.fresh(run)) {
      double total = 0;
      for (auto b = i; b < j; ++b) total += seconds(b);
      dispatch_.complete_range(w, run, total);
      ++block_commits_;
      ++out.commits;
      for (auto b = i; b < j; ++b) fold_block(blocks.ids[b], seconds(b), blocks.result(b));
      blocks_committed_ += j - i;
      out.blocks += j - i;
      continue;
    }
    for (auto b = i; b < j; ++b) {
      ++out.commits;
      if (commit_block(w, blocks.ids[b], seconds(b), blocks.result(b)) > 0) ++out.blocks;
    }
  }
  return out;
}

void root_core::fold_block(std::uint64_t k, double seconds, std::span<const std::byte> value) {
  // The block's mean stands for each of its partitions in the cost sample (the node measured them one by one).
  const id_range ids{fold_.block_begin(k), fold_.block_end(k)};
  const auto mean = static_cast<float>(seconds / static_cast<double>(ids.size()));
  const auto stride = state_.cost_stride;
  for (auto id = (ids.begin + stride - 1) / stride * stride; id < ids.end; id += stride) state_.note_cost(id, mean);
  fold_.add_block(k, value);
}

void root_core::to_image(checkpoint_image& image, double run_seconds) {
  state_.accumulator = fold_.prefix();
  state_.block_accumulator = fold_.partial();
  state_.folded = fold_.folded();
  state_.done = dispatch_.done_set();
  state_.run_seconds = run_seconds;
  state_.held = fold_.held();
  state_.held_blocks = fold_.held_blocks();
  state_.to_image(image);
  state_.accumulator.clear();
  state_.block_accumulator.clear();
  state_.done.clear();
  state_.held.clear();
  state_.held_blocks.clear();
}

}  // namespace partita::detail
