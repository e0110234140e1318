#include <partita/jobs/cli_options.hpp>
#include <partita/jobs/options.hpp>

#include <stdlib.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

namespace partita {

namespace {
/// A positive number, with an optional unit: s, m or h (`timed` is set when there is one). Nullopt if it is not.
std::optional<double> positive_amount(const std::string& v, bool& timed) {
  const char unit = v.empty() ? '\0' : v.back();
  const double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
  timed = scale > 0;
  const std::string num = timed ? v.substr(0, v.size() - 1) : v;
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(num, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != num.size() || num.empty() || !(x > 0) || !std::isfinite(x)) return std::nullopt;
  return timed ? x * scale : x;
}
}  // namespace

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
  app.add_option(
         "--prefetch", c.prefetch,
         "chunks a worker rank keeps queued beyond one running per thread (hides the round trip to the scheduler); "
         "more while chunks are shorter than the measured round trip, up to 4x threads+prefetch in flight")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--output-io", c.output_io,
                 "how a map/reduce job's declared output blocks are written: direct (O_DIRECT where the file "
                 "system, the block's place and its buffer allow it: no copy into the page cache; the default) or "
                 "page-cache; either way a block is durable before its partition commits")
      ->transform(CLI::CheckedTransformer(std::map<std::string, output_io>{{"direct", output_io::direct},
                                                                           {"page-cache", output_io::page_cache}}))
      ->type_name("direct|page-cache");
  app.add_option("--max-chunks-per-message", c.max_chunks_per_message,
                 "chunks one work request may carry (0: as many as the worker lacks)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("!--dedicated-scheduler", c.scheduler_runs_partitions,
               "the scheduler rank runs no partitions itself (large jobs)");
  app.add_flag("--speculate,!--no-speculate", c.speculate,
               "near the end of the job, idle workers run a copy of a straggling partition; the first result "
               "is committed, the other dropped (default: on)");
  app.add_flag("--take-back,!--no-take-back", c.take_back,
               "once nothing is left to hand out, an idle worker takes back the back of the partitions another "
               "worker has queued and not started; that worker skips them (default: on; not with --policy static)");
  app.add_option("--speculation-factor", c.speculation_factor,
                 "a partition straggles once outstanding K times its expected time (the median measured "
                 "partition time, plus the mean one per partition queued before it), and at least 0.1 s")
      ->check(CLI::PositiveNumber)
      ->type_name("K")
      ->capture_default_str();
  app.add_option("--scheduler-rank", c.scheduler_rank, "use this rank as the scheduler instead of electing one");
  app.add_option("--scheduler-levels", c.scheduler_levels,
                 "1: every rank talks to the scheduler; 2: a node scheduler per node between them (default: 2 "
                 "from 1024 ranks on)")
      ->check(CLI::Range(1, 2));
  app.add_option("--ranks-per-node", c.ranks_per_node,
                 "for two-level scheduling, count every k consecutive ranks as one node (default: the real nodes)")
      ->check(CLI::PositiveNumber);
  app.add_option("--failure-history", c.failure_history,
                 "the job's failure history (default: <checkpoint-dir>/failure-history): hosts listed there "
                 "are never elected scheduler; its timed events give the mean time to interrupt");
  app.add_option("--heartbeat", c.heartbeat_seconds, "seconds between heartbeats of a silent peer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout", c.timeout_seconds, "seconds of silence after which a peer counts as lost")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag_callback(
      "--failover", [&c] { c.failover = 1; },
      "when the scheduler rank is lost, the survivors elect a new one and the job goes on in the "
      "same run; when any rank of an iterative job is lost, the survivors roll back to the last "
      "checkpoint and go on (default: on under `mpirun --enable-recovery`, which it needs)");
  app.add_flag_callback(
      "--no-failover", [&c] { c.failover = 0; },
      "a lost scheduler (any lost rank of an iterative job) ends the run (non-zero exit; a launcher "
      "relaunches it)");
  app.add_option("--failover-memory", c.failover_memory,
                 "bytes of results a worker keeps for a new scheduler until a checkpoint holds them; beyond, the "
                 "oldest are dropped and would run again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--summary-json", c.summary_json, "write the end-of-job summary as JSON to this file");
  app.add_option("--trace", c.trace, "write a Chrome trace-event timeline (open in Perfetto) to this file");
  app.add_flag("--quiet", c.quiet, "no progress line and no summary text");
  auto* ckpt = app.add_option("--checkpoint-dir", c.checkpoint_dir,
                              "write checkpoints to this folder (and restart from it with --restart auto)");
  ckpt->group("Checkpoints");
  app.add_option("--keep", c.keep, "committed checkpoints to keep per job")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group("Checkpoints");
  app.add_option_function<std::string>(
         "--checkpoint-every",
         [&c](const std::string& v) {
           // "N" partitions or "Ts" seconds (also "Tm", "Th").
           bool timed = false;
           const auto x = positive_amount(v, timed);
           if (!x || (!timed && *x != std::floor(*x)))
             throw CLI::ValidationError(
                 "--checkpoint-every", "'" + v + "' is neither a number of partitions (1000) nor a time (30s, 5m, 1h)");
           if (timed) c.checkpoint_every_seconds = *x;
           else c.checkpoint_every_partitions = static_cast<std::uint64_t>(*x);
         },
         "checkpoint after N more results (steps of an iterative job), e.g. 1000, or every T (e.g. 30s, 5m, 1h)")
      ->type_name("N|T")
      ->group("Checkpoints");
  app.add_option_function<std::string>(
         "--checkpoint-interval",
         [&c](const std::string& v) {
           if (v != "auto")
             throw CLI::ValidationError(
                 "--checkpoint-interval",
                 "only 'auto' (Young/Daly) is supported; for a fixed interval use --checkpoint-every 30s");
           c.checkpoint_interval_auto = true;
         },
         "auto: Young/Daly interval from the measured checkpoint cost and --mtti, clamped to the wall time")
      ->type_name("auto")
      ->group("Checkpoints");
  app.add_option("--mtti", c.mtti_seconds, "mean time to interrupt in seconds, for --checkpoint-interval auto")
      ->check(CLI::PositiveNumber)
      ->group("Checkpoints");
  app.add_option_function<std::string>(
         "--walltime",
         [&c](const std::string& v) {
           bool timed = false;
           const auto x = positive_amount(v, timed);
           if (!x)
             throw CLI::ValidationError("--walltime",
                                        "'" + v + "' is not a time: seconds (3600) or with a unit (90s, 30m, 2h)");
           c.walltime_seconds = *x;
         },
         "how long this run may take, in seconds or with a unit (3600, 90s, 30m, 2h; overrides SLURM_JOB_END_TIME); "
         "the last checkpoint lands before it")
      ->type_name("T")
      ->group("Checkpoints");
  app.add_option(
         "--restart", c.restart,
         "auto: continue from the newest good checkpoint in --checkpoint-dir (fresh if none); or a checkpoint file")
      ->type_name("auto|FILE")
      ->group("Checkpoints");
  app.add_option_function<std::string>(
         "--inject",
         [&c](const std::string& v) {
           c.inject = injected_failure::parse(v);
           if (!c.inject)
             throw CLI::ValidationError("--inject", "'" + v +
                                                        "' is not kill:rank=R:after=K or kill:scheduler:after=K "
                                                        "(R a rank, K >= 1 partitions)");
         },
         "rehearse a failure: kill:rank=R:after=K SIGKILLs rank R after it ran K partitions, "
         "kill:scheduler:after=K the scheduler rank after K results; it fires once per job (the failure history "
         "remembers it, so a relaunch runs to the end); with mpirun --enable-recovery the job survives a lost worker")
      ->type_name("SPEC")
      ->group("Fault injection");
  app.add_option(
         "--rebalance-every", c.rebalance_every_steps,
         "iterative jobs: re-place partitions by their measured step costs every K steps (0: only on imbalance)")
      ->type_name("K")
      ->group("Iterative jobs");
  app.add_option("--imbalance-threshold", c.imbalance_threshold,
                 "iterative jobs: re-place partitions when the measured imbalance (max/mean cost per rank) passes X "
                 "(0: off)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("X")
      ->capture_default_str()
      ->group("Iterative jobs");
  app.add_option("--output", c.output,
                 "iterative jobs: write the final state of every partition to this HDF5 file when the job completes "
                 "(/partitions/<id>/<name>, the checkpoint layout; committed by rename, never half-written)")
      ->type_name("FILE")
      ->group("Iterative jobs");
  app.add_flag("--overwrite-output", c.overwrite_output,
               "replace an --output file that holds another job's output (a file of the same job is replaced anyway)")
      ->group("Iterative jobs");
  app.add_option("--final-gather-limit", c.final_gather_limit,
                 "iterative jobs: bytes of final states the coordinator may gather for a job that keeps them "
                 "(0: no limit); more stops the job with one line before anything is sent")
      ->type_name("BYTES")
      ->group("Iterative jobs");
  app.add_option("--progress-interval", c.progress_interval_seconds,
                 "seconds between progress log lines when stderr is not a terminal")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // Live metrics (docs/metrics.md).
  app.add_option("--metrics-file", c.metrics_file,
                 "the scheduler rank rewrites this file (atomically) with the job's live figures in the Prometheus "
                 "text format, e.g. for a node exporter's textfile collector")
      ->group("Metrics");
  app.add_option("--metrics-port", c.metrics_port,
                 "the scheduler rank serves the same text over HTTP on this port (GET /metrics) while the job runs")
      ->check(CLI::Range(0, 65535))
      ->type_name("P")
      ->group("Metrics");
  app.add_option("--metrics-address", c.metrics_address, "the address --metrics-port listens on")
      ->type_name("A")
      ->capture_default_str()
      ->group("Metrics");
  app.add_option("--metrics-interval", c.metrics_interval_seconds,
                 "seconds between rewrites of --metrics-file (and updates of --metrics-port)")
      ->check(CLI::Range(0.05, 3600.0))
      ->type_name("S")
      ->capture_default_str()
      ->group("Metrics");
}

void add_param_option(CLI::App& app, std::vector<std::string>& items) {
  app.add_option("--param", items, "job parameter key=value (repeatable; `partita jobs` lists them)")->type_name("K=V");
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
    exit_together(exit_usage, fmt::format("{}: error: {}", argv[0], e.what()));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      if (first) app.exit(e);
      std::exit(0);
    }
    exit_together(exit_usage, fmt::format("{}: error: {} (see --help)", argv[0], e.what()));
  }
  return config;
}

}  // namespace partita
