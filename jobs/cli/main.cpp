// The `partita` command: list, run, inspect and verify jobs; draw a run's report.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include <partita/checkpoint/h5_dataset.hpp>
#include <partita/checkpoint/output_check.hpp>
#include <partita/checkpoint/verify.hpp>
#include <partita/jobs/cli_options.hpp>
#include <partita/jobs/conclude_run.hpp>
#include <partita/jobs/options.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/jobs/report.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/iterative/driver.hpp>
#include <partita/scheduler/map_reduce/driver.hpp>

namespace {

using namespace partita;

void list_jobs(const job_registry& reg) {
  for (const auto& j : reg.all()) {
    std::printf("%-12s %-11s %s\n", j.name.c_str(), model_name(j.model()), j.description.c_str());
    for (const auto& p : j.params)
      std::printf("    --param %s=%s%*s %s\n", p.name.c_str(), p.default_value.c_str(),
                  static_cast<int>(std::max<std::size_t>(0, 24 - p.name.size() - p.default_value.size())), "",
                  p.help.c_str());
  }
}

/// Runs one model's job on every rank: a map/reduce or an iterative one.
run_report run_built(session& s, const built_job& job, const run_config& config) {
  if (const auto* iterative = std::get_if<std::unique_ptr<iterative_job_model>>(&job))
    return run_iterative(s, **iterative, config);
  return run_map_reduce(s, *std::get<std::unique_ptr<map_job_model>>(job), config);
}

int run_job(int argc, char** argv, const std::string& name, const std::vector<std::string>& items,
            const run_config& config) {
  const auto& reg = builtin_jobs();
  parameters params;
  built_job job;
  try {
    // Bad parameters are found before MPI starts: one message, exit code 2, no MPI start-up cost.
    params = reg.effective_parameters(name, parameters::parse(items));
    job = reg.find(name)->build(params);
  } catch (const usage_error& e) {
    exit_together(exit_usage, fmt::format("partita: error: {}", e.what()));
  }
  session s(argc, argv);
  run_report report;
  return conclude_run(
      s, {"partita", config, stdout}, [&]() -> const run_report& { return report = run_built(s, job, config); },
      [&] {
        // Only a map/reduce job has write_output: an iterative one writes its outputs (e.g. heat's image) itself.
        const auto* factory = std::get_if<map_reduce_factory>(&reg.find(name)->factory);
        if (factory && factory->write_output) factory->write_output(report.result, params);
      });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("partita: distributed compute jobs on MPI ranks and TBB threads, balanced and checkpointed.\n"
               "Run under mpirun or srun, e.g.  mpirun -n 4 partita run pi");
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");

  auto* jobs_cmd = app.add_subcommand("jobs", "list the registered jobs and their parameters");

  auto* run_cmd = app.add_subcommand("run", "run a registered job (collective: start it on every rank)");
  std::string job_name;
  std::vector<std::string> items;
  run_config config;
  run_cmd->add_option("job", job_name, "the job's name (see `partita jobs`)")->required();
  add_run_options(*run_cmd, config);
  add_param_option(*run_cmd, items);

  std::string file;
  auto* inspect_cmd = app.add_subcommand(
      "inspect", "summarise a checkpoint (job, epoch, progress, sizes, cost model) or a map/reduce output file (job, "
                 "dataset, shape, type, blocks committed)");
  inspect_cmd->add_option("file", file, "a checkpoint <job>.<epoch>.h5, an --output file or a job's output file")
      ->required();
  auto* verify_cmd = app.add_subcommand(
      "verify", "recompute the checksums of a checkpoint, an iterative --output file (every dataset) or a map/reduce "
                "output file (every committed block); exit 0 if good and complete, 1 if not");
  verify_cmd->add_option("file", file, "a checkpoint <job>.<epoch>.h5, an --output file or a job's output file")
      ->required();

  // partita make-input: a deterministic float64 test dataset for the data path (no MPI).
  struct {
    std::string file, dataset = "/x";
    std::uint64_t rows = 0, cols = 1, chunk_rows = 0, seed = 1;
  } input;
  auto* make_input_cmd = app.add_subcommand(
      "make-input",
      "write a deterministic float64 test dataset (rows x cols, values in [0, 1) from a hash of the seed)");
  make_input_cmd->add_option("file", input.file, "the HDF5 file to create (replaced if it exists)")->required();
  make_input_cmd->add_option("--dataset", input.dataset, "the dataset's path")->capture_default_str();
  make_input_cmd->add_option("--rows", input.rows, "rows (the first axis)")->required();
  make_input_cmd->add_option("--cols", input.cols, "columns")->capture_default_str();
  make_input_cmd->add_option("--chunk-rows", input.chunk_rows, "rows per chunk (0: a contiguous dataset)")
      ->capture_default_str();
  make_input_cmd->add_option("--seed", input.seed, "the values' seed")->capture_default_str();

  // partita report (docs/report.md): no MPI.
  partita::report_options report;
  auto* report_cmd = app.add_subcommand("report", "draw a run's summary and trace as one self-contained HTML page");
  report_cmd->add_option("summary", report.summary, "the run's --summary-json file")->required();
  report_cmd->add_option("--trace", report.trace, "the same run's --trace file (timeline, partition times)");
  report_cmd->add_option("--failure-history", report.failure_history, "the job's failure history file");
  report_cmd->add_option("--compare", report.compare, "another run's --summary-json, shown side by side");
  report_cmd->add_option("--compare-trace", report.compare_trace, "that run's --trace file");
  report_cmd->add_option("-o,--output", report.output, "the page to write")->capture_default_str();

  const bool first = partita::launcher_rank_hint() == 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      if (first) app.exit(e);
      return 0;
    }
    partita::exit_together(partita::exit_usage, fmt::format("partita: error: {} (see partita --help)", e.what()));
  }

  if (*jobs_cmd) {
    if (first) list_jobs(partita::builtin_jobs());
    return 0;
  }
  // A subcommand that runs on one process: a usage error exits 2, any other error 1, each in one line.
  const auto one_process = [](const auto& f) {
    try {
      f();
    } catch (const partita::usage_error& e) {
      std::fprintf(stderr, "partita: error: %s\n", e.what());
      return partita::exit_usage;
    } catch (const partita::error& e) {
      std::fprintf(stderr, "partita: error: %s\n", e.what());
      return partita::exit_failure;
    }
    return 0;
  };
  if (*make_input_cmd) {
    if (const int rc = one_process([&] {
          partita::write_test_dataset(input.file, input.dataset, input.rows, input.cols, input.chunk_rows, input.seed);
        }))
      return rc;
    std::printf("wrote %s:%s (%llu x %llu float64, %s)\n", input.file.c_str(), input.dataset.c_str(),
                static_cast<unsigned long long>(input.rows), static_cast<unsigned long long>(input.cols),
                input.chunk_rows > 0 ? fmt::format("chunks of {} rows", input.chunk_rows).c_str() : "contiguous");
    return 0;
  }
  if (*report_cmd) {
    if (const int rc = one_process([&] { partita::write_report(report); })) return rc;
    std::printf("wrote %s\n", report.output.string().c_str());
    return 0;
  }
  if (*inspect_cmd) {
    const bool output = partita::is_block_output_file(file);
    std::fputs((output ? partita::inspect_output(file) : partita::inspect_checkpoint(file)).c_str(), stdout);
    return 0;
  }
  if (*verify_cmd) {
    // A map/reduce job's output file has its own record (committed blocks and their CRC-32s); everything else is
    // read as the checkpoint layout (checkpoints and iterative --output files), or says why it cannot be.
    if (partita::is_block_output_file(file)) {
      const auto r = partita::verify_output(file);
      std::printf("%s: %s\n", file.c_str(), r.line().c_str());
      return r.ok() ? 0 : 1;
    }
    const auto r = partita::verify_checkpoint(file);
    if (r.ok) {
      // An iterative --output file is in the checkpoint layout (epoch 0; checkpoints count from 1) and committed the
      // same way, whole by rename and only once the job completed: the same check covers it, and the line says which.
      const std::string
          what = r.epoch == 0
                     ? fmt::format("iterative --output of job '{}' at step {}, written only when the job completed",
                                   r.job, r.step)
                     : fmt::format("checkpoint of job '{}' ({}), epoch {}{}", r.job, r.model, r.epoch,
                                   r.model == "iterative" ? fmt::format(", step {}", r.step) : std::string());
      std::printf("%s: OK (%zu datasets verified, every dataset's CRC-32: %s)\n", file.c_str(), r.datasets_checked,
                  what.c_str());
      return 0;
    }
    // A file that is there but not a checkpoint as a whole: say that it is not an output file either.
    std::error_code ec;
    const bool there = std::filesystem::is_regular_file(file, ec);
    std::printf("%s: BAD: %s: %s%s\n", file.c_str(), r.first_bad.c_str(), r.problem.c_str(),
                there && r.first_bad == file ? " (nor a map/reduce output file: no partita_job attribute)" : "");
    return 1;
  }
  return run_job(argc, argv, job_name, items, config);
}
