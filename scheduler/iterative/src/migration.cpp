#include <partita/scheduler/iterative/detail/run.hpp>

#include <cstring>

#include <partita/runtime/log.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

void iterative_run::rebalance() {
  if (ranks_ == 1 || steps_ == steps_at_start_) return;
  // Every input below came through the gather, so every rank takes the same decision without a message.
  const double now = detail::placement_imbalance(place_, cost_, threads_);
  const bool every = config_.rebalance_every_steps > 0 && steps_ % config_.rebalance_every_steps == 0;
  // The threshold is looked at every few steps, so a placement gets time to be measured before it is judged.
  const bool over = config_.imbalance_threshold > 0 && now > config_.imbalance_threshold &&
                    steps_ - last_rebalance_ >= 10;
  if (!every && !over) return;
  const auto next = detail::balanced_placement(cost_, threads_);
  const double then = detail::placement_imbalance(next, cost_, threads_);
  // Move only for a clear gain: measured costs are noisy, and a move costs a state transfer.
  if (next == place_ || !(then < now - 0.25 * (now - 1.0))) return;
  std::uint64_t moved = 0;
  for (std::uint64_t id = 0; id < n_; ++id) moved += place_.owner(id) != next.owner(id) ? 1 : 0;
  if (!every) {
    // On the threshold alone, the step time saved over the next 20 steps must pay for the move (assumed 0.2 ms a
    // partition: a message and a copy of its state); microsecond steps never migrate on noise.
    double total = 0;
    for (double c : cost_) total += std::max(0.0, c);
    double thread_sum = 0;
    for (int t : threads_) thread_sum += t;
    const double mean = total / thread_sum;
    if ((now - then) * mean * 20.0 < 2e-4 * static_cast<double>(moved)) return;
  }
  if (coordinator_)
    log().info("step {}: rebalancing, imbalance {:.3f} -> {:.3f} (predicted from measured costs), {} partition{} move",
               steps_, now, then, moved, moved == 1 ? "" : "s");
  const auto t = clock::now();
  migrate(next);
  migrations_ += moved;
  ++rebalances_;
  last_rebalance_ = steps_;
  if (coordinator_)
    events_.push_back({fmt::format("rebalance at step {}: {} moved, imbalance {:.3f} -> {:.3f}", steps_, moved, now, then),
                       me_, std::chrono::duration_cast<std::chrono::nanoseconds>(t - setup_.t0).count(),
                       std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t).count()});
}

void iterative_run::migrate(const detail::placement& next) {
  std::vector<bytes> outgoing;
  std::vector<MPI_Request> sends;
  outgoing.reserve(owned_.size());
  for (auto it = owned_.begin(); it != owned_.end();) {
    const int to = next.owner(it->first);
    if (to == me_) {
      ++it;
      continue;
    }
    bytes msg(8);
    std::memcpy(msg.data(), &it->first, 8);
    detail::encode_arrays(msg, job_.save(*it->second));
    outgoing.push_back(std::move(msg));
    sends.emplace_back();
    PARTITA_MPI(MPI_Isend(outgoing.back().data(), static_cast<int>(outgoing.back().size()), MPI_BYTE, to,
                          static_cast<int>(iterative_tag::migrate), comm_, &sends.back()));
    it = owned_.erase(it);
  }
  std::size_t pending = 0;
  for (auto id = next.begin(me_); id < next.end(me_); ++id) pending += place_.owner(id) != me_ ? 1 : 0;
  receive_each<std::byte>(
      comm_, iterative_tag::migrate, pending, config_.timeout_seconds, steps_,
      [&](std::size_t left) { return fmt::format("step {}: {} migrating partition(s)", steps_, left); },
      [&](const std::vector<std::byte>& buf) {
        std::uint64_t id = 0;
        if (buf.size() < 8) throw error("a migration message is truncated");
        std::memcpy(&id, buf.data(), 8);
        std::size_t pos = 8;
        owned_[id] = job_.load(partition_id{id}, decode_arrays(buf, pos));
      },
      [] { return false; });
  wait_bounded(sends, config_.timeout_seconds, steps_, "migrating partitions");
  place_ = next;
  plan_halos();
}

}  // namespace partita::detail
