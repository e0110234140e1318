#include <partita/scheduler/iterative/driver.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/iterative/detail/recovery.hpp>
#include <partita/scheduler/iterative/detail/run.hpp>

namespace partita {

using detail::clock;
using detail::since;

std::span<const double> halo_view::from(partition_id from) const {
  for (const auto& [id, data] : entries_)
    if (id == from) return data;
  throw usage_error(fmt::format("partition {} is not a neighbour: a step can read halos of its neighbours only",
                                from.value));
}

double fold_in_id_order(const iterative_job_model& model, std::size_t k, std::span<const double> values) {
  if (values.empty()) return 0;
  double acc = values[0];
  for (std::size_t i = 1; i < values.size(); ++i) acc = model.combine(k, acc, values[i]);
  return acc;
}

run_report run_iterative(session& s, iterative_job_model& job, const run_config& config) {
  detail::check_run_config(config, model_kind::iterative);
  if (job.partition_count() == 0) throw usage_error("job '" + job.name() + "' has no partitions");
  // Under in-job recovery a lost rank does not end the run: the survivors agree on who is left, form a
  // communicator of their own and go on from the last checkpoint (docs/design.md, "In-job rollback").
  const auto t0 = clock::now();
  run_config attempt = config;
  std::vector<rollback_summary> rollbacks;
  detail::checkpoint_stats earlier;  // written by this rank as the coordinator of attempts that ended in a rollback
  // Every rank keeps one: the coordinator of the last attempt writes the metrics, whoever it is.
  detail::metrics_publisher metrics(
      config, {job.name(), "iterative",
               detail::hash_label(detail::params_hash(job.params(), config.seed, job.partition_count()))});
  for (;;) {
    detail::job_comm comm(s.comm());
    auto setup = detail::set_up(s, attempt, comm.get());
    setup.t0 = t0;  // the summary's wall time covers every attempt
    if (rollbacks.empty()) detail::arm_injection(s, config, setup, "step.done");
    // As for map/reduce failover, but not limited to one scheduler level: an iterative job has no node schedulers.
    const bool recover = s.size() > 1 && detail::in_job_recovery(config);
    // The loop's limit outlasts the survivors' agreement (two windows); a collective write's is two windows.
    detail::stall_watchdog watchdog(3 * config.timeout_seconds + 10, 2 * config.timeout_seconds, recover);
    detail::iterative_run runner(s, job, attempt, setup, watchdog, metrics);
    const auto note_start = [&] {
      if (rollbacks.empty()) return;
      rollbacks.back().from_step = runner.started_at();
      rollbacks.back().checkpoint = runner.restored_from();
    };
    try {
      auto rep = runner.run();
      note_start();
      rep.iterative.rollbacks = std::move(rollbacks);
      if (rep.is_scheduler) {
        rep.checkpoints += earlier.count;
        rep.checkpoint_seconds += earlier.seconds;
        rep.checkpoint_bytes += earlier.bytes;
      }
      return rep;
    } catch (const detail::peer_silent& e) {
      if (!recover) {
        metrics.fail();
        throw;
      }
      note_start();
      earlier += runner.checkpoints_written();
      rollback_summary r;
      r.noticed_at_seconds = since(t0);
      r.lost_at_step = e.step();
      r.ranks_before = s.size();
      log().warn("{}; rolling back in this run: the survivors agree on who is left ({:.0f} s at most)", e.what(),
                 2 * config.timeout_seconds);
      watchdog.pet("agreeing on the surviving ranks");
      const auto who = detail::agree_on_survivors(comm.get(), config.timeout_seconds);
      comm.abandon();
      if (who.ranks.empty()) return detail::left_job_report(job.name());
      if (who.ranks.front() == s.rank().value)
        for (int lost : who.lost) detail::record_lost_rank(s, config, job.name(), lost);
      // Reported as the launch numbers them: after a first rollback the survivors are renumbered.
      for (int lost : who.lost) r.lost_ranks.push_back(s.launch_rank(lost));
      watchdog.pet("forming a communicator of the survivors");
      s.continue_with(who.ranks);
      r.ranks_after = s.size();
      r.resumed_at_seconds = since(t0);
      if (s.rank().value == 0)
        log().warn("in-job rollback: rank(s) {} lost after step {}; {} of {} ranks go on from {}",
                   fmt::join(r.lost_ranks, ", "), r.lost_at_step, r.ranks_after, r.ranks_before,
                   config.checkpoint_dir ? "the last checkpoint" : (config.restart ? *config.restart : "the start"));
      if (config.checkpoint_dir) attempt.restart = "auto";
      if (config.inject) arm_crash_point("");  // --inject fires once per job: a survivor must not fire it again
      metrics.note_rollback(r.lost_ranks.size());
      rollbacks.push_back(std::move(r));
    } catch (...) {
      metrics.fail();  // on the coordinator that wrote them: state failed
      throw;
    }
  }
}

}  // namespace partita
