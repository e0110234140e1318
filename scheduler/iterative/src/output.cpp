#include <partita/scheduler/iterative/detail/run.hpp>

#include <cstring>

#include <partita/checkpoint/writer.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

void iterative_run::write_checkpoint_now(const std::string& why, bool stop, epoch_t epoch) {
  detail::iterative_state st;
  st.steps = steps_;
  st.partition_count = n_;
  st.reductions = red_;
  st.cost = cost_;
  st.run_seconds = earlier_seconds_ + since(setup_.t0);
  auto image = st.to_image();
  image.meta.job = job_.name();
  image.meta.params_hash = detail::params_hash(job_.params(), config_.seed, n_);
  image.meta.epoch = epoch;
  image.meta.rank_count = ranks_;
  std::uint64_t mine = 0;  // this rank's bytes of state
  for (const auto& [id, state] : owned_) {
    auto arrays = job_.save(*state);
    for (const auto& a : arrays) mine += a.data.size();
    detail::add_partition(image, id, steps_, std::move(arrays));
  }
  // A collective write with a dead peer never returns; a large one on a slow file system takes its time. The
  // watchdog allows the job's whole state (about this rank's times the ranks) at 20 MB/s, and ten times what the
  // last write here took, on top of its limit.
  const double allowance = static_cast<double>(mine) * ranks_ / 20e6 + 10 * last_checkpoint_seconds_;
  watchdog_.pet("writing a checkpoint (collective)", allowance);
  const auto need = stop ? detail::checkpoint_need::required : detail::checkpoint_need::optional;
  const auto t = clock::now();
  struct timed {  // however the write ends
    double& out;
    clock::time_point t;
    ~timed() { out = since(t); }
  } note_time{last_checkpoint_seconds_, t};
  if (coordinator_) {
    driver_->write(comm_, image, why, need, steps_, fmt::format("step {}", steps_));
    events_.push_back({fmt::format("checkpoint at step {}", steps_), me_,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(t - setup_.t0).count(),
                       std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t).count()});
    return;
  }
  try {
    write_checkpoint(comm_, store_options{*config_.checkpoint_dir, config_.keep}, image);
  } catch (const checkpoint_error& e) {
    if (stop) throw remote_failure(e.what());  // the coordinator reports it
  }
}

std::vector<std::unique_ptr<partition_state>> iterative_run::gather_final_states(std::string& digest) {
  bytes mine;
  for (const auto& [id, state] : owned_) {
    const auto at = mine.size();
    mine.resize(at + 8);
    std::memcpy(mine.data() + at, &id, 8);
    detail::encode_arrays(mine, job_.save(*state));
  }
  const auto all = gather_to_coordinator(mine.data(), mine.size(), "gathering the final states").all;
  std::vector<std::unique_ptr<partition_state>> states(coordinator_ ? n_ : 0);
  if (!coordinator_) return states;
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<std::vector<state_array>> arrays(n_);
  for (std::size_t pos = 0; pos < all.size();) {
    std::uint64_t id = 0;
    std::memcpy(&id, all.data() + pos, 8);
    pos += 8;
    if (id >= n_) throw error("the final gather names a partition that does not exist");
    arrays[id] = detail::decode_arrays(all, pos);
  }
  for (std::uint64_t id = 0; id < n_; ++id) {
    h = fnv1a(h, &id, 8);
    for (const auto& a : arrays[id]) {
      h = fnv1a(h, a.name.data(), a.name.size());
      h = fnv1a(h, a.data.data(), a.data.size());
    }
    states[id] = job_.load(partition_id{id}, arrays[id]);
  }
  digest = fmt::format("{:016x}", h);
  return states;
}

std::vector<detail::rank_trace> iterative_run::gather_slices() {
  // Collective: every rank's slices as raw structs to the coordinator (trace_slice is plain data).
  static_assert(std::is_trivially_copyable_v<trace_slice>);
  const auto g = gather_to_coordinator(slices_.data(), slices_.size() * sizeof(trace_slice), "gathering the trace");
  std::vector<detail::rank_trace> out;
  if (!coordinator_) return out;
  for (int r = 0; r < ranks_; ++r) {
    std::vector<trace_slice> mine(g.lens[static_cast<std::size_t>(r)] / sizeof(trace_slice));
    if (!mine.empty()) std::memcpy(mine.data(), g.all.data() + g.displs[static_cast<std::size_t>(r)], g.lens[static_cast<std::size_t>(r)]);
    out.push_back({r, s_.nodes().hosts.at(static_cast<std::size_t>(s_.nodes().node_of(r))), std::move(mine)});
  }
  return out;
}

iterative_run::gathered iterative_run::gather_to_coordinator(const void* data, std::size_t size, const char* what) {
  const int root = setup_.scheduler.value;
  const int len = static_cast<int>(size);
  gathered g;
  g.lens.resize(static_cast<std::size_t>(ranks_));
  g.displs.resize(static_cast<std::size_t>(ranks_));
  PARTITA_MPI(MPI_Gather(&len, 1, MPI_INT, g.lens.data(), 1, MPI_INT, root, comm_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    g.displs[static_cast<std::size_t>(r)] = total;
    total += g.lens[static_cast<std::size_t>(r)];
  }
  g.all.resize(coordinator_ ? static_cast<std::size_t>(total) : 0);
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Igatherv(data, len, MPI_BYTE, g.all.data(), g.lens.data(), g.displs.data(), MPI_BYTE, root, comm_,
                           req.data()));
  wait_bounded(req, config_.timeout_seconds, steps_, what);
  return g;
}

}  // namespace partita::detail
