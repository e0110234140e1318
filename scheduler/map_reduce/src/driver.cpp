#include <partita/scheduler/map_reduce/driver.hpp>

#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/map_reduce/detail/input_check.hpp>
#include <partita/scheduler/map_reduce/detail/node_scheduler.hpp>
#include <partita/scheduler/map_reduce/detail/output_start.hpp>
#include <partita/scheduler/map_reduce/detail/scheduler.hpp>
#include <partita/scheduler/map_reduce/detail/worker.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

namespace partita {

run_report run_map_reduce(session& s, map_job_model& job, const run_config& config) {
  // The same verdict on every rank, before anyone waits on anyone.
  make_policy(config.policy);  // a bad policy is a usage error
  detail::check_run_config(config, model_kind::map_reduce);
  detail::refuse_changed_input(job, config);
  detail::job_comm comm(s.comm());
  const auto setup = detail::set_up(s, config, comm.get());
  detail::start_output(s, job, config, setup);
  detail::arm_injection(s, config, setup);
  if (s.rank() == setup.scheduler) return detail::map_reduce_scheduler(s, job, config, setup).run();
  if (setup.tree.is_node_scheduler(s.rank().value)) return detail::node_scheduler(s, job, config, setup).run();
  // A worker may have to take over as the scheduler (failover under mpirun --enable-recovery).
  std::optional<detail::takeover_input> takeover;
  {
    detail::map_reduce_worker worker(s, job, config, setup);
    if (auto report = worker.run()) return *report;
    takeover = worker.hand_over();
  }
  auto as_scheduler = setup;
  as_scheduler.scheduler = s.rank();
  as_scheduler.tree = detail::scheduler_tree::flat(s.size(), s.rank());  // failover runs with one level only
  for (std::size_t r = 0; r < takeover->excluded.size(); ++r)
    if (takeover->excluded[r]) as_scheduler.threads[r] = 0;  // lost: never assigned work again
  return detail::map_reduce_scheduler(s, job, config, as_scheduler, std::move(*takeover)).run();
}

}  // namespace partita
