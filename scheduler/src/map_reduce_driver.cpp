#include <partita/scheduler/map_reduce_driver.hpp>

#include <partita/scheduler/detail/job_setup.hpp>
#include <partita/scheduler/detail/map_reduce_scheduler.hpp>
#include <partita/scheduler/detail/map_reduce_worker.hpp>
#include <partita/scheduler/detail/node_scheduler.hpp>

namespace partita {

run_report run_map_reduce(session& s, map_job_model& job, const run_config& config) {
  detail::check_run_config(config);  // the same verdict on every rank, before anyone waits on anyone
  detail::job_comm comm(s.comm());
  const auto setup = detail::set_up(s, config, comm.get());
  detail::arm_injection(s, config, setup);
  if (s.rank() == setup.scheduler) return detail::map_reduce_scheduler(s, job, config, setup).run();
  if (setup.tree.is_node_scheduler(s.rank().value)) return detail::node_scheduler(s, job, config, setup).run();
  return detail::map_reduce_worker(s, job, config, setup).run();
}

}  // namespace partita
