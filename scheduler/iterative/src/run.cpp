#include <partita/scheduler/iterative/detail/run.hpp>

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <limits>
#include <set>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>
#include <partita/scheduler/detail/progress_meter.hpp>
#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/iterative/driver.hpp>

namespace partita::detail {

run_report iterative_run::run() {
  check_graph();
  start(choose_restart());
  plan_halos();
  if (coordinator_) driver_ = std::make_unique<checkpoint_driver>(s_, config_, setup_, job_.name(), earlier_seconds_, steps_);
  auto rep = report_header();
  step_loop(rep);
  conclude(rep);
  return rep;
}

void iterative_run::check_graph() {
  // Deterministic on every rank, so every rank throws the same usage error before anyone waits on anyone.
  nbrs_.resize(n_);
  for (std::uint64_t p = 0; p < n_; ++p) {
    nbrs_[p] = job_.neighbours(partition_id{p});
    std::set<std::uint64_t> seen;
    for (auto q : nbrs_[p]) {
      if (q.value >= n_)
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {}, but the partitions are 0..{}; "
                                      "fix the neighbours function", job_.name(), p, q.value, n_ - 1));
      if (q.value == p)
        throw usage_error(fmt::format("job '{}': partition {} names itself as a neighbour; fix the neighbours "
                                      "function", job_.name(), p));
      if (!seen.insert(q.value).second)
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {} twice; fix the neighbours function",
                                      job_.name(), p, q.value));
    }
  }
  for (std::uint64_t p = 0; p < n_; ++p)
    for (auto q : nbrs_[p]) {
      const auto& back = nbrs_[q.value];
      if (std::find(back.begin(), back.end(), partition_id{p}) == back.end())
        throw usage_error(fmt::format("job '{}': partition {} names neighbour {}, but {} does not name {}; the "
                                      "neighbour graph must be symmetric", job_.name(), p, q.value, q.value, p));
    }
}

std::optional<restart_point> iterative_run::choose_restart() {
  // An unusable --restart FILE must stop every rank: the others wait in start()'s broadcast for the verdict.
  std::optional<restart_point> restart;
  std::exception_ptr problem;
  if (coordinator_) {
    try {
      restart = find_restart(config_, {job_.name(), params_hash(job_.params(), config_.seed, n_), iterative_state::model});
    } catch (...) {
      problem = std::current_exception();
    }
  }
  int bad = problem ? 1 : 0;
  PARTITA_MPI(MPI_Bcast(&bad, 1, MPI_INT, setup_.scheduler.value, comm_));
  if (problem) std::rethrow_exception(problem);
  if (bad) throw remote_failure("the checkpoint to restart from is unusable");
  return restart;
}

void iterative_run::start(std::optional<detail::restart_point> restart) {
  // The coordinator chose the checkpoint; tell every rank which file (or the error), then each reads it.
  std::string text;
  int status = 0;  // 0 fresh, 1 restart from `text`, 2 error `text`
  if (coordinator_ && restart) {
    status = 1;
    text = restart->file.string();
  }
  PARTITA_MPI(MPI_Bcast(&status, 1, MPI_INT, setup_.scheduler.value, comm_));
  int len = static_cast<int>(text.size());
  PARTITA_MPI(MPI_Bcast(&len, 1, MPI_INT, setup_.scheduler.value, comm_));
  text.resize(static_cast<std::size_t>(len));
  PARTITA_MPI(MPI_Bcast(text.data(), len, MPI_CHAR, setup_.scheduler.value, comm_));

  if (status == 0) {
    place_ = detail::even_placement(n_, ranks_);
    cost_.assign(n_, 0.0);
    red_.assign(job_.reductions().size(), 0.0);
    init_owned();
    return;
  }
  const checkpoint_expectation expect{job_.name(), detail::params_hash(job_.params(), config_.seed, n_),
                                      detail::iterative_state::model};
  checkpoint_image image;
  std::exception_ptr problem;
  try {
    image = coordinator_ ? std::move(restart->image) : read_checkpoint(text, expect);
    const auto st = detail::iterative_state::from_image(image, text, job_.reductions().size());
    if (st.partition_count != n_)
      throw checkpoint_error(text, fmt::format("it has {} partitions, the job {}", st.partition_count, n_));
    steps_ = steps_at_start_ = st.steps;
    red_ = st.reductions;
    cost_ = st.cost;
    earlier_seconds_ = st.run_seconds;
    place_ = detail::balanced_placement(cost_, threads_);
    for (auto id = owned_begin(); id < owned_end(); ++id) {
      const auto arrays = detail::arrays_of(image, id);
      if (arrays.empty()) throw checkpoint_error(text, fmt::format("partition {} has no saved state", id));
      owned_[id] = job_.load(partition_id{id}, arrays);
    }
  } catch (...) {
    problem = std::current_exception();
  }
  int bad = problem ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (problem) std::rethrow_exception(problem);
  if (any) throw remote_failure("another rank could not restore its partitions");
  restored_from_ = text;
  if (coordinator_)
    log().info("restarting job '{}' from {} at step {} on {} ranks", job_.name(), text, steps_, ranks_);
}

void iterative_run::init_owned() {
  std::vector<std::uint64_t> ids;
  for (auto id = owned_begin(); id < owned_end(); ++id) ids.push_back(id);
  std::vector<std::unique_ptr<partition_state>> made(ids.size());
  std::mutex m;
  std::optional<std::pair<std::uint64_t, std::string>> failed;
  arena_.execute([&] {
    tbb::parallel_for(std::size_t{0}, ids.size(), [&](std::size_t i) {
      try {
        auto ctx = ctx_for(ids[i], 0);
        made[i] = job_.init(partition_id{ids[i]}, ctx);
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        if (!failed || ids[i] < failed->first) failed = std::make_pair(ids[i], std::string(e.what()));
      }
    });
  });
  int bad = failed ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (failed) throw kernel_error(job_.name(), failed->first, "init: " + failed->second);
  if (any) throw remote_failure("the init of a partition failed on another rank");
  for (std::size_t i = 0; i < ids.size(); ++i) owned_[ids[i]] = std::move(made[i]);
}

run_report iterative_run::report_header() const {
  run_report rep;
  rep.job = job_.name();
  rep.model = model_kind::iterative;
  rep.policy = "contiguous";
  rep.is_scheduler = coordinator_;
  rep.scheduler = setup_.scheduler;
  rep.ranks = ranks_;
  rep.partitions = n_;
  rep.restored_from = restored_from_;
  rep.restored_done = steps_;
  for (const auto& r : job_.reductions()) rep.iterative.reduction_names.push_back(r.name);
  return rep;
}

void iterative_run::step_loop(run_report& rep) {
  std::optional<progress_meter> meter;
  if (coordinator_) meter.emplace("steps", job_.max_steps(), steps_, config_.progress_interval_seconds, config_.quiet);
  recent_.assign(n_ * cost_window, std::numeric_limits<double>::infinity());
  for (std::uint64_t id = 0; id < n_; ++id)
    if (cost_[id] > 0) recent_[id * cost_window] = cost_[id];  // restored from a checkpoint
  const std::size_t nred = job_.reductions().size();
  std::vector<double> contribution, all;
  bool done = steps_ > 0 && job_.done(steps_, red_);
  while (!done) {
    watchdog_.pet("running a step");
    auto tail = exchange_and_step(contribution);
    if (coordinator_ && tail.err == step_tail::ok) decide_boundary(tail);
    tail.put(contribution);
    gather(contribution, all);
    const auto tails = absorb_step(all);
    ++steps_;
    crash_point("step.done");
    if (coordinator_) crash_point("scheduler.commit");
    if (!measured_start_) {
      imbalance_start_ = placement_imbalance(place_, cost_, threads_);
      measured_start_ = true;
    }
    done = job_.done(steps_, red_);
    const auto& ctl = tails[static_cast<std::size_t>(setup_.scheduler.value)];
    if (meter) {
      std::string extra;
      for (std::size_t k = 0; k < nred; ++k) extra += fmt::format("{}{} {:.4g}", k ? ", " : "", rep.iterative.reduction_names[k], red_[k]);
      meter->update(steps_, extra, done);
    }
    if (ctl.control != step_tail::go_on && !done) {
      const bool stop = ctl.control == step_tail::checkpoint_and_stop;
      write_checkpoint_now(stop_reason_.empty() ? "every N steps" : stop_reason_, stop,
                           epoch_t{static_cast<std::uint64_t>(ctl.epoch)});
      if (stop) {
        rep.status = run_status::checkpointed;
        rep.stop_reason = stop_reason_;
        break;
      }
      stop_reason_.clear();
    }
    if (!done) rebalance();
  }
  if (meter) meter->finish();
}

// What every rank does at the end of this step: decided on the coordinator, carried by the reductions' gather.
void iterative_run::decide_boundary(step_tail& tail) {
  std::string why = driver_->stop_signal();
  bool stop = !why.empty();
  if (!stop && driver_->enabled() && driver_->out_of_time()) {
    why = "the wall time runs out";
    stop = true;
  }
  if (!stop) why = driver_->due_now(steps_ + 1);
  if (!why.empty()) {
    tail.control = stop ? step_tail::checkpoint_and_stop : step_tail::checkpoint;
    tail.epoch = static_cast<double>(driver_->next_epoch().value);
    stop_reason_ = why;
  }
}

// The gathered step on every rank: errors first (the lowest rank that saw one speaks for all), then the measured
// costs and the fold of each reduction in partition-id order. Returns every rank's tail.
std::vector<step_tail> iterative_run::absorb_step(const std::vector<double>& all) {
  const std::size_t nred = job_.reductions().size(), per = nred + 1;
  std::vector<step_tail> tails(static_cast<std::size_t>(ranks_));
  std::vector<double> values(n_ * nred);
  std::size_t pos = 0;
  for (int r = 0; r < ranks_; ++r) {
    for (auto id = place_.begin(r); id < place_.end(r); ++id) {
      for (std::size_t k = 0; k < nred; ++k) values[k * n_ + id] = all[pos + k];
      recent_[id * cost_window + steps_ % cost_window] = all[pos + nred];
      cost_[id] = *std::min_element(recent_.begin() + static_cast<std::ptrdiff_t>(id * cost_window),
                                    recent_.begin() + static_cast<std::ptrdiff_t>((id + 1) * cost_window));
      pos += per;
    }
    tails[static_cast<std::size_t>(r)] = step_tail::get(&all[pos]);
    pos += step_tail::size;
  }
  for (int r = 0; r < ranks_; ++r)
    if (tails[static_cast<std::size_t>(r)].err != step_tail::ok) {
      cancel_ = true;
      raise(tails[static_cast<std::size_t>(r)], r);
    }
  for (std::size_t k = 0; k < nred; ++k)
    red_[k] = fold_in_id_order(job_, k, std::span<const double>(values).subspan(k * n_, n_));
  return tails;
}

void iterative_run::conclude(run_report& rep) {
  const std::size_t nred = job_.reductions().size();
  rep.iterative.steps = steps_;
  rep.iterative.steps_run = steps_ - steps_at_start_;
  rep.partitions_run = rep.iterative.steps_run * n_;
  rep.iterative.reduction_values = red_;
  rep.iterative.migrations = migrations_;
  rep.iterative.rebalances = rebalances_;
  rep.iterative.imbalance_start = imbalance_start_;
  rep.iterative.imbalance_end = placement_imbalance(place_, cost_, threads_);
  watchdog_.pet("ending the job (collective)");
  if (rep.status == run_status::completed) {
    auto states = gather_final_states(rep.iterative.state_digest);
    if (coordinator_) job_.conclude(steps_, red_, std::move(states));
  }
  // Per-rank busy time (and with --trace the step slices) to the coordinator for the summary.
  std::vector<rank_trace> traces;
  if (config_.trace) traces = gather_slices();
  const double mine[2] = {busy_, static_cast<double>(overlapped_)};
  std::vector<double> figures(2 * static_cast<std::size_t>(ranks_));
  PARTITA_MPI(MPI_Gather(mine, 2, MPI_DOUBLE, figures.data(), 2, MPI_DOUBLE, setup_.scheduler.value, comm_));
  rep.wall_seconds = since(setup_.t0);
  if (!coordinator_) return;
  std::vector<worker_summary> rows;
  for (int r = 0; r < ranks_; ++r) {
    auto w = worker_row(s_, setup_, r);
    w.busy_seconds = figures[2 * static_cast<std::size_t>(r)];
    rep.iterative.steps_overlapped += static_cast<std::uint64_t>(figures[2 * static_cast<std::size_t>(r) + 1]);
    w.partitions = (place_.end(r) - place_.begin(r));
    rows.push_back(std::move(w));
  }
  add_worker_rows(rep, std::move(rows));
  rep.partitions = n_;
  rep.partitions_run = rep.iterative.steps_run * n_;
  const auto& cs = driver_->stats();
  rep.checkpoints = cs.count;
  rep.checkpoint_seconds = cs.seconds;
  rep.checkpoint_bytes = cs.bytes;
  std::string text = fmt::format("{} steps", steps_);
  for (std::size_t k = 0; k < nred; ++k) text += fmt::format(", {} {}", rep.iterative.reduction_names[k], red_[k]);
  if (!rep.iterative.state_digest.empty()) text += ", state " + rep.iterative.state_digest;
  rep.result_text = text;
  if (config_.trace) write_trace(*config_.trace, job_.name(), traces, events_, setup_.scheduler.value);
}

}  // namespace partita::detail
