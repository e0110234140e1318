#include <partita/scheduler/iterative/detail/run.hpp>

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <set>

#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/restart.hpp>
#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/progress_meter.hpp>
#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>
#include <partita/scheduler/iterative/driver.hpp>

namespace partita::detail {

iterative_run::iterative_run(session& s, iterative_job_model& job, const run_config& config, const job_setup& setup,
                             stall_watchdog& watchdog, metrics_publisher& metrics)
    : s_(s), job_(job), config_(config), setup_(setup), watchdog_(watchdog), metrics_(metrics), comm_(setup.comm),
      me_(s.rank().value), ranks_(s.size()), n_(job.partition_count()), coordinator_(s.rank() == setup.scheduler),
      arena_(std::max(1, setup.threads_of(s.rank()))), threads_(setup.threads),
      balance_(config.rebalance_every_steps, config.imbalance_threshold), trace_(config.trace.has_value(), setup.t0),
      link_(setup.comm), halos_(nbrs_, s.rank()) {
  for (auto& t : threads_) t = std::max(1, t);
  rank_busy_.assign(static_cast<std::size_t>(ranks_), 0.0);
}

run_report iterative_run::run() {
  check_graph();
  check_output_target();
  start(choose_restart());
  halos_.plan(place_);
  // Every rank writes its partitions into each checkpoint; the coordinator decides when and numbers them.
  checkpoints_ = std::make_unique<step_checkpoints>(s_, config_, setup_, job_.name(), earlier_seconds_, steps_,
                                                    coordinator_ ? checkpoint_role::decides : checkpoint_role::joins);
  auto rep = report_header();
  step_loop(rep);
  conclude(rep);
  if (coordinator_) conclude_metrics(rep);
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
                                      "fix the neighbours function",
                                      job_.name(), p, q.value, n_ - 1));
      if (q.value == p)
        throw usage_error(fmt::format("job '{}': partition {} names itself as a neighbour; fix the neighbours "
                                      "function",
                                      job_.name(), p));
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
                                      "neighbour graph must be symmetric",
                                      job_.name(), p, q.value, q.value, p));
    }
}

std::optional<restart_point> iterative_run::choose_restart() {
  // An unusable --restart FILE must stop every rank: the others wait in start()'s broadcast for the verdict. A
  // restart against a changed input is a usage error, with the same line on every rank.
  std::optional<restart_point> restart;
  std::exception_ptr problem;
  std::string changed;
  if (coordinator_) {
    const checkpoint_expectation expect{job_.name(), params_hash(job_.params(), config_.seed, n_),
                                        iterative_state::model};
    try {
      restart = find_restart(config_, expect);
    } catch (...) {
      problem = std::current_exception();
    }
    if (!restart) changed = changed_input(expect);
  }
  int bad = !changed.empty() ? 2 : problem ? 1 : 0;
  PARTITA_MPI(MPI_Bcast(&bad, 1, MPI_INT, setup_.scheduler.value, comm_));
  if (bad == 2) {
    int len = static_cast<int>(changed.size());
    PARTITA_MPI(MPI_Bcast(&len, 1, MPI_INT, setup_.scheduler.value, comm_));
    changed.resize(static_cast<std::size_t>(len));
    PARTITA_MPI(MPI_Bcast(changed.data(), len, MPI_CHAR, setup_.scheduler.value, comm_));
    throw usage_error(changed);
  }
  if (problem) std::rethrow_exception(problem);
  if (bad) throw remote_failure("the checkpoint to restart from is unusable");
  return restart;
}

// Coordinator, when no checkpoint matched this run's parameters: whether the one it would have continued (--restart
// FILE, or the newest of the job in --checkpoint-dir) was made from another version of an input of the job (its
// "<name>.identity" parameters: file, dataset, shape, size, mtime). Then the refusal; "" otherwise (a change of
// other parameters starts afresh, as before). Reads that file only on this path.
std::string iterative_run::changed_input(const checkpoint_expectation& expect) const {
  const auto& items = job_.params().items();
  const bool has_input = std::any_of(items.begin(), items.end(),
                                     [](const auto& kv) { return kv.first.ends_with(".identity"); });
  if (!has_input || !config_.restart) return {};
  std::filesystem::path file;
  if (*config_.restart != "auto") {
    file = *config_.restart;
  } else {
    const auto newest = newest_epoch(*config_.checkpoint_dir, job_.name());
    if (!newest) return {};
    file = *config_.checkpoint_dir / fmt::format("{}.{}.h5", job_.name(), newest->value);
  }
  std::string what;
  try {
    const auto image = read_checkpoint_any_parameters(file, expect);
    what = changed_identities(iterative_state::from_image(image, file.string(), red_size()).params, job_.params());
  } catch (const error&) {
    return {};  // unreadable: find_restart said why (or passed over it)
  }
  if (what.empty()) return {};
  return fmt::format("job '{}': its input changed since checkpoint {} ({}); restart with the input it was made "
                     "from, or start afresh (another --checkpoint-dir, or no --restart)",
                     job_.name(), file.string(), what);
}

void iterative_run::start(std::optional<restart_point> restart) {
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
    place_ = even_placement(n_, ranks_);
    costs_ = step_costs(n_);
    red_.assign(job_.reductions().size(), 0.0);
    init_owned();
    return;
  }
  checkpoint_image image;
  if (coordinator_) image = std::move(restart->image);
  restore(std::move(image), text);
  if (coordinator_) log().info("restarting job '{}' from {} at step {} on {} ranks", job_.name(), text, steps_, ranks_);
}

// Collective: every rank reads `file` (the coordinator has it in `image` already) and loads its partitions.
void iterative_run::restore(checkpoint_image image, const std::string& file) {
  const checkpoint_expectation expect{job_.name(), params_hash(job_.params(), config_.seed, n_),
                                      iterative_state::model};
  std::exception_ptr problem;
  try {
    if (!coordinator_) image = read_checkpoint(file, expect);
    const auto st = iterative_state::from_image(image, file, job_.reductions().size());
    if (st.partition_count != n_)
      throw checkpoint_error(file, fmt::format("it has {} partitions, the job {}", st.partition_count, n_));
    steps_ = steps_at_start_ = st.steps;
    red_ = st.reductions;
    costs_ = step_costs::restored(st.cost);
    earlier_seconds_ = st.run_seconds;
    place_ = balanced_placement(costs_.per_partition(), threads_);
    for (auto id = owned_begin(); id < owned_end(); ++id) {
      const auto arrays = arrays_of(image, id);
      if (arrays.empty()) throw checkpoint_error(file, fmt::format("partition {} has no saved state", id));
      owned_[id] = job_.load(partition_id{id}, arrays);
    }
  } catch (...) {
    problem = std::current_exception();
  }
  int bad = problem ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (problem) std::rethrow_exception(problem);
  if (any) throw remote_failure("another rank could not restore its partitions");
  restored_from_ = file;
}

void iterative_run::init_owned() {
  std::vector<std::uint64_t> ids;
  for (auto id = owned_begin(); id < owned_end(); ++id) ids.push_back(id);
  std::vector<std::unique_ptr<partition_state>> made(ids.size());
  first_failure failed;
  arena_.execute([&] {
    tbb::parallel_for(std::size_t{0}, ids.size(), [&](std::size_t i) {
      try {
        auto ctx = ctx_for(ids[i], 0);
        made[i] = job_.init(partition_id{ids[i]}, ctx);
      } catch (const std::exception& e) {
        failed.note(ids[i], e.what());
      }
    });
  });
  int bad = failed ? 1 : 0, any = 0;
  PARTITA_MPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_));
  if (failed) throw kernel_error(job_.name(), failed.partition(), "init: " + failed.what());
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
  auto& meter = meter_;
  if (coordinator_) {
    meter.emplace("steps", job_.max_steps(), steps_, config_.progress_interval_seconds, config_.quiet);
    meter->time_samples_from(setup_.t0);
  }
  const std::size_t nred = job_.reductions().size();
  std::vector<double> contribution, all;
  bool done = steps_ > 0 && job_.done(steps_, red_);
  while (!done) {
    watchdog_.pet("running a step");
    auto control = exchange_and_step(contribution);
    // What every rank does at the end of this step: decided on the coordinator, carried by the reductions' gather.
    if (coordinator_ && control.error == step_error::none) checkpoints_->decide(control, steps_ + 1);
    put_step_control(control, contribution);
    gather(contribution, all);
    const auto controls = absorb_step(all);
    ++steps_;
    crash_point("step.done");
    if (coordinator_) crash_point("scheduler.commit");
    if (!imbalance_start_) imbalance_start_ = placement_imbalance(place_, costs_.per_partition(), threads_);
    done = job_.done(steps_, red_);
    const auto& decided = controls[static_cast<std::size_t>(setup_.scheduler.value)];
    if (meter) {
      std::string extra;
      for (std::size_t k = 0; k < nred; ++k)
        extra += fmt::format("{}{} {:.4g}", k ? ", " : "", rep.iterative.reduction_names[k], red_[k]);
      meter->update(steps_, extra, done);
      if (const auto now = clock::now(); metrics_.due(now)) metrics_.publish(live_metrics(now), now);
    }
    if (decided.action != boundary_action::go_on && !done) {
      write_checkpoint(decided);
      if (decided.action == boundary_action::checkpoint_and_stop) {
        rep.status = run_status::checkpointed;
        rep.stop_reason = checkpoints_->reason();
        break;
      }
    }
    if (!done) rebalance();
  }
  if (meter) meter->finish();
}

// The gathered step on every rank: errors first (the lowest rank that saw one speaks for all), then the measured
// costs and the fold of each reduction in partition-id order. Returns every rank's step control.
std::vector<step_control> iterative_run::absorb_step(const std::vector<double>& all) {
  const std::size_t nred = job_.reductions().size(), per = nred + 1;
  std::vector<step_control> controls(static_cast<std::size_t>(ranks_));
  std::vector<double> values(n_ * nred);
  std::size_t pos = 0;
  double max_per_thread = 0, sum_per_thread = 0;
  for (int r = 0; r < ranks_; ++r) {
    double step_busy = 0;
    for (auto id = place_.begin(r); id < place_.end(r); ++id) {
      for (std::size_t k = 0; k < nred; ++k) values[k * n_ + id] = all[pos + k];
      costs_.record(id, steps_, all[pos + nred]);
      step_busy += all[pos + nred];
      pos += per;
    }
    rank_busy_[static_cast<std::size_t>(r)] += step_busy;
    const double per_thread = step_busy / threads_[static_cast<std::size_t>(r)];
    max_per_thread = std::max(max_per_thread, per_thread);
    sum_per_thread += per_thread;
    controls[static_cast<std::size_t>(r)] = get_step_control(std::span<const double>(all).subspan(pos));
    pos += step_control::doubles;
  }
  for (int r = 0; r < ranks_; ++r)
    if (controls[static_cast<std::size_t>(r)].error != step_error::none) {
      cancel_ = true;
      raise(controls[static_cast<std::size_t>(r)], r);
    }
  for (std::size_t k = 0; k < nred; ++k)
    red_[k] = fold_in_id_order(job_, k, std::span<const double>(values).subspan(k * n_, n_));
  if (coordinator_) note_step_imbalance(sum_per_thread > 0 ? max_per_thread * ranks_ / sum_per_thread : 1.0);
  return controls;
}

// Every step_stride_-th step of this run; at 1024 values every other one is dropped and the stride doubles.
void iterative_run::note_step_imbalance(double imbalance) {
  const auto index = steps_ - steps_at_start_;  // this step's index in the run (steps_ is not counted up yet)
  if (index % step_stride_ != 0) return;
  if (step_imbalance_.size() >= 1024) {
    for (std::size_t i = 1; 2 * i < step_imbalance_.size(); ++i) step_imbalance_[i] = step_imbalance_[2 * i];
    step_imbalance_.resize(step_imbalance_.size() / 2);
    step_stride_ *= 2;
    if (index % step_stride_ != 0) return;
  }
  step_imbalance_.push_back(imbalance);
}

void iterative_run::conclude(run_report& rep) {
  const std::size_t nred = job_.reductions().size();
  rep.iterative.steps = steps_;
  rep.iterative.steps_run = steps_ - steps_at_start_;
  rep.partitions_run = rep.iterative.steps_run * n_;
  rep.iterative.reduction_values = red_;
  rep.iterative.migrations = balance_.migrations();
  rep.iterative.rebalances = balance_.rebalances();
  rep.iterative.imbalance_start = imbalance_start_.value_or(1);
  rep.iterative.imbalance_end = placement_imbalance(place_, costs_.per_partition(), threads_);
  watchdog_.pet("ending the job (collective)");
  if (rep.status == run_status::completed) {
    // The final states stay where they are unless the job keeps them: what the coordinator gets fits one rank at
    // any scale (docs/design.md, "Iterative output"). A gather that would not fit fails before the output is
    // written, so a FILE exists only after a run that succeeded.
    bytes kept;
    if (job_.keeps_final_states()) {
      kept = encode_final_states();
      check_final_gather(kept);
    }
    if (config_.output) write_output_file();
    rep.iterative.state_digest = final_digest();
    std::vector<std::unique_ptr<partition_state>> states;
    if (job_.keeps_final_states()) states = gather_final_states(kept);
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
  rep.progress = meter_->samples();
  rep.events = checkpoints_->events();
  rep.events.insert(rep.events.end(), rebalances_.begin(), rebalances_.end());
  std::stable_sort(rep.events.begin(), rep.events.end(),
                   [](const run_event& a, const run_event& b) { return a.at_seconds < b.at_seconds; });
  rep.iterative.step_imbalance = step_imbalance_;
  rep.iterative.step_imbalance_stride = step_stride_;
  const auto& cs = checkpoints_->stats();
  rep.checkpoints = cs.count;
  rep.checkpoint_seconds = cs.seconds;
  rep.checkpoint_bytes = cs.bytes;
  if (output_) {
    rep.iterative.output_file = output_->file.string();
    rep.iterative.output_bytes = output_->bytes;
    rep.iterative.output_seconds = output_->seconds;
  }
  std::string text = fmt::format("{} steps", steps_);
  for (std::size_t k = 0; k < nred; ++k) text += fmt::format(", {} {}", rep.iterative.reduction_names[k], red_[k]);
  if (!rep.iterative.state_digest.empty()) text += ", state " + rep.iterative.state_digest;
  rep.result_text = text;
  if (config_.trace) write_trace(*config_.trace, job_.name(), traces, trace_.events(), setup_.scheduler.value);
}

// The figures --metrics-file shows after a step: the progress line's, each rank's kernel seconds from the gathered
// step costs, migrations and checkpoints so far (docs/metrics.md).
metrics_snapshot iterative_run::live_metrics(clock::time_point now) const {
  metrics_snapshot m;
  m.unit = meter_->unit();
  m.done = steps_;
  m.total = meter_->total();
  const auto f = meter_->figures(steps_, now);
  m.elapsed_seconds = f.elapsed_seconds;
  m.rate_per_second = f.rate_per_second;
  m.eta_seconds = f.eta_seconds;
  m.ranks.resize(static_cast<std::size_t>(ranks_));
  for (std::size_t r = 0; r < m.ranks.size(); ++r) {
    m.ranks[r].threads = threads_[r];
    m.ranks[r].busy_seconds = rank_busy_[r];
  }
  m.migrations = balance_.migrations();
  const auto cs = checkpoints_->stats();
  m.checkpoints = cs.count;
  m.checkpoint_seconds = cs.seconds;
  m.checkpoint_bytes = cs.bytes;
  return m;
}

void iterative_run::conclude_metrics(const run_report& rep) {
  auto last = live_metrics(clock::now());
  add_final_figures(last, rep);  // the rollbacks before this attempt: metrics_ carries them
  // A job that converged before its maximum steps is done: its size is the steps it took (done == total).
  if (rep.status == run_status::completed) last.total = last.done;
  metrics_.conclude(std::move(last));
}

}  // namespace partita::detail
