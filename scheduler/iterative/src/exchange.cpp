#include <partita/scheduler/iterative/detail/run.hpp>

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>

namespace partita::detail {

// One step on this rank: halos out, the steps (interior partitions while the halos from other ranks are on their
// way), halos in, and this rank's part of the step gather into `contribution`. Returns the error it saw, if any.
step_control iterative_run::exchange_and_step(std::vector<double>& contribution) {
  const std::uint64_t count = owned_end() - owned_begin();
  first_failure failed;
  auto out = compute_halos(failed);
  auto control = check_halo_sizes(out);
  halos_.post(link_, out);
  // Every halo a step reads was computed above, before any step, so the order of the steps does not matter:
  // partitions whose neighbours are all on this rank step while the halos from other ranks are on their way, one
  // by one between probes.
  const std::size_t nred = job_.reductions().size();
  step_results results{std::vector<double>(count * nred, 0.0), std::vector<double>(count, 0.0)};
  const bool stepping = control.error == step_error::none && !failed;
  const auto& interior = halos_.interior();
  std::size_t early = 0;  // interior partitions stepped while waiting
  halos_.receive(link_, limit(), [&] {
    if (!stepping || failed || early == interior.size()) return false;
    arena_.execute([&] { step_partition(interior[early++], results, failed); });
    return true;
  });
  overlapped_ += early;
  if (stepping && !failed) {  // the rest: interior partitions not reached while waiting, then the boundary
    std::vector<std::uint64_t> rest(interior.begin() + static_cast<std::ptrdiff_t>(early), interior.end());
    rest.insert(rest.end(), halos_.boundary().begin(), halos_.boundary().end());
    arena_.execute([&] {
      tbb::parallel_for(std::size_t{0}, rest.size(), [&](std::size_t k) { step_partition(rest[k], results, failed); });
    });
  }
  if (failed && control.error == step_error::none)
    control = step_control::kernel_error(partition_id{failed.partition()});
  if (failed) failure_text_ = failed.what();
  double local_busy = 0;
  for (double t : results.measured) local_busy += t;
  busy_ += local_busy;
  control.busy_seconds = local_busy;
  halos_.finish(link_, limit());

  contribution.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    contribution.insert(contribution.end(), results.values.begin() + static_cast<std::ptrdiff_t>(i * nred),
                        results.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * nred));
    contribution.push_back(results.measured[i]);
  }
  return control;
}

// Every owned partition's halo for each of its neighbours, computed on the arena: [owned index][neighbour slot].
halo_set iterative_run::compute_halos(first_failure& failed) {
  const std::uint64_t b = owned_begin(), count = owned_end() - b;
  halo_set out(count);
  arena_.execute([&] {
    tbb::parallel_for(std::uint64_t{0}, count, [&](std::uint64_t i) {
      const auto p = b + i;
      out[i].resize(nbrs_[p].size());
      try {
        auto ctx = ctx_for(p, steps_);
        for (std::size_t j = 0; j < nbrs_[p].size(); ++j) job_.halo(*owned_.at(p), nbrs_[p][j], ctx, out[i][j]);
      } catch (const std::exception& ex) {
        failed.note(p, std::string("halo: ") + ex.what());
      }
    });
  });
  return out;
}

// The first halo (in owned-id, then neighbour order) whose length differs from what the job declares, if any.
step_control iterative_run::check_halo_sizes(const halo_set& out) const {
  for (std::uint64_t i = 0; i < out.size(); ++i) {
    const partition_id p{owned_begin() + i};
    for (std::size_t j = 0; j < nbrs_[p.value].size(); ++j) {
      const auto q = nbrs_[p.value][j];
      const auto got = out[i][j].size();
      if (auto want = job_.halo_size(p, q); want && *want != got)
        return step_control::halo_size_error(p, q, got, *want);
    }
  }
  return {};
}

// Steps owned partition `index` (timed), then takes its reduction values. On an arena thread.
void iterative_run::step_partition(std::uint64_t index, step_results& results, first_failure& failed) {
  const auto p = owned_begin() + index;
  const std::size_t nred = job_.reductions().size();
  std::vector<halo_view::entry> entries;
  entries.reserve(nbrs_[p].size());
  for (std::size_t j = 0; j < nbrs_[p].size(); ++j) entries.emplace_back(nbrs_[p][j], halos_.halo(index, j));
  const auto t = clock::now();
  try {
    auto ctx = ctx_for(p, steps_);
    job_.step(*owned_.at(p), halo_view(entries), ctx);
    for (std::size_t k = 0; k < nred; ++k) results.values[index * nred + k] = job_.reduce_value(*owned_.at(p), k);
  } catch (const std::exception& ex) {
    failed.note(p, ex.what());
  }
  results.measured[index] = since(t);
  trace_.slice(p, t, clock::now());
}

void iterative_run::gather(const std::vector<double>& contribution, std::vector<double>& all) {
  const std::size_t per = job_.reductions().size() + 1;
  std::vector<int> counts(static_cast<std::size_t>(ranks_)), displs(static_cast<std::size_t>(ranks_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    counts[static_cast<std::size_t>(r)] = static_cast<int>((place_.end(r) - place_.begin(r)) * per +
                                                           step_control::doubles);
    displs[static_cast<std::size_t>(r)] = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  all.resize(static_cast<std::size_t>(total));
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Iallgatherv(contribution.data(), static_cast<int>(contribution.size()), MPI_DOUBLE, all.data(),
                              counts.data(), displs.data(), MPI_DOUBLE, comm_, req.data()));
  wait_bounded(req, limit(), fmt::format("step {}: the reductions", steps_ + 1));
}

void iterative_run::raise(const step_control& c, int from_rank) {
  if (c.error == step_error::halo_size)
    throw usage_error(fmt::format("job '{}': partition {} sent neighbour {} a halo of {} values, but the job "
                                  "declares {}; fix the halo function or halo_size",
                                  job_.name(), c.partition.value, c.neighbour.value, c.halo_values, c.halo_declared));
  if (from_rank == me_) throw kernel_error(job_.name(), c.partition.value, failure_text_);
  // The rank whose kernel threw prints its message; the others only exit non-zero.
  throw remote_failure(fmt::format("partition {} failed on rank {}", c.partition.value, from_rank));
}

}  // namespace partita::detail
