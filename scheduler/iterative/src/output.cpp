#include <partita/scheduler/iterative/detail/run.hpp>

#include <cstring>
#include <limits>

#include <partita/checkpoint/output_file.hpp>
#include <partita/checkpoint/writer.hpp>

#include <partita/scheduler/iterative/detail/final_gather.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

// The run's state and this rank's partitions as one rank's part of a checkpoint image (a checkpoint, or the
// output file); `state_bytes` gets this rank's bytes of state.
checkpoint_image iterative_run::state_image(std::uint64_t& state_bytes) const {
  iterative_state st;
  st.steps = steps_;
  st.partition_count = n_;
  st.reductions = red_;
  st.cost = costs_.per_partition();
  st.run_seconds = earlier_seconds_ + since(setup_.t0);
  st.params = params_text(job_.params());
  auto image = st.to_image();
  image.meta.params_hash = params_hash(job_.params(), config_.seed, n_);
  state_bytes = 0;
  for (const auto& [id, state] : owned_) {
    auto arrays = job_.save(*state);
    for (const auto& a : arrays) state_bytes += a.data.size();
    add_partition(image, id, steps_, std::move(arrays));
  }
  return image;
}

// Every rank's part of the checkpoint `control` asks for: the run's state and this rank's partitions.
void iterative_run::write_checkpoint(const step_control& control) {
  std::uint64_t mine = 0;
  auto image = state_image(mine);
  const auto t = clock::now();
  checkpoints_->write(comm_, image, mine, control, steps_, watchdog_);
  if (coordinator_) trace_.event(fmt::format("checkpoint at step {}", steps_), me_, t);
}

// Before the first step: an --output FILE that holds another job's output is refused on every rank (unless
// --overwrite-output), so that hours of work do not end in a file that cannot be written.
void iterative_run::check_output_target() {
  if (!config_.output || config_.overwrite_output) return;
  std::string problem;
  if (coordinator_)
    if (auto p = output_file_problem(*config_.output, job_.name(), params_hash(job_.params(), config_.seed, n_)))
      problem = *p;
  int len = static_cast<int>(problem.size());
  PARTITA_MPI(MPI_Bcast(&len, 1, MPI_INT, setup_.scheduler.value, comm_));
  problem.resize(static_cast<std::size_t>(len));
  PARTITA_MPI(MPI_Bcast(problem.data(), len, MPI_CHAR, setup_.scheduler.value, comm_));
  if (!problem.empty())
    throw usage_error(fmt::format("--output {} {}: pass --overwrite-output to replace it, or choose another file",
                                  config_.output->string(), problem));
}

// Collective, once the job completed: every rank writes its partitions into the output file (docs/design.md,
// "Iterative output"). A failure throws on every rank (checkpoint_error), and no file is left that looks complete.
void iterative_run::write_output_file() {
  std::uint64_t mine = 0;
  auto image = state_image(mine);
  image.meta.job = job_.name();
  image.meta.rank_count = ranks_;
  // A collective write with a dead peer never returns; allow the job's state at 20 MB/s, as for a checkpoint.
  watchdog_.pet_write("writing the output (collective)", static_cast<double>(mine) * ranks_ / 20e6);
  const auto t = clock::now();
  const auto r = write_output(comm_, *config_.output, image);
  if (coordinator_) trace_.event(fmt::format("output at step {}", steps_), me_, t);
  output_ = r;
}

// The digest of the final states without moving them: each rank digests its own partitions, the coordinator gets
// 16 bytes per partition and combines the digests in id order.
std::string iterative_run::final_digest() {
  std::vector<std::uint64_t> mine;
  mine.reserve(2 * owned_.size());
  for (const auto& [id, state] : owned_) {
    mine.push_back(id);
    mine.push_back(partition_digest(id, job_.save(*state)));
  }
  const auto g = gather_to_root(comm_, setup_.scheduler.value, std::as_bytes(std::span<const std::uint64_t>(mine)),
                                limit(), "gathering the final digests");
  if (!coordinator_) return {};
  return combine_digests(digests_in_id_order(g.all, n_));
}

bytes iterative_run::encode_final_states() const {
  bytes mine;
  for (const auto& [id, state] : owned_) put_partition_state(mine, partition_id{id}, job_.save(*state));
  return mine;
}

// What the coordinator would receive must fit: --final-gather-limit, and what one MPI gather can carry (int
// counts). The same verdict on every rank (an allreduce of the sizes), before anything is sent.
void iterative_run::check_final_gather(const bytes& mine) {
  const std::uint64_t size = mine.size();
  std::uint64_t total = 0;
  PARTITA_MPI(MPI_Allreduce(&size, &total, 1, MPI_UINT64_T, MPI_SUM, comm_));
  const std::uint64_t cap = config_.final_gather_limit;
  const std::uint64_t most = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
  if ((cap > 0 && total > cap) || total > most)
    throw usage_error(fmt::format(
        "job '{}' keeps its final states for the coordinator, but they hold {} bytes, more than {} ({} bytes): "
        "write them with --output FILE instead (each rank writes its own), or keep fewer",
        job_.name(), total, cap > 0 && total > cap ? "--final-gather-limit" : "one MPI gather carries",
        cap > 0 && total > cap ? cap : most));
}

std::vector<std::unique_ptr<partition_state>> iterative_run::gather_final_states(const bytes& mine) {
  const auto all = gather_to_root(comm_, setup_.scheduler.value, mine, limit(), "gathering the final states").all;
  std::vector<std::unique_ptr<partition_state>> states(coordinator_ ? n_ : 0);
  if (!coordinator_) return states;
  const auto arrays = split_final_states(all, n_);
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
