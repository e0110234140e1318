// partita_simulate: predicts a Partita job at sizes that cannot be run here (10^3-10^5 ranks) by running the
// scheduler protocol on SimGrid, with Partita's own dispatcher and policies, calibrated by bench_calibrate.
//
//   partita_simulate --ranks 10000 --threads 1 --levels 2 --partitions-per-thread 20 --median-us 10000
//                    --calibration calibration.txt [--json out.json]
//
// Prints the prediction as key=value lines (makespan, lower bound, root busy fraction, dispatch rate, ...).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simgrid/s4u.hpp>

#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/scheduler/parameters.hpp>

#include "calibration.hpp"
#include "cluster_platform.hpp"
#include "model.hpp"

namespace sim = partita::simulate;

namespace {

struct cli {
  sim::model_options model;
  std::string dist = "lognormal";
  double median_us = 1000;
  double sigma = 1.0;
  std::uint64_t cost_seed = 1;
  std::uint64_t per_thread = 0;  // --partitions-per-thread (0: --partitions)
  std::string calibration_file;
  std::string costs_file;  // --costs: measured seconds per partition, one a line (replaces the draws)
  std::string platform;
  std::string write_platform;
  std::string json;
  int cores = 32;
};

const char* usage =
    "usage: partita_simulate [--ranks N] [--threads T] [--levels 1|2] [--ranks-per-node K]\n"
    "  [--partitions N | --partitions-per-thread N] [--dist lognormal|uniform|bimodal|constant] [--median-us U]\n"
    "  [--sigma S] [--cost-seed S] [--costs FILE] [--policy P] [--chunk C] [--prefetch P] [--dedicated-scheduler] "
    "[--no-speculate] [--no-take-back] [--no-node-fold]\n"
    "  [--calibration FILE] [--platform FILE.xml | --cores C] [--write-platform FILE.xml] [--json FILE]\n";

cli parse(int argc, char** argv) {
  cli c;
  c.model.partitions = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto text = [&]() -> std::string {
      if (i + 1 >= argc) throw partita::usage_error(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> double {
      const auto v = text();
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(x >= 0))
        throw partita::usage_error(a + ": expected a number >= 0, got '" + v + "'");
      return x;
    };
    auto count = [&]() { return static_cast<std::uint64_t>(number()); };
    if (a == "--ranks") c.model.ranks = static_cast<int>(count());
    else if (a == "--threads") c.model.threads = static_cast<int>(count());
    else if (a == "--levels") c.model.levels = static_cast<int>(count());
    else if (a == "--ranks-per-node") c.model.ranks_per_node = static_cast<int>(count());
    else if (a == "--partitions") c.model.partitions = count();
    else if (a == "--partitions-per-thread") c.per_thread = count();
    else if (a == "--dist") c.dist = text();
    else if (a == "--median-us") c.median_us = number();
    else if (a == "--sigma") c.sigma = number();
    else if (a == "--cost-seed") c.cost_seed = count();
    else if (a == "--policy") c.model.policy = text();
    else if (a == "--chunk") c.model.chunk = count();
    else if (a == "--prefetch") c.model.prefetch = static_cast<int>(count());
    else if (a == "--dedicated-scheduler") c.model.scheduler_runs_partitions = false;
    else if (a == "--no-speculate") c.model.speculate = false;
    else if (a == "--no-take-back") c.model.take_back = false;
    else if (a == "--no-node-fold") c.model.node_fold = false;
    else if (a == "--calibration") c.calibration_file = text();
    else if (a == "--costs") c.costs_file = text();
    else if (a == "--platform") c.platform = text();
    else if (a == "--write-platform") c.write_platform = text();
    else if (a == "--cores") c.cores = static_cast<int>(count());
    else if (a == "--json") c.json = text();
    else if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else {
      throw partita::usage_error("unknown option '" + a + "' (--help lists them)");
    }
  }
  if (c.dist != "lognormal" && c.dist != "uniform" && c.dist != "bimodal" && c.dist != "constant")
    throw partita::usage_error("--dist must be lognormal, uniform, bimodal or constant, got '" + c.dist + "'");
  if (c.per_thread > 0)
    c.model.partitions = c.per_thread * static_cast<std::uint64_t>(c.model.ranks) *
                         static_cast<std::uint64_t>(std::max(c.model.threads, 1));
  if (c.model.partitions == 0) c.model.partitions = 1000;
  return c;
}

/// The partitions' kernel times: exactly the synthetic job's draws (same parameters, same seed), so a model run
/// and `partita run synthetic` see the same partitions.
std::vector<float> partition_costs(cli& c) {
  if (!c.costs_file.empty()) {  // measured times (e.g. from a real run's --trace): the partition count follows
    std::ifstream in(c.costs_file);
    if (!in) throw partita::usage_error("cannot read --costs file " + c.costs_file + " (one time in seconds a line)");
    std::vector<float> costs;
    double v = 0;
    while (in >> v) {
      if (!(v >= 0)) throw partita::usage_error("--costs " + c.costs_file + ": negative time");
      costs.push_back(static_cast<float>(v));
    }
    if (!in.eof() || costs.empty())
      throw partita::usage_error("--costs " + c.costs_file + ": expected one time in seconds a line");
    c.model.partitions = costs.size();
    return costs;
  }
  partita::parameters p;
  p.set("dist", c.dist == "constant" ? "lognormal" : c.dist);
  p.set("median_us", fmt::format("{}", c.median_us));
  p.set("sigma", c.dist == "constant" ? "0" : fmt::format("{}", c.sigma));
  p.set("cost_seed", std::to_string(c.cost_seed));
  std::vector<float> costs(c.model.partitions);
  for (std::uint64_t i = 0; i < costs.size(); ++i) costs[i] = static_cast<float>(partita::synthetic_cost_seconds(p, i));
  return costs;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto c = parse(argc, argv);
    const auto cal = c.calibration_file.empty() ? sim::calibration{} : sim::read_calibration(c.calibration_file);
    const int nodes = (c.model.ranks + c.model.ranks_per_node - 1) / c.model.ranks_per_node;
    sim::cluster_shape shape;
    shape.nodes = nodes;
    shape.cores = c.cores;
    shape.loopback_Bps = cal.bandwidth_Bps;
    shape.loopback_latency_s = cal.latency_s;
    if (!c.write_platform.empty()) {
      sim::write_cluster_platform(c.write_platform, shape);
      std::printf("wrote %s: %d nodes\n", c.write_platform.c_str(), nodes);
      return 0;
    }
    std::filesystem::path platform = c.platform;
    const bool generated = platform.empty();
    if (generated) {
      platform = std::filesystem::temp_directory_path() / fmt::format("partita-simulate-{}.xml", getpid());
      sim::write_cluster_platform(platform, shape);
    }
    const auto costs = partition_costs(c);

    // SimGrid's own options: no latency/bandwidth correction factors (the calibration is what was measured),
    // small actor stacks without guard pages (10^5 actors stay under vm.max_map_count), quiet logs.
    std::vector<std::string> sg_args{argv[0], "--log=root.thres:warning", "--cfg=network/model:CM02",
                                     "--cfg=contexts/stack-size:16", "--cfg=contexts/guard-size:0"};
    std::vector<char*> sg_argv;
    for (auto& s : sg_args) sg_argv.push_back(s.data());
    int sg_argc = static_cast<int>(sg_argv.size());
    simgrid::s4u::Engine engine(&sg_argc, sg_argv.data());
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = sim::run_model(c.model, cal, costs, platform);
    const double host_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (generated) std::filesystem::remove(platform);

    const double busy = r.makespan_s > 0 ? r.root_busy_s / r.makespan_s : 0;
    auto share = [&](double s) { return r.makespan_s > 0 ? s / r.makespan_s : 0; };
    const double thread_seconds = r.makespan_s * r.total_threads;
    auto thread_share = [&](double s) { return thread_seconds > 0 ? s / thread_seconds : 0; };
    const std::vector<std::pair<std::string, std::string>> out{
        {"ranks", std::to_string(c.model.ranks)},
        {"threads", std::to_string(c.model.threads)},
        {"levels", std::to_string(c.model.levels)},
        {"nodes", std::to_string(r.nodes)},
        {"partitions", std::to_string(c.model.partitions)},
        {"dist", fmt::format("\"{}\"", c.dist)},
        {"median_us", fmt::format("{}", c.median_us)},
        {"sigma", fmt::format("{}", c.dist == "constant" ? 0.0 : c.sigma)},
        {"policy", fmt::format("\"{}\"", c.model.policy)},
        {"makespan_s", fmt::format("{:.6g}", r.makespan_s)},
        {"lower_bound_s", fmt::format("{:.6g}", r.lower_bound_s)},
        {"efficiency", fmt::format("{:.4f}", r.makespan_s > 0 ? r.lower_bound_s / r.makespan_s : 0)},
        {"root_busy_fraction", fmt::format("{:.4f}", busy)},
        // Where the root would saturate if its load keeps growing linearly with the rank count (it does in the
        // sweeps of predict.py until it saturates): the saturation point of this workload and topology.
        {"root_saturation_ranks", fmt::format("{:.0f}", busy > 0 ? c.model.ranks / busy : 0)},
        {"root_messages", std::to_string(r.root_messages)},
        {"dispatches", std::to_string(r.dispatches)},
        {"chunks", std::to_string(r.chunks)},
        {"root_dispatches", std::to_string(r.root_dispatches)},
        {"root_chunks", std::to_string(r.root_chunks)},
        {"dispatch_rate_per_s", fmt::format("{:.6g}", r.makespan_s > 0 ? r.dispatches / r.makespan_s : 0)},
        {"partitions_per_s", fmt::format("{:.6g}", r.makespan_s > 0 ? c.model.partitions / r.makespan_s : 0)},
        {"node_busy_fraction_max", fmt::format("{:.4f}", r.makespan_s > 0 ? r.node_busy_max_s / r.makespan_s : 0)},
        {"node_messages", std::to_string(r.node_messages)},
        {"speculative_copies", std::to_string(r.speculative_copies)},
        {"take_backs", std::to_string(r.take_backs)},
        {"node_take_backs", std::to_string(r.node_take_backs)},
        {"root_results", std::to_string(r.root_results)},
        {"root_blocks", std::to_string(r.root_blocks)},
        {"root_block_commits", std::to_string(r.root_block_commits)},
        // Where the time goes: the root's busy time by what it served (fractions of the makespan), and the
        // threads' time (fractions of threads x makespan): running, idle before their first partition, idle
        // after their last, idle in between.
        {"queue_empty_s", fmt::format("{:.6g}", r.queue_empty_s)},
        {"last_partition_end_s", fmt::format("{:.6g}", r.last_partition_end_s)},
        {"root_busy_tail_fraction", fmt::format("{:.4f}", share(r.root_busy_tail_s))},
        {"root_busy_messages_fraction", fmt::format("{:.4f}", share(r.root_message_busy_s))},
        {"root_busy_results_fraction", fmt::format("{:.4f}", share(r.root_result_busy_s))},
        {"root_busy_blocks_fraction", fmt::format("{:.4f}", share(r.root_block_busy_s))},
        {"root_busy_chunks_fraction", fmt::format("{:.4f}", share(r.root_chunk_busy_s))},
        {"root_requests", std::to_string(r.root_requests)},
        {"node_busy_fraction_mean", fmt::format("{:.4f}", share(r.node_busy_mean_s))},
        {"thread_busy_fraction", fmt::format("{:.4f}", thread_share(r.thread_busy_s))},
        {"thread_start_idle_fraction", fmt::format("{:.4f}", thread_share(r.thread_start_idle_s))},
        {"thread_tail_idle_fraction", fmt::format("{:.4f}", thread_share(r.thread_tail_idle_s))},
        {"thread_middle_idle_fraction",
         fmt::format("{:.4f}",
                     thread_share(thread_seconds - r.thread_busy_s - r.thread_start_idle_s - r.thread_tail_idle_s))},
        {"calibration", fmt::format("\"{}\"", cal.source)},
        {"simulation_seconds", fmt::format("{:.3f}", host_s)}};
    for (const auto& [k, v] : out) {
      std::string plain = v;
      if (!plain.empty() && plain.front() == '"') plain = plain.substr(1, plain.size() - 2);
      std::printf("%s=%s\n", k.c_str(), plain.c_str());
    }
    if (!c.json.empty()) {
      std::ofstream js(c.json);
      js << "{";
      for (std::size_t i = 0; i < out.size(); ++i)
        js << (i ? ", " : "") << '"' << out[i].first << "\": " << out[i].second;
      js << "}\n";
      if (!js) throw partita::error("cannot write " + c.json);
    }
    return 0;
  } catch (const partita::usage_error& e) {
    std::fprintf(stderr, "partita_simulate: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "partita_simulate: error: %s\n", e.what());
    return 1;
  }
}
