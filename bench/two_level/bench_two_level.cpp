// The root scheduler's load with one and two scheduling levels (docs/design.md, "Two-level scheduling"), measured
// at the same rank count in the same run: messages the root received, the time it spent handling them (its busy
// share of the wall time), and the wall time. Nodes are simulated: every k consecutive ranks are one node.
//
//   mpirun -n 9 bench_two_level [--ranks-per-node K] [--partitions N] [--us U] [--reps R] [--smoke]
//
// Rows (each the best of R repetitions by wall time, root figures of that repetition): policy dynamic with one
// partition per chunk (the most messages), and adaptive (automatic chunk sizes). Partitions spin U microseconds
// and return a small integer, summed in partition-id order; every run must give the same sum.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>

#include "bench_start.hpp"

namespace {

struct options {
  int ranks_per_node = 3;
  std::uint64_t partitions = 60'000;
  int us = 20;
  int reps = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> long long {
      if (i + 1 >= argc) throw partita::usage_error(a + " needs a value");
      const long long v = std::atoll(argv[++i]);
      if (v <= 0) throw partita::usage_error(a + ": expected a positive number, got '" + argv[i] + "'");
      return v;
    };
    if (a == "--ranks-per-node") o.ranks_per_node = static_cast<int>(value());
    else if (a == "--partitions") o.partitions = static_cast<std::uint64_t>(value());
    else if (a == "--us") o.us = static_cast<int>(value());
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--smoke") {
      o.partitions = 3'000;
      o.reps = 1;
    } else {
      throw partita::usage_error("unknown option " + a +
                                 " (--ranks-per-node K --partitions N --us U --reps R --smoke)");
    }
  }
  return o;
}

struct row {
  std::string name;
  int levels = 1;
  double seconds = 1e300;
  std::uint64_t messages = 0;
  double busy = 0;
  std::int64_t sum = 0;
};

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const bool root = s.rank().value == 0;
  const auto parsed = partita::bench::start("bench_two_level", s, argc, argv, parse, 4);
  if (!parsed) return 2;
  const options& o = *parsed;
  const auto spin = std::chrono::microseconds(o.us);
  const auto job = partita::map_reduce_job<std::int64_t>("spin")
                       .partitions(o.partitions)
                       .kernel([spin](const partita::partition& p, partita::context&) {
                         const auto until = std::chrono::steady_clock::now() + spin;
                         while (std::chrono::steady_clock::now() < until) {
                         }
                         return static_cast<std::int64_t>(p.id.value % 7);
                       })
                       .combine([](std::int64_t& a, std::int64_t&& b) { a += b; });

  std::vector<row> rows;
  for (const std::string policy : {"dynamic", "adaptive"})
    for (int levels : {1, 2}) {
      partita::run_config c;
      c.policy = policy;
      c.chunk = policy == "dynamic" ? 1 : 0;
      c.threads = 1;
      c.scheduler_rank = 0;
      c.scheduler_levels = levels;
      c.ranks_per_node = o.ranks_per_node;
      c.quiet = true;
      row r{fmt::format("{}{}", policy, policy == "dynamic" ? " chunk=1" : ""), levels};
      for (int rep = 0; rep < o.reps; ++rep) {
        PARTITA_MPI(MPI_Barrier(comm));
        auto res = partita::run(s, job, c);
        double figures[3] = {0, 0, 0};
        if (res.is_scheduler()) {
          const auto& rp = res.report();
          figures[0] = rp.wall_seconds;
          figures[1] = static_cast<double>(rp.map_reduce.scheduler_messages);
          figures[2] = rp.map_reduce.scheduler_busy_seconds;
          r.levels = rp.map_reduce.scheduler_levels;
        }
        PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, figures, 3, MPI_DOUBLE, MPI_MAX, comm));
        if (figures[0] < r.seconds) {
          r.seconds = figures[0];
          r.messages = static_cast<std::uint64_t>(figures[1]);
          r.busy = figures[2];
        }
        r.sum = res.value();
      }
      rows.push_back(r);
    }

  if (root) {
    std::printf(
        "bench_two_level: %d ranks, %d per simulated node, %llu partitions of %d us, 1 thread per rank, best of %d\n",
        s.size(), o.ranks_per_node, static_cast<unsigned long long>(o.partitions), o.us, o.reps);
    std::printf("%-32s %7s %9s %14s %14s %12s\n", "run", "levels", "wall s", "root messages", "root busy s",
                "root busy %");
    for (const auto& r : rows)
      std::printf("%-32s %7d %9.3f %14llu %14.4f %11.2f%%\n", r.name.c_str(), r.levels, r.seconds,
                  static_cast<unsigned long long>(r.messages), r.busy, 100.0 * r.busy / r.seconds);
    for (std::size_t i = 1; i < rows.size(); ++i)
      if (rows[i].sum != rows[0].sum) {
        std::printf("FAILED: %s at %d level(s) summed to %lld, %s at %d level(s) to %lld\n", rows[i].name.c_str(),
                    rows[i].levels, static_cast<long long>(rows[i].sum), rows[0].name.c_str(), rows[0].levels,
                    static_cast<long long>(rows[0].sum));
        return 1;
      }
    for (std::size_t i = 0; i + 1 < rows.size(); i += 2)
      std::printf("ratio two levels / one level, %s: root messages %.3f, root busy %.3f, wall %.3f\n",
                  rows[i].name.c_str(),
                  static_cast<double>(rows[i + 1].messages) / static_cast<double>(rows[i].messages),
                  rows[i + 1].busy / rows[i].busy, rows[i + 1].seconds / rows[i].seconds);
  }
  return 0;
}
