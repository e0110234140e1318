#include <partita/jobs/program.hpp>

#include <fstream>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

int exit_code_of_current_exception(std::string_view program, rank_t rank) noexcept {
  try {
    throw;
  } catch (const usage_error& e) {
    if (rank.value == 0 && !e.reported()) std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(program.size()), program.data(), e.what());
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

int conclude_run(const run_report& report, const run_config& config, std::FILE* summary_to) {
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

program::parsed program::parse(int argc, char** argv, const std::string& description) {
  int split = argc;  // words after "--" are the program's own
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
  parsed p;
  p.config = parse_run_config(split, argv, description, &p.params);
  for (int i = split + 1; i < argc; ++i) p.args.emplace_back(argv[i]);
  return p;
}

program::program(int& argc, char**& argv, std::string description)
    : name_(argc > 0 ? argv[0] : "partita-program"), parsed_(parse(argc, argv, description)), session_(argc, argv) {
  if (auto slash = name_.rfind('/'); slash != std::string::npos) name_ = name_.substr(slash + 1);
}

}  // namespace partita
