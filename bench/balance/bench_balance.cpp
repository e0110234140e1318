// Load balance on the `synthetic` job (lognormal sleep costs): makespan / lower bound for every policy, and for a
// hand-written dynamic MPI loop over the same costs, measured in the same run. The last line is the ratio.
//
//   mpirun -n 9 bench_balance [--partitions N] [--median-us U] [--sigma S] [--reps R] [--policies a,b,…]
//                             [--slow-factor F] [--no-speculate] [--smoke]
//
// Each row is the best of R runs (default 2), the hand loop's too. The policy rows run with Partita's defaults,
// speculative execution included (--no-speculate turns it off there).
//
// Then a straggler case: the last rank runs F times slower (default 8; synthetic's slow_rank/slow_factor) on
// uniform costs of 20 ms (5 ms with --smoke), 40 partitions per worker, policy adaptive, with speculative
// execution and without. Its last line is the ratio of the two makespans (below 1: speculation pays off).
//
// Layout: rank 0 of the hand loop is a master that only dispatches, the other ranks are workers with one
// thread each; Partita runs on the same ranks with a dedicated scheduler and one thread per worker rank, so
// both have P = ranks − 1 workers in the same processes, and the difference is the scheduling alone.
// Sleeping costs no CPU, so the ranks may outnumber the cores.
//
// Lower bound = max(Σcost / P, max cost) from the job's own cost draws (partita::synthetic_cost_seconds).
// Makespan = wall time between barriers, max over ranks (Partita's includes its set-up and final messages).
// Sleeps overshoot their deadline when the node is busy; "busy/sum" shows by how much in each run, and
// "/busy bound" is the makespan over the bound recomputed from the measured kernel times.
#include <mpi.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/session.hpp>

#include <partita/scheduler/map_reduce/driver.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>
#include "bench_start.hpp"
#include "timing.hpp"

namespace {

struct options {
  std::uint64_t partitions = 10'000;
  double median_us = 2000;
  int reps = 2;  // best of: sleep overshoot on a shared node varies from run to run
  double sigma = 1.5;
  std::vector<std::string> policies = partita::policy_names();
  bool speculate = true;  // in the policy rows
  double slow_factor = 8;
  double straggler_median_us = 20000;
  std::uint64_t straggler_per_worker = 40;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> double {
      if (i + 1 >= argc) throw partita::usage_error(a + " needs a value");
      const double v = std::atof(argv[++i]);
      if (!(v > 0)) throw partita::usage_error(a + ": expected a positive number, got '" + argv[i] + "'");
      return v;
    };
    if (a == "--partitions") o.partitions = static_cast<std::uint64_t>(value());
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--median-us") o.median_us = value();
    else if (a == "--sigma") o.sigma = value();
    else if (a == "--slow-factor") o.slow_factor = std::max(1.0, value());
    else if (a == "--no-speculate") o.speculate = false;
    else if (a == "--policies") {
      if (i + 1 >= argc) throw partita::usage_error(a + " needs a value");
      o.policies.clear();
      std::string list = argv[++i];
      for (std::size_t at = 0; at <= list.size();) {
        const auto comma = std::min(list.find(',', at), list.size());
        o.policies.push_back(list.substr(at, comma - at));
        partita::make_policy(o.policies.back());  // a bad name is a usage error listing the policies
        at = comma + 1;
      }
    } else if (a == "--smoke") {
      o.partitions = 300;
      o.median_us = 1000;
      o.reps = 1;
      o.straggler_median_us = 5000;
      o.straggler_per_worker = 20;
    } else {
      throw partita::usage_error("unknown option " + a +
                                 " (--partitions N --median-us U --sigma S --reps R --policies a,b "
                                 "--slow-factor F --no-speculate --smoke)");
    }
  }
  return o;
}

/// Sleeps `seconds` exactly as the synthetic job's kernel does: to an absolute deadline, 1 us timer slack.
void sleep_like_synthetic(double seconds) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  thread_local bool slack_set = (prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0), true);
  (void)slack_set;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

enum tag : int { work = 1, stop = 2, result = 3 };

/// The baseline: a dynamic self-scheduling loop, one partition per message, no prefetch. Returns the
/// seconds the workers spent sleeping (summed, on every rank).
double hand_loop(MPI_Comm comm, const std::vector<double>& cost) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::uint64_t n = cost.size();
  double busy = 0;
  if (rank == 0) {
    std::uint64_t next = 0;
    int active = 0;
    for (int w = 1; w < size; ++w) {
      const int t = next < n ? work : stop;
      PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, w, t, comm));
      if (t == work) {
        ++next;
        ++active;
      }
    }
    while (active > 0) {
      std::uint64_t msg[2];
      MPI_Status st;
      PARTITA_MPI(MPI_Recv(msg, 2, MPI_UINT64_T, MPI_ANY_SOURCE, result, comm, &st));
      const int t = next < n ? work : stop;
      PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, st.MPI_SOURCE, t, comm));
      if (t == work) ++next;
      else --active;
    }
  } else {
    for (;;) {
      std::uint64_t id = 0;
      MPI_Status st;
      PARTITA_MPI(MPI_Recv(&id, 1, MPI_UINT64_T, 0, MPI_ANY_TAG, comm, &st));
      if (st.MPI_TAG == stop) break;
      const auto t0 = std::chrono::steady_clock::now();
      sleep_like_synthetic(cost[id]);
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
      busy += static_cast<double>(ns.count()) * 1e-9;
      const std::uint64_t msg[2] = {id, static_cast<std::uint64_t>(ns.count())};
      PARTITA_MPI(MPI_Send(msg, 2, MPI_UINT64_T, 0, result, comm));
    }
  }
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &busy, 1, MPI_DOUBLE, MPI_SUM, comm));
  return busy;
}

struct row {
  std::string name;
  double makespan = 0;
  double busy = 0;  // seconds inside kernels, summed over workers
  std::uint64_t dispatches = 0;
  double imbalance = 0;
  double cpu = 0;  // CPU seconds of all ranks
};

/// One slow worker (the last rank): makespan of adaptive with speculative execution and without, best of R each.
void straggler_case(partita::session& s, const options& o) {
  const int workers = s.size() - 1;
  const int slow = s.size() - 1;
  const std::uint64_t n = o.straggler_per_worker * static_cast<std::uint64_t>(workers);
  partita::parameters params;
  params.set("partitions", std::to_string(n));
  params.set("dist", "uniform");
  params.set("median_us", fmt::format("{}", o.straggler_median_us));
  params.set("mode", "sleep");
  params.set("slow_rank", std::to_string(slow));
  params.set("slow_factor", fmt::format("{}", o.slow_factor));
  double sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += partita::synthetic_cost_seconds(params, i);
  // Lower bound: the fast workers run at speed 1, the slow one at 1/F.
  const double bound = sum / (workers - 1 + 1.0 / o.slow_factor);
  const bool root = s.rank().value == 0;
  if (root)
    std::printf("\nstraggler: rank %d runs %gx slower; synthetic uniform median=%g us, %llu partitions, %d workers x 1 "
                "thread, policy adaptive; lower bound %.3f s\n",
                slow, o.slow_factor, o.straggler_median_us, static_cast<unsigned long long>(n), workers, bound);
  std::fflush(stdout);
  double best[2] = {1e300, 1e300};
  std::uint64_t copies[2] = {0, 0}, won[2] = {0, 0};
  std::string result[2];
  for (int k = 0; k < o.reps; ++k)
    for (int on = 1; on >= 0; --on) {
      const auto job = partita::builtin_jobs().make("synthetic", params);
      partita::run_config c;
      c.policy = "adaptive";
      c.threads = 1;
      c.scheduler_runs_partitions = false;
      c.scheduler_rank = 0;
      c.speculate = on == 1;
      c.quiet = true;
      partita::run_report report;
      double cpu = 0;
      const double t = partita::bench::timed(s.comm(), cpu, [&] { report = partita::run_map_reduce(s, *job, c); });
      if (t < best[on]) {
        best[on] = t;
        copies[on] = report.map_reduce.speculative_copies;
        won[on] = report.map_reduce.speculative_won;
      }
      result[on] = report.result_text;
    }
  if (root) {
    std::printf("%-28s %10s %8s %9s %9s\n", "run", "makespan", "/bound", "copies", "won");
    for (int on : {0, 1})
      std::printf("%-28s %9.3fs %8.3f %9llu %9llu\n", on ? "adaptive, speculation" : "adaptive, no speculation",
                  best[on], best[on] / bound, static_cast<unsigned long long>(copies[on]),
                  static_cast<unsigned long long>(won[on]));
    if (result[0] != result[1]) std::printf("RESULTS DIFFER: '%s' vs '%s'\n", result[1].c_str(), result[0].c_str());
    std::printf("straggler x%g: makespan with speculation %.3f s, without %.3f s; ratio with/without %.3f\n",
                o.slow_factor, best[1], best[0], best[1] / best[0]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const bool root = s.rank().value == 0;
  const auto parsed = partita::bench::start("bench_balance", s, argc, argv, parse, 2);
  if (!parsed) return 2;
  const options& o = *parsed;
  const int workers = s.size() - 1;

  partita::parameters params;
  params.set("partitions", std::to_string(o.partitions));
  params.set("dist", "lognormal");
  params.set("sigma", fmt::format("{}", o.sigma));
  params.set("median_us", fmt::format("{}", o.median_us));
  params.set("mode", "sleep");
  std::vector<double> cost(o.partitions);
  double sum = 0, max_cost = 0;
  for (std::uint64_t i = 0; i < o.partitions; ++i) {
    cost[i] = partita::synthetic_cost_seconds(params, i);
    sum += cost[i];
    max_cost = std::max(max_cost, cost[i]);
  }
  const double bound = std::max(sum / workers, max_cost);
  if (root)
    std::printf("bench_balance: synthetic lognormal sigma=%g median=%g us, %llu partitions, %d workers x 1 thread "
                "+ 1 scheduler/master rank; sum %.3f s, max %.3f s, lower bound %.3f s\n",
                o.sigma, o.median_us, static_cast<unsigned long long>(o.partitions), workers, sum, max_cost, bound);
  std::fflush(stdout);

  std::vector<row> rows;
  auto keep_best = [&](const row& r) {
    if (rows.empty() || rows.back().name != r.name) rows.push_back(r);
    else if (r.makespan < rows.back().makespan) rows.back() = r;
  };
  for (int k = 0; k < o.reps; ++k) {
    row r{"hand loop (dynamic, 1/msg)"};
    r.makespan = partita::bench::timed(comm, r.cpu, [&] { r.busy = hand_loop(comm, cost); });
    r.dispatches = o.partitions;
    keep_best(r);
  }
  for (const auto& policy : o.policies) {
    for (int k = 0; k < o.reps; ++k) {
      const auto job = partita::builtin_jobs().make("synthetic", params);
      partita::run_config c;
      c.policy = policy;
      c.threads = 1;
      c.scheduler_runs_partitions = false;
      c.speculate = o.speculate;
      c.quiet = true;
      row r{"partita " + policy};
      partita::run_report report;
      r.makespan = partita::bench::timed(comm, r.cpu, [&] { report = partita::run_map_reduce(s, *job, c); });
      if (report.is_scheduler) {
        for (const auto& w : report.workers) r.busy += w.busy_seconds;
        r.dispatches = report.dispatches;
        r.imbalance = report.imbalance;
      }
      keep_best(r);
    }
  }

  if (root) {
    // busy/sum > 1 is sleep overshoot (late wake-ups on a loaded node), not scheduling; "/busy bound" divides
    // it out: the same bound computed from the kernel times measured in that run.
    std::printf("%-28s %10s %8s %9s %11s %9s %10s %8s\n", "run", "makespan", "/bound", "busy/sum", "/busy bound",
                "messages", "imbalance", "cpu s");
    for (const auto& r : rows) {
      const double over = r.busy / sum;
      const double busy_bound = std::max(r.busy / workers, max_cost * over);
      std::printf("%-28s %9.3fs %8.3f %9.4f %11.3f %9llu %10.3f %8.2f\n", r.name.c_str(), r.makespan,
                  r.makespan / bound, over, r.makespan / busy_bound, static_cast<unsigned long long>(r.dispatches),
                  r.imbalance, r.cpu);
    }
    auto find = [&](const std::string& name) -> const row* {
      for (const auto& r : rows)
        if (r.name == name) return &r;
      return nullptr;
    };
    auto ratio = [&](const std::string& name, bool measured) {
      const row* r = find(name);
      if (!r) return std::nan("");
      const double b = measured ? std::max(r->busy / workers, max_cost * r->busy / sum) : bound;
      return r->makespan / b;
    };
    const std::string hand_name = "hand loop (dynamic, 1/msg)";
    for (bool measured : {true, false}) {
      const double hand = ratio(hand_name, measured), adaptive = ratio("partita adaptive", measured),
                   cost_r = ratio("partita cost", measured);
      const bool met = adaptive <= 1.05 && cost_r <= 1.05 && adaptive < hand && cost_r < hand;
      std::printf("%s: adaptive %.3f, cost %.3f, hand loop %.3f (target: adaptive and cost <= 1.05 and below the "
                  "hand loop: %s)\n",
                  measured ? "makespan / bound from measured kernel times" : "ratio makespan/bound", adaptive, cost_r,
                  hand, met ? "met" : "MISSED");
    }
  }
  std::fflush(stdout);
  straggler_case(s, o);
  return 0;
}
