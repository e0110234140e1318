// Every core for kernels (issue 21, §3): parallel efficiency of the built-in `mandelbrot` job on two cores, as one
// rank with two threads and as two ranks with one thread each, next to plain threads and a plain MPI loop over the
// same kernel, and the process CPU per kernel second of a one-thread run.
//
//   bench_efficiency [--max-iter N] [--reps R] [--smoke]        not under mpirun: it launches its runs itself
//
// The layouts need different rank counts, so this program is a driver: each round it launches every row once
// (`mpirun -n 1|2 bench_efficiency --child ...`), one after the other, so the baselines and Partita see the same
// load; each row keeps its best round. A child times its work between barriers (MPI start-up excluded) and prints
// one line. Rows, all over the same partitions (mandelbrot's defaults, max_iter from --max-iter):
//   plain, 1 thread              the kernel in a loop on one thread (the job's own kernel: map_job_model::run)
//   plain threads, 1 rank x 2    two std::threads take partitions from an atomic counter
//   plain MPI, 2 ranks x 1       each rank runs every other partition (cyclic), rank 0 gathers the results
//   partita, 1 rank x 1          partita::run, --threads 1 (T1 below)
//   partita, 1 rank x 2          --threads 2
//   partita, 2 ranks x 1         --threads 1 on each rank (the scheduler rank runs partitions too)
//   partita, 2 x 1, no take-back the same with --no-take-back (docs/design.md, "Taking back a backlog")
// Every row folds the results in partition order and must print mandelbrot's checksum line of the others.
// Efficiency is T1 / (2 T); the last lines are Partita's efficiencies and CPU/kernel (targets: >= 0.95, <= 1.03).
#include <mpi.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <oneapi/tbb/task_arena.h>

#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/driver.hpp>

#include "bench_start.hpp"
#include "timing.hpp"

#ifndef PARTITA_BENCH_MPIEXEC
#define PARTITA_BENCH_MPIEXEC "mpirun"
#endif
#ifndef PARTITA_BENCH_MPIEXEC_FLAGS
#define PARTITA_BENCH_MPIEXEC_FLAGS ""
#endif

namespace {

struct options {
  std::uint64_t max_iter = 20000;
  int reps = 3;
  std::string child;  // set in a launched run: plain, plain-mpi or partita
  int threads = 1;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return partita::bench::positive_value(argc, argv, i); };
    if (a == "--max-iter") o.max_iter = value();
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--threads") o.threads = static_cast<int>(value());
    else if (a == "--smoke") {
      o.max_iter = 200;
      o.reps = 1;
    } else if (a == "--child" && i + 1 < argc) {
      o.child = argv[++i];
    } else {
      throw partita::usage_error("unknown option " + a + " (--max-iter N --reps R --smoke)");
    }
  }
  return o;
}

std::unique_ptr<partita::map_job_model> make_job(std::uint64_t max_iter) {
  partita::parameters p;
  p.set("max_iter", std::to_string(max_iter));
  return partita::builtin_jobs().make("mandelbrot", p);
}

/// Runs partition `id` of `job` as a plain loop would: the job's own kernel, no scheduler.
partita::bytes run_one(partita::map_job_model& job, std::uint64_t id, tbb::task_arena& arena) {
  static const std::atomic<bool> never{false};
  partita::context ctx(partita::partition_id{id}, partita::step_t{0}, 0, job.params(), arena, never);
  partita::bytes out;
  job.run(partita::partition_id{id}, ctx, out);
  return out;
}

/// Folds `results` (by partition id) in id order and describes the total (mandelbrot's checksum line).
std::string fold_all(partita::map_job_model& job, std::vector<partita::bytes>& results) {
  job.reset();
  for (auto& r : results) job.fold(r);
  return job.describe(job.accumulator());
}

struct figures {
  double seconds = 0, cpu = 0, kernel = 0;
  std::string result;
};

/// Plain threads on one rank: `threads` std::threads take partitions from an atomic counter.
figures plain_threads(partita::map_job_model& job, int threads) {
  const auto n = job.partition_count();
  std::vector<partita::bytes> results(n);
  std::atomic<std::uint64_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      tbb::task_arena arena(1);
      for (auto id = next.fetch_add(1); id < n; id = next.fetch_add(1)) results[id] = run_one(job, id, arena);
    });
  for (auto& t : pool) t.join();
  return figures{0, 0, 0, fold_all(job, results)};
}

/// A plain MPI loop: rank r runs ids r, r + size, ...; rank 0 gathers the results and folds them.
figures plain_mpi(partita::map_job_model& job, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const auto n = job.partition_count();
  std::vector<partita::bytes> results(n);
  tbb::task_arena arena(1);
  for (auto id = static_cast<std::uint64_t>(rank); id < n; id += static_cast<std::uint64_t>(size))
    results[id] = run_one(job, id, arena);
  for (std::uint64_t id = 0; id < n; ++id) {
    const int owner = static_cast<int>(id % static_cast<std::uint64_t>(size));
    if (owner == 0) continue;
    if (rank == owner) {
      PARTITA_MPI(MPI_Send(results[id].data(), static_cast<int>(results[id].size()), MPI_BYTE, 0, 1, comm));
    } else if (rank == 0) {
      MPI_Status st;
      int count = 0;
      PARTITA_MPI(MPI_Probe(owner, 1, comm, &st));
      PARTITA_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
      results[id].resize(static_cast<std::size_t>(count));
      PARTITA_MPI(MPI_Recv(results[id].data(), count, MPI_BYTE, owner, 1, comm, MPI_STATUS_IGNORE));
    }
  }
  return figures{0, 0, 0, rank == 0 ? fold_all(job, results) : std::string()};
}

figures with_partita(partita::session& s, partita::map_job_model& job, int threads, bool take_back = true) {
  partita::run_config c;
  c.threads = threads;
  c.take_back = take_back;
  c.quiet = true;
  const auto rep = partita::run_map_reduce(s, job, c);
  figures f;
  f.result = rep.result_text;
  for (const auto& w : rep.workers) f.kernel += w.busy_seconds;
  return f;
}

/// A launched run: does `o.child` once between barriers and prints `seconds= cpu= kernel= result=` on rank 0.
int child(partita::session& s, const options& o) {
  const MPI_Comm comm = s.comm();
  auto job = make_job(o.max_iter);
  PARTITA_MPI(MPI_Barrier(comm));
  const double cpu0 = partita::bench::process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  figures f;
  if (o.child == "plain") f = plain_threads(*job, o.threads);
  else if (o.child == "plain-mpi") f = plain_mpi(*job, comm);
  else if (o.child == "partita") f = with_partita(s, *job, o.threads);
  else if (o.child == "partita-no-take-back") f = with_partita(s, *job, o.threads, false);
  else
    throw partita::usage_error("--child must be plain, plain-mpi, partita or partita-no-take-back, not '" + o.child +
                               "'");
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.cpu = partita::bench::process_cpu_seconds() - cpu0;
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &f.cpu, 1, MPI_DOUBLE, MPI_SUM, comm));
  if (s.rank().value == 0)
    std::printf("seconds=%.6f cpu=%.6f kernel=%.6f result=%s\n", t, f.cpu, f.kernel, f.result.c_str());
  return 0;
}

struct row {
  std::string name;
  int ranks = 1;
  std::string kind;
  int threads = 1;
  figures best;
  bool ran = false;
};

/// Launches `r` once and reads its line; throws error when the run fails or says something else.
figures launch(const std::string& self, const row& r, const options& o) {
  const std::string cmd = fmt::format("{} {} -n {} {} --child {} --threads {} --max-iter {} 2>&1",
                                      PARTITA_BENCH_MPIEXEC, PARTITA_BENCH_MPIEXEC_FLAGS, r.ranks, self, r.kind,
                                      r.threads, o.max_iter);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw partita::error("cannot launch " + cmd);
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p)) out += buf.data();
  const int rc = pclose(p);
  const auto at = out.find("seconds=");
  figures f;
  char result[512] = {};
  if (rc != 0 || at == std::string::npos ||
      std::sscanf(out.c_str() + at, "seconds=%lf cpu=%lf kernel=%lf result=%511[^\n]", &f.seconds, &f.cpu, &f.kernel,
                  result) != 4)
    throw partita::error(fmt::format("{} failed (exit {}): {}", cmd, rc, out));
  f.result = result;
  return f;
}

int driver(const options& o, const char* argv0) {
  char self[4096] = {};
  const auto len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  const std::string exe = len > 0 ? std::string(self, static_cast<std::size_t>(len)) : std::string(argv0);
  std::vector<row> rows;
  auto add = [&](std::string name, int ranks, std::string kind, int threads) {
    row r;
    r.name = std::move(name);
    r.ranks = ranks;
    r.kind = std::move(kind);
    r.threads = threads;
    rows.push_back(std::move(r));
  };
  add("plain, 1 thread", 1, "plain", 1);
  add("plain threads, 1 rank x 2", 1, "plain", 2);
  add("plain MPI, 2 ranks x 1", 2, "plain-mpi", 1);
  add("partita, 1 rank x 1", 1, "partita", 1);
  add("partita, 1 rank x 2", 1, "partita", 2);
  add("partita, 2 ranks x 1", 2, "partita", 1);
  add("partita, 2 x 1, no take-back", 2, "partita-no-take-back", 1);  // the baseline of take-back (design.md)
  double load[3] = {};
  for (int round = 0; round < o.reps; ++round)
    for (auto& r : rows) {
      const auto f = launch(exe, r, o);
      if (!r.ran || f.seconds < r.best.seconds) r.best = f;
      r.ran = true;
    }
  const bool loaded = getloadavg(load, 3) == 3;
  const auto& t1 = rows[3].best;
  const auto& p1 = rows[0].best;
  std::printf("bench_efficiency: mandelbrot max_iter=%llu, best of %d rounds; load average %s\n",
              static_cast<unsigned long long>(o.max_iter), o.reps,
              loaded ? fmt::format("{:.2f} {:.2f} {:.2f}", load[0], load[1], load[2]).c_str() : "unknown");
  std::printf("%-28s %10s %10s %10s %11s  %s\n", "run", "seconds", "CPU s", "kernel s", "efficiency", "result");
  for (const auto& r : rows) {
    const bool is_partita = r.kind.starts_with("partita");
    const double base = is_partita ? t1.seconds : p1.seconds;
    const int cores = r.ranks * r.threads;
    std::printf("%-28s %10.3f %10.3f %10s %11s  %s\n", r.name.c_str(), r.best.seconds, r.best.cpu,
                is_partita ? fmt::format("{:.3f}", r.best.kernel).c_str() : "-",
                cores > 1 ? fmt::format("{:.3f}", base / (cores * r.best.seconds)).c_str() : "-",
                r.best.result.c_str());
    if (r.best.result != rows[0].best.result)
      throw partita::error(r.name + " computed another image than the plain loop: " + r.best.result);
  }
  const double e12 = t1.seconds / (2 * rows[4].best.seconds);
  const double e21 = t1.seconds / (2 * rows[5].best.seconds);
  const double cpu_per_kernel = t1.kernel > 0 ? t1.cpu / t1.kernel : 0;
  std::printf("target: efficiency T1/(2T) >= 0.95 in both layouts; process CPU / kernel time <= 1.03 at 1 thread\n");
  std::printf("partita 1 thread / plain 1 thread: %.3f\n", p1.seconds / t1.seconds);
  std::printf("plain threads / partita, 1 rank x 2: %.3f\n", rows[1].best.seconds / rows[4].best.seconds);
  std::printf("plain MPI / partita, 2 ranks x 1: %.3f\n", rows[2].best.seconds / rows[5].best.seconds);
  std::printf("take-back off / on, partita 2 ranks x 1: %.3f\n", rows[6].best.seconds / rows[5].best.seconds);
  std::printf("ratio CPU/kernel, partita 1 rank x 1: %.3f (%s)\n", cpu_per_kernel,
              cpu_per_kernel <= 1.03 ? "met" : "MISSED");
  std::printf("ratio efficiency 1 rank x 2: %.3f (%s)\n", e12, e12 >= 0.95 ? "met" : "MISSED");
  std::printf("ratio efficiency 2 ranks x 1: %.3f (%s)\n", e21, e21 >= 0.95 ? "met" : "MISSED");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool is_child = false;
  for (int i = 1; i < argc; ++i) is_child |= std::string(argv[i]) == "--child";
  if (!is_child) {
    // The driver starts no MPI itself: its runs are mpirun's, and a singleton MPI here would share their cores.
    try {
      return driver(parse(argc, argv), argv[0]);
    } catch (const partita::usage_error& e) {
      std::fprintf(stderr, "bench_efficiency: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_efficiency: %s\n", e.what());
      return 1;
    }
  }
  partita::session s(argc, argv);
  const auto parsed = partita::bench::start("bench_efficiency", s, argc, argv, parse, 1);
  if (!parsed) return 2;
  return child(s, *parsed);
}
