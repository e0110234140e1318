#include <partita/scheduler/map_reduce/detail/output_start.hpp>

#include <cstdint>
#include <string>

#include <partita/runtime/error.hpp>

namespace partita::detail {

void start_output(const session& s, map_job_model& job, const run_config& config, const job_setup& setup) {
  if (!job.has_output()) return;
  // status: 0 ready (offset), 1 refused (usage), 2 failed; the text says why.
  std::uint64_t answer[2] = {0, 0};
  std::string text;
  if (s.rank() == setup.scheduler) {
    try {
      const auto hash = params_hash(job.params(), config.seed, job.partition_count());
      answer[1] = job.prepare_output(hash, config.restart.has_value(), config.overwrite_output);
    } catch (const usage_error& e) {
      answer[0] = 1;
      text = e.what();
    } catch (const std::exception& e) {
      answer[0] = 2;
      text = e.what();
    }
  }
  PARTITA_MPI(MPI_Bcast(answer, 2, MPI_UINT64_T, setup.scheduler.value, setup.comm));
  if (answer[0] != 0) {
    int len = static_cast<int>(text.size());
    PARTITA_MPI(MPI_Bcast(&len, 1, MPI_INT, setup.scheduler.value, setup.comm));
    text.resize(static_cast<std::size_t>(len));
    PARTITA_MPI(MPI_Bcast(text.data(), len, MPI_CHAR, setup.scheduler.value, setup.comm));
    if (answer[0] == 1) throw usage_error(text);
    error e(text);
    if (s.rank() != setup.scheduler) e.mark_reported();  // said once, by the scheduler
    throw e;
  }
  job.open_output(answer[1], config.output_io);
}

}  // namespace partita::detail
