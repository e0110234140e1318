#include <partita/jobs/options.hpp>

#include <cstdio>
#include <cstdlib>

#include <partita/runtime/error.hpp>
#include <partita/runtime/launch_env.hpp>
#include <partita/scheduler/policy.hpp>

namespace partita {

void add_run_options(CLI::App& app, run_config& c) {
  std::string policies;
  for (const auto& p : policy_names()) policies += "\n  " + p + ": " + std::string(policy_description(p));
  app.add_option("--policy", c.policy, "scheduling policy:" + policies)
      ->check(CLI::IsMember(policy_names()))
      ->capture_default_str();
  app.add_option("--threads", c.threads, "threads per rank (0: SLURM_CPUS_PER_TASK or the CPU affinity mask)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", c.seed, "seed of the per-partition random streams")->capture_default_str();
  app.add_option("--chunk", c.chunk, "partitions per chunk for dynamic, a floor for other policies (0: measured)")
      ->capture_default_str();
  app.add_option("--prefetch", c.prefetch, "chunks a worker rank keeps queued beyond one running per thread (hides the round trip to the scheduler)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-chunks-per-message", c.max_chunks_per_message,
                 "chunks one work request may carry (0: as many as the worker lacks)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("!--dedicated-scheduler", c.scheduler_runs_partitions,
               "the scheduler rank runs no partitions itself (large jobs)");
  app.add_option("--scheduler-rank", c.scheduler_rank, "use this rank as the scheduler instead of electing one");
  app.add_option("--failure-history", c.failure_history,
                 "file of suspect hosts (one per line); they are never elected scheduler");
  app.add_option("--heartbeat", c.heartbeat_seconds, "seconds between heartbeats of a silent peer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout", c.timeout_seconds, "seconds of silence after which a peer counts as lost")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--summary-json", c.summary_json, "write the end-of-job summary as JSON to this file");
  app.add_option("--trace", c.trace, "write a Chrome trace-event timeline (open in Perfetto) to this file");
  app.add_flag("--quiet", c.quiet, "no progress line and no summary text");
  app.add_option("--progress-interval", c.progress_interval_seconds,
                 "seconds between progress log lines when stderr is not a terminal")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void add_param_option(CLI::App& app, std::vector<std::string>& items) {
  app.add_option("--param", items, "job parameter key=value (repeatable; `partita jobs` lists them)")
      ->type_name("K=V");
}

run_config parse_run_config(int argc, char** argv, const std::string& description, parameters* params) {
  CLI::App app(description);
  run_config config;
  std::vector<std::string> items;
  add_run_options(app, config);
  if (params) add_param_option(app, items);
  const bool first = launcher_rank_hint() == 0;
  try {
    app.parse(argc, argv);
    if (params) *params = parameters::parse(items);
  } catch (const usage_error& e) {
    if (first) std::fprintf(stderr, "%s: error: %s\n", argv[0], e.what());
    std::exit(exit_usage);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      if (first) app.exit(e);
      std::exit(0);
    }
    if (first) std::fprintf(stderr, "%s: error: %s (see --help)\n", argv[0], e.what());
    std::exit(exit_usage);
  }
  return config;
}

}  // namespace partita
