#include <partita/scheduler/iterative/detail/run.hpp>

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>

namespace partita::detail {

void wait_bounded(std::vector<MPI_Request>& reqs, double timeout, std::uint64_t step, const std::string& what) {
  if (reqs.empty()) return;
  const auto start = clock::now();
  int spins = 0;
  for (;;) {
    int done = 0;
    PARTITA_MPI(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE));
    if (done) break;
    if (++spins > 1000) {
      if (since(start) > timeout)
        throw detail::peer_silent(step, fmt::format("{}: no answer within --timeout {} s (a rank is lost or hangs)",
                                                    what, timeout));
      std::this_thread::yield();
    }
  }
  reqs.clear();
}

void iterative_run::plan_halos() {
  expect_from_.clear();
  interior_.clear();
  boundary_.clear();
  in_.assign(owned_end() - owned_begin(), {});
  for (auto p = owned_begin(); p < owned_end(); ++p) {
    auto& slots = in_[p - owned_begin()];
    slots.resize(nbrs_[p].size());
    bool remote = false;
    for (auto q : nbrs_[p]) {
      const int r = place_.owner(q.value);
      if (r != me_) {
        ++expect_from_[r];
        remote = true;
      }
    }
    (remote ? boundary_ : interior_).push_back(p - owned_begin());
  }
}

step_tail iterative_run::exchange_and_step(std::vector<double>& contribution) {
  const std::uint64_t b = owned_begin(), e = owned_end(), count = e - b;
  step_tail tail;
  // 1. Halos out: computed on the arena, then local ones copied and remote ones packed per rank.
  std::vector<std::vector<std::vector<double>>> out(count);
  std::mutex m;
  std::optional<std::pair<std::uint64_t, std::string>> failed;
  const auto note_failure = [&](std::uint64_t id, std::string what) {
    std::lock_guard lock(m);
    if (!failed || id < failed->first) failed = std::make_pair(id, std::move(what));
  };
  arena_.execute([&] {
    tbb::parallel_for(std::uint64_t{0}, count, [&](std::uint64_t i) {
      const auto p = b + i;
      out[i].resize(nbrs_[p].size());
      try {
        auto ctx = ctx_for(p, steps_);
        for (std::size_t j = 0; j < nbrs_[p].size(); ++j) job_.halo(*owned_.at(p), nbrs_[p][j], ctx, out[i][j]);
      } catch (const std::exception& ex) {
        note_failure(p, std::string("halo: ") + ex.what());
      }
    });
  });
  std::map<int, std::vector<double>> packed;
  const auto check_size = [&](std::uint64_t src, std::uint64_t dst, std::size_t got) {
    if (tail.err != step_tail::ok) return;
    if (auto want = job_.halo_size(partition_id{src}, partition_id{dst}); want && *want != got)
      tail = step_tail{step_tail::halo_size, double(src), double(dst), double(got), double(*want)};
  };
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto p = b + i;
    for (std::size_t j = 0; j < nbrs_[p].size(); ++j) {
      const auto q = nbrs_[p][j].value;
      check_size(p, q, out[i][j].size());
      const int r = place_.owner(q);
      if (r == me_) {
        const auto& back = nbrs_[q];
        const auto slot = static_cast<std::size_t>(std::find(back.begin(), back.end(), partition_id{p}) - back.begin());
        in_[q - b][slot] = std::move(out[i][j]);
      } else {
        auto& buf = packed[r];
        buf.insert(buf.end(), {double(p), double(q), double(out[i][j].size())});
        buf.insert(buf.end(), out[i][j].begin(), out[i][j].end());
      }
    }
  }
  std::vector<MPI_Request> sends;
  sends.reserve(packed.size());
  for (auto& [r, buf] : packed) {
    sends.emplace_back();
    PARTITA_MPI(MPI_Isend(buf.data(), static_cast<int>(buf.size()), MPI_DOUBLE, r, static_cast<int>(iterative_tag::halo), comm_,
                          &sends.back()));
  }
  // 2. and 3. The steps, on the arena, each partition timed; then its reduction values. Every halo a step reads was
  // computed above, before any step, so the order of the steps does not matter: partitions whose neighbours are all
  // on this rank (interior_) step while the halos from other ranks are on their way, one by one between probes.
  const std::size_t nred = job_.reductions().size();
  std::vector<double> measured(count, 0.0), values(count * nred, 0.0);
  const bool stepping = tail.err == step_tail::ok && !failed;
  const auto step_one = [&](std::uint64_t i) {
    const auto p = b + i;
    std::vector<halo_view::entry> entries;
    entries.reserve(nbrs_[p].size());
    for (std::size_t j = 0; j < nbrs_[p].size(); ++j) entries.emplace_back(nbrs_[p][j], in_[i][j]);
    const auto t = clock::now();
    try {
      auto ctx = ctx_for(p, steps_);
      job_.step(*owned_.at(p), halo_view(entries), ctx);
      for (std::size_t k = 0; k < nred; ++k) values[i * nred + k] = job_.reduce_value(*owned_.at(p), k);
    } catch (const std::exception& ex) {
      note_failure(p, ex.what());
    }
    measured[i] = since(t);
    if (config_.trace) {
      const auto ns = [this](clock::time_point x) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(x - setup_.t0).count();
      };
      std::lock_guard lock(slices_mutex_);
      slices_.push_back({p, std::max(0, tbb::this_task_arena::current_thread_index()), ns(t), ns(clock::now())});
    }
  };
  std::size_t early = 0;  // interior partitions stepped while waiting
  const auto step_while_waiting = [&] {
    if (!stepping || failed || early == interior_.size()) return false;
    arena_.execute([&] { step_one(interior_[early++]); });
    return true;
  };
  receive_each<double>(
      comm_, iterative_tag::halo, expect_from_.size(), config_.timeout_seconds, steps_,
      [&](std::size_t left) { return fmt::format("step {}: halos from {} rank(s)", steps_ + 1, left); },
      [&](const std::vector<double>& buf) {
        for (std::size_t pos = 0; pos + 3 <= buf.size();) {
          const auto src = static_cast<std::uint64_t>(buf[pos]), dst = static_cast<std::uint64_t>(buf[pos + 1]);
          const auto len = static_cast<std::size_t>(buf[pos + 2]);
          pos += 3;
          if (dst < b || dst >= e || pos + len > buf.size())
            throw error("a halo message names a partition this rank does not own");
          const auto& nb = nbrs_[dst];
          const auto slot = static_cast<std::size_t>(std::find(nb.begin(), nb.end(), partition_id{src}) - nb.begin());
          if (slot == nb.size()) throw error("a halo message comes from a partition that is not a neighbour");
          in_[dst - b][slot].assign(buf.begin() + static_cast<std::ptrdiff_t>(pos),
                                    buf.begin() + static_cast<std::ptrdiff_t>(pos + len));
          pos += len;
        }
      },
      step_while_waiting);
  overlapped_ += early;
  if (stepping && !failed) {  // the rest: interior partitions not reached while waiting, then the boundary
    std::vector<std::uint64_t> rest(interior_.begin() + static_cast<std::ptrdiff_t>(early), interior_.end());
    rest.insert(rest.end(), boundary_.begin(), boundary_.end());
    arena_.execute([&] { tbb::parallel_for(std::size_t{0}, rest.size(), [&](std::size_t k) { step_one(rest[k]); }); });
  }
  if (failed && tail.err == step_tail::ok) tail = step_tail{step_tail::kernel, double(failed->first)};
  if (failed) failure_text_ = failed->second;
  double local_busy = 0;
  for (double t : measured) local_busy += t;
  busy_ += local_busy;
  tail.busy = local_busy;
  wait_bounded(sends, config_.timeout_seconds, steps_, fmt::format("step {}: sending halos", steps_ + 1));

  contribution.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    contribution.insert(contribution.end(), values.begin() + static_cast<std::ptrdiff_t>(i * nred),
                        values.begin() + static_cast<std::ptrdiff_t>((i + 1) * nred));
    contribution.push_back(measured[i]);
  }
  return tail;
}

void iterative_run::gather(const std::vector<double>& contribution, std::vector<double>& all) {
  const std::size_t per = job_.reductions().size() + 1;
  std::vector<int> counts(static_cast<std::size_t>(ranks_)), displs(static_cast<std::size_t>(ranks_));
  int total = 0;
  for (int r = 0; r < ranks_; ++r) {
    counts[static_cast<std::size_t>(r)] = static_cast<int>((place_.end(r) - place_.begin(r)) * per + step_tail::size);
    displs[static_cast<std::size_t>(r)] = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  all.resize(static_cast<std::size_t>(total));
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Iallgatherv(contribution.data(), static_cast<int>(contribution.size()), MPI_DOUBLE, all.data(),
                              counts.data(), displs.data(), MPI_DOUBLE, comm_, req.data()));
  wait_bounded(req, config_.timeout_seconds, steps_, fmt::format("step {}: the reductions", steps_ + 1));
}

void iterative_run::raise(const step_tail& t, int from_rank) {
  const auto u = [](double x) { return static_cast<std::uint64_t>(x); };
  if (t.err == step_tail::halo_size)
    throw usage_error(fmt::format("job '{}': partition {} sent neighbour {} a halo of {} values, but the job "
                                  "declares {}; fix the halo function or halo_size", job_.name(), u(t.a), u(t.b),
                                  u(t.c), u(t.d)));
  if (from_rank == me_) throw kernel_error(job_.name(), u(t.a), failure_text_);
  // The rank whose kernel threw prints its message; the others only exit non-zero.
  throw remote_failure(fmt::format("partition {} failed on rank {}", u(t.a), from_rank));
}

}  // namespace partita::detail
