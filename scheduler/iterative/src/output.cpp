#include <partita/scheduler/iterative/detail/run.hpp>

#include <cstring>

#include <partita/scheduler/iterative/detail/final_gather.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

// Every rank's part of the checkpoint `control` asks for: the run's state and this rank's partitions.
void iterative_run::write_checkpoint(const step_control& control) {
  iterative_state st;
  st.steps = steps_;
  st.partition_count = n_;
  st.reductions = red_;
  st.cost = costs_.per_partition();
  st.run_seconds = earlier_seconds_ + since(setup_.t0);
  auto image = st.to_image();
  image.meta.params_hash = params_hash(job_.params(), config_.seed, n_);
  std::uint64_t mine = 0;  // this rank's bytes of state
  for (const auto& [id, state] : owned_) {
    auto arrays = job_.save(*state);
    for (const auto& a : arrays) mine += a.data.size();
    add_partition(image, id, steps_, std::move(arrays));
  }
  const auto t = clock::now();
  checkpoints_->write(comm_, image, mine, control, steps_, watchdog_);
  if (coordinator_) trace_.event(fmt::format("checkpoint at step {}", steps_), me_, t);
}

std::vector<std::unique_ptr<partition_state>> iterative_run::gather_final_states(std::string& digest) {
  bytes mine;
  for (const auto& [id, state] : owned_) put_partition_state(mine, partition_id{id}, job_.save(*state));
  const auto all = gather_to_root(comm_, setup_.scheduler.value, mine, limit(), "gathering the final states").all;
  std::vector<std::unique_ptr<partition_state>> states(coordinator_ ? n_ : 0);
  if (!coordinator_) return states;
  const auto arrays = split_final_states(all, n_);
  digest = state_digest(arrays);
  for (std::uint64_t id = 0; id < n_; ++id) states[id] = job_.load(partition_id{id}, arrays[id]);
  return states;
}

std::vector<rank_trace> iterative_run::gather_slices() {
  // Collective: every rank's slices as raw structs to the coordinator (trace_slice is plain data).
  static_assert(std::is_trivially_copyable_v<trace_slice>);
  const auto& slices = trace_.slices();
  const auto g = gather_to_root(comm_, setup_.scheduler.value, std::as_bytes(std::span<const trace_slice>(slices)),
                                limit(), "gathering the trace");
  std::vector<rank_trace> out;
  if (!coordinator_) return out;
  for (int r = 0; r < ranks_; ++r) {
    const auto at = static_cast<std::size_t>(r);
    std::vector<trace_slice> theirs(static_cast<std::size_t>(g.lens[at]) / sizeof(trace_slice));
    if (!theirs.empty()) std::memcpy(theirs.data(), g.all.data() + g.displs[at], static_cast<std::size_t>(g.lens[at]));
    out.push_back({r, s_.nodes().hosts.at(static_cast<std::size_t>(s_.nodes().node_of(r))), std::move(theirs)});
  }
  return out;
}

}  // namespace partita::detail
