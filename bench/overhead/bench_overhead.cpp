// Framework overhead on CPU-bound kernels: does a rank with T kernel threads on T cores lose anything to Partita's
// own threads (the communication thread, the scheduler loop, MPI progress)?
//
//   bench_overhead [--threads T] [--partitions N] [--work W] [--reps R] [--smoke]
//   mpirun -n 2 bench_overhead --threads 1
//
// Rows (each the best of R repetitions, wall time between barriers, max over ranks), all over the same N
// partitions of W units of integer work:
//   plain threads, T/rank   a hand-written loop: T std::threads per rank take partitions from an atomic counter
//                           (each rank its share), no Partita: the baseline of what the cores can do
//   partita, 1 thread/rank  partita::run with --threads 1 (the scheduler rank runs partitions too)
//   partita, T threads/rank partita::run with --threads T
// Printed last: the parallel efficiency T1 / (T · T_T) of Partita (target >= 0.95 on an idle machine) and
// plain / partita at T threads (target >= 0.98: under 2% lost to Partita), and the CPU seconds Partita's own
// threads used (run_report::framework_cpu_seconds) against the kernels' busy seconds.
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>

#include "bench_start.hpp"

namespace {

struct options {
  int threads = 0;  // 0: the cores this rank may use / ranks on the machine (at least 1)
  std::uint64_t partitions = 200;
  std::uint64_t work = 1'000'000;  // units of integer work per partition (about 10 ms here)
  int reps = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return partita::bench::positive_value(argc, argv, i); };
    if (a == "--threads") o.threads = static_cast<int>(value());
    else if (a == "--partitions") o.partitions = value();
    else if (a == "--work") o.work = value();
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--smoke") {
      o.partitions = 60;
      o.work = 500'000;
      o.reps = 1;
    } else {
      throw partita::usage_error("unknown option " + a + " (--threads T --partitions N --work W --reps R --smoke)");
    }
  }
  return o;
}

/// W rounds of a 64-bit mix: pure CPU, no memory traffic, not foldable by the compiler.
std::uint64_t kernel(std::uint64_t id, std::uint64_t work) {
  std::uint64_t x = id * 0x9e3779b97f4a7c15ull + 1;
  for (std::uint64_t i = 0; i < work; ++i) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x += i;
  }
  return x;
}


}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const bool root = s.rank().value == 0;
  const auto parsed = partita::bench::start("bench_overhead", s, argc, argv, parse, 1);
  if (!parsed) return 2;
  options o = *parsed;
  if (o.threads == 0)
    o.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, s.size()));
  const int ranks = s.size(), me = s.rank().value;

  // The reference result: the sum of every partition's value (wrapping), the same whoever runs what.
  std::uint64_t expect = 0;
  for (std::uint64_t id = 0; id < o.partitions; ++id) expect += kernel(id, o.work);

  // Baseline: T plain threads per rank, this rank's share of the ids from an atomic counter.
  const double plain = partita::bench::best_of(comm, o.reps, [&] {
    std::atomic<std::uint64_t> next{static_cast<std::uint64_t>(me)}, sum{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < o.threads; ++t)
      pool.emplace_back([&] {
        std::uint64_t local = 0;
        for (auto id = next.fetch_add(ranks); id < o.partitions; id = next.fetch_add(ranks))
          local += kernel(id, o.work);
        sum += local;
      });
    for (auto& t : pool) t.join();
    std::uint64_t total = sum.load();
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_UINT64_T, MPI_SUM, comm));
    if (total != expect) throw partita::error("plain threads: wrong sum");
  });

  const auto job = partita::map_reduce_job<std::uint64_t>("spin")
                       .partitions(o.partitions)
                       .kernel([w = o.work](const partita::partition& p, partita::context&) {
                         return kernel(p.id.value, w);
                       })
                       .combine([](std::uint64_t& a, std::uint64_t&& b) { a += b; });
  struct figures {
    double seconds = 0, framework_cpu = 0, busy = 0;
  };
  auto partita_run = [&](int threads) {
    partita::run_config c;
    c.threads = threads;
    c.quiet = true;
    figures f;
    f.seconds = partita::bench::best_of(comm, o.reps, [&] {
      auto res = partita::run(s, job, c);
      if (res.value() != expect) throw partita::error("partita: wrong sum");
      if (res.is_scheduler()) {
        f.framework_cpu = res.report().framework_cpu_seconds;
        f.busy = 0;
        for (const auto& w : res.report().workers) f.busy += w.busy_seconds;
      }
    });
    return f;
  };
  const auto one = partita_run(1);
  const auto all = o.threads == 1 ? one : partita_run(o.threads);

  if (root) {
    const double efficiency = one.seconds / (o.threads * all.seconds);
    std::printf("bench_overhead: %d rank(s) x %d thread(s), %llu partitions of %llu work units, best of %d\n", ranks,
                o.threads, static_cast<unsigned long long>(o.partitions), static_cast<unsigned long long>(o.work),
                o.reps);
    std::printf("%-34s %10s %16s %12s\n", "run", "seconds", "partita CPU s", "kernel s");
    std::printf("%-34s %10.3f %16s %12s\n", fmt::format("plain threads, {}/rank", o.threads).c_str(), plain, "-", "-");
    std::printf("%-34s %10.3f %16.3f %12.3f\n", "partita, 1 thread/rank", one.seconds, one.framework_cpu, one.busy);
    if (o.threads > 1)
      std::printf("%-34s %10.3f %16.3f %12.3f\n", fmt::format("partita, {} threads/rank", o.threads).c_str(),
                  all.seconds, all.framework_cpu, all.busy);
    std::printf("target: efficiency >= 0.95, plain/partita >= 0.98 (on an idle machine)\n");
    std::printf("partita CPU share at %d threads: %.2f%% of kernel time\n", o.threads,
                all.busy > 0 ? 100.0 * all.framework_cpu / all.busy : 0.0);
    std::printf("ratio plain/partita at %d threads: %.3f\n", o.threads, plain / all.seconds);
    if (o.threads > 1) std::printf("ratio efficiency T1/(%d*T%d): %.3f\n", o.threads, o.threads, efficiency);
    else std::printf("efficiency: not measured with 1 thread per rank (use --threads 2 or more)\n");
  }
  return 0;
}
