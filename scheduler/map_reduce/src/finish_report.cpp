#include <partita/scheduler/map_reduce/detail/finish_report.hpp>

namespace partita::detail {

run_report report_from_finish(finish_msg fin, const map_job_model& job, const run_config& config, rank_t scheduler,
                              int ranks) {
  run_report rep;
  rep.result = std::move(fin.accumulator);
  rep.status = fin.status == finish_status::completed ? run_status::completed : run_status::checkpointed;
  rep.job = job.name();
  rep.policy = config.policy;
  rep.scheduler = scheduler;
  rep.ranks = ranks;
  rep.partitions = job.partition_count();
  rep.result_text = rep.status == run_status::completed ? job.describe(rep.result) : "(incomplete)";
  return rep;
}

}  // namespace partita::detail
