#include <partita/jobs/conclude_run.hpp>

#include <fstream>

#include <partita/jobs/options.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

namespace {

/// The scheduler rank's account of a run that returned: the summary text to `summary_to` (unless --quiet),
/// --summary-json, and for a stopped run a line saying how to finish it. Returns the exit code (0 completed, 75
/// checkpointed and stopped). Throws error if the summary cannot be written.
int summarise(const run_report& report, const run_config& config, std::FILE* summary_to) {
  if (!config.quiet) std::fputs(report.to_text().c_str(), summary_to);
  std::fflush(summary_to);
  if (config.summary_json) {
    std::ofstream out(*config.summary_json);
    out << report.to_json() << '\n';
    if (!out) throw error("cannot write the summary to " + config.summary_json->string());
  }
  if (report.status == run_status::completed) return 0;
  log().warn("job '{}' checkpointed and stopped ({}): relaunch it with --restart auto to finish", report.job,
             report.stop_reason);
  return exit_checkpointed;
}

}  // namespace

int exit_code_of_current_exception(std::string_view program, rank_t rank) noexcept {
  try {
    throw;
  } catch (const usage_error& e) {
    if (rank.value == 0 && !e.reported())
      std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    if (rank.value == 0) record_exit_status(exit_usage);  // the launcher must not relaunch a usage error
    return exit_usage;
  } catch (const job_stopped& e) {
    if (!e.reported()) std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return exit_checkpointed;
  } catch (const error& e) {
    if (!e.reported())
      std::fprintf(stderr, "%.*s: error on rank %d: %s\n", static_cast<int>(program.size()), program.data(), rank.value,
                   e.what());
    return exit_failure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: error on rank %d: %s\n", static_cast<int>(program.size()), program.data(), rank.value,
                 e.what());
    return exit_failure;
  } catch (...) {
    std::fprintf(stderr, "%.*s: error on rank %d: an unknown exception\n", static_cast<int>(program.size()),
                 program.data(), rank.value);
    return exit_failure;
  }
}

int conclude_run(session& s, const conclusion& how, const std::function<const run_report&()>& run,
                 const std::function<void()>& on_completed) noexcept {
  int code = 0;
  try {
    const run_report& report = run();
    if (!report.is_scheduler) {
      code = report.status == run_status::completed ? 0 : exit_checkpointed;
    } else {
      code = summarise(report, how.config, how.summary_to);
      if (code == 0) on_completed();
      std::fflush(stdout);
      record_exit_status(code);  // the job's own word for the launcher (PARTITA_STATUS_FILE)
    }
  } catch (...) {
    code = exit_code_of_current_exception(how.program, s.rank());
  }
  s.set_exit_code(code);
  return code;
}

}  // namespace partita
