#include <partita/scheduler/iterative/detail/run.hpp>

#include <partita/runtime/log.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

void iterative_run::rebalance() {
  if (ranks_ == 1 || steps_ == steps_at_start_) return;
  // Every input came through the gather, so every rank takes the same decision without a message.
  const auto plan = balance_.due(place_, costs_.per_partition(), threads_, steps_);
  if (!plan) return;
  if (coordinator_)
    log().info("step {}: rebalancing, imbalance {:.3f} -> {:.3f} (predicted from measured costs), {} partition{} move",
               steps_, plan->imbalance_now, plan->imbalance_then, plan->moved, plan->moved == 1 ? "" : "s");
  const auto t = clock::now();
  migrate(plan->next);
  balance_.done(*plan, steps_);
  if (coordinator_) {
    auto text = fmt::format("rebalance at step {}: {} moved, imbalance {:.3f} -> {:.3f}", steps_, plan->moved,
                            plan->imbalance_now, plan->imbalance_then);
    rebalances_.push_back({"rebalance", seconds_d(t - setup_.t0).count(), since(t), text,
                           static_cast<std::int64_t>(steps_)});
    trace_.event(std::move(text), me_, t);
  }
}

// Collective over the ranks that send or receive: each partition that changes rank goes as one message.
void iterative_run::migrate(const placement& next) {
  for (auto it = owned_.begin(); it != owned_.end();) {
    const int to = next.owner(it->first);
    if (to == me_) {
      ++it;
      continue;
    }
    bytes message;
    put_partition_state(message, partition_id{it->first}, job_.save(*it->second));
    link_.send(rank_t{to}, iterative_tag::migrate, std::move(message));
    it = owned_.erase(it);
  }
  std::size_t pending = 0;
  for (auto id = next.begin(me_); id < next.end(me_); ++id) pending += place_.owner(id) != me_ ? 1 : 0;
  receive_each(
      link_, iterative_tag::migrate, pending, limit(),
      [&](std::size_t left) { return fmt::format("step {}: {} migrating partition(s)", steps_, left); },
      [&](const bytes& message) {
        std::size_t pos = 0;
        auto [id, arrays] = get_partition_state(message, pos);
        if (id.value < next.begin(me_) || id.value >= next.end(me_))
          throw error("a migration message names a partition this rank does not take");
        owned_[id.value] = job_.load(id, arrays);
      },
      [] { return false; });
  finish_sends(link_, limit(), "migrating partitions");
  place_ = next;
  halos_.plan(place_);
}

}  // namespace partita::detail
