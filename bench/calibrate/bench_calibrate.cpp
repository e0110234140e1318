// Calibration for tools/simulate (the model of large runs): what one message and one result cost on this
// machine. Writes key=value lines that partita_simulate --calibration reads.
//
//   mpirun -n 4 bench_calibrate [--out FILE] [--one N] [--results N] [--reps R] [--smoke]
//
// Figures (each the best of R repetitions):
//   latency_s      one-way time of a 16-byte MPI message between ranks 0 and 1 (half a ping-pong round trip)
//   bandwidth_Bps  1 MiB ping-pong between ranks 0 and 1
//   complete_s     partita::dispatcher::complete() per result, and assign_s: assign() per chunk (the real
//                  dispatcher, in a loop on rank 0)
//   message_s      a dedicated Partita scheduler's time per message beyond complete+assign: a job of empty
//                  partitions, one per message, wall time / messages (the scheduler is the bottleneck there, so this
//                  is its service time, with the MPI send/receive on its side)
//   result_s       per result beyond complete(): decoding a request of 1000 results (detail::decode_request) and
//                  folding each 24-byte result (the job model's fold), Partita's own code in a loop on rank 0
//   partition_s    a worker thread's own time per partition beyond the kernel (partita::executor running
//                  chunks of empty partitions on one thread: context, result serialisation, hand-over)
// A comment line gives what a folded block's commit costs the dispatcher, alone and in runs of consecutive blocks.
// The ratio line compares the scheduler's time per message with the MPI round trip it cannot do without.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

#include "bench_start.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::string out;
  std::uint64_t one = 100'000;        // partitions of the one-per-message job
  std::uint64_t results = 2'000'000;  // results decoded and folded, partitions run by the executor
  int pings = 20'000;
  int reps = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return partita::bench::positive_value(argc, argv, i); };
    if (a == "--out") {
      if (i + 1 >= argc) throw partita::usage_error("--out needs a file name");
      o.out = argv[++i];
    } else if (a == "--one") o.one = value();
    else if (a == "--results") o.results = value();
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--smoke") {
      o.one = 2'000;
      o.results = 50'000;
      o.pings = 500;
      o.reps = 1;
    } else {
      throw partita::usage_error("unknown option " + a + " (--out FILE --one N --results N --reps R --smoke)");
    }
  }
  return o;
}

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

/// Half the best round trip of `bytes` between ranks 0 and 1 (others wait at the barrier).
double ping_pong(MPI_Comm comm, int rank, std::size_t bytes, int count, int reps) {
  std::vector<char> buf(bytes);
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    PARTITA_MPI(MPI_Barrier(comm));
    const auto t0 = clock_type::now();
    for (int i = 0; i < count && rank < 2; ++i) {
      if (rank == 0) {
        PARTITA_MPI(MPI_Send(buf.data(), static_cast<int>(bytes), MPI_BYTE, 1, 7, comm));
        PARTITA_MPI(MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_BYTE, 1, 7, comm, MPI_STATUS_IGNORE));
      } else {
        PARTITA_MPI(MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_BYTE, 0, 7, comm, MPI_STATUS_IGNORE));
        PARTITA_MPI(MPI_Send(buf.data(), static_cast<int>(bytes), MPI_BYTE, 0, 7, comm));
      }
    }
    double t = seconds_since(t0) / (2.0 * count);
    PARTITA_MPI(MPI_Bcast(&t, 1, MPI_DOUBLE, 0, comm));
    best = std::min(best, t);
  }
  return best;
}

/// The real dispatcher's cost per assign() (one chunk of one partition) and per complete(), on this rank.
std::pair<double, double> dispatcher_costs(std::uint64_t n, int reps) {
  double assign_best = 1e300, complete_best = 1e300;
  for (int r = 0; r < reps; ++r) {
    partita::dispatcher d(n, std::vector<int>(8, 1), partita::make_policy("dynamic", 1));
    std::vector<std::uint64_t> ids;
    ids.reserve(n);
    const auto t0 = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i)
      for (const auto& chunk : d.assign(partita::rank_t{static_cast<int>(i % 8)}, 1))
        for (const auto& range : chunk)
          for (auto id = range.begin; id < range.end; ++id) ids.push_back(id);
    const double assign_s = seconds_since(t0) / static_cast<double>(n);
    const auto t1 = clock_type::now();
    for (std::size_t i = 0; i < ids.size(); ++i)
      d.complete(partita::rank_t{static_cast<int>(i % 8)}, partita::partition_id{ids[i]}, 1e-6);
    const double complete_s = seconds_since(t1) / static_cast<double>(ids.size());
    if (!d.finished()) throw partita::error("bench_calibrate: the dispatcher did not finish");
    assign_best = std::min(assign_best, assign_s);
    complete_best = std::min(complete_best, complete_s);
  }
  return {assign_best, complete_best};
}

/// The real dispatcher's commit of a node scheduler's folded blocks of 32 ids (complete_range): per block when
/// each block is its own commit, and per block when runs of 16 consecutive blocks are one commit
/// (root_core::commit_blocks). The model charges complete_s per commit and result_s per block; this checks that a
/// block commit costs about what complete() does, and a run about one block's commit.
std::pair<double, double> block_commit_costs(std::uint64_t blocks, int reps) {
  constexpr std::uint64_t block = 32, run = 16;
  blocks -= blocks % run;
  double alone_best = 1e300, runs_best = 1e300;
  for (int r = 0; r < reps; ++r)
    for (const std::uint64_t per_commit : {std::uint64_t{1}, run}) {
      partita::dispatcher d(blocks * block, std::vector<int>(8, 1), partita::make_policy("dynamic", 1));
      while (!d.assign(partita::rank_t{0}, 1024).empty()) {
      }
      const auto t0 = clock_type::now();
      for (std::uint64_t k = 0; k < blocks; k += per_commit)
        d.complete_range(partita::rank_t{0}, {k * block, (k + per_commit) * block}, 1e-3);
      const double per_block = seconds_since(t0) / static_cast<double>(blocks);
      if (!d.finished()) throw partita::error("bench_calibrate: the dispatcher did not finish the blocks");
      auto& best = per_commit == 1 ? alone_best : runs_best;
      best = std::min(best, per_block);
    }
  return {alone_best, runs_best};
}

/// A result like the synthetic job's (a 24-byte plain struct), folded in id order.
struct sample_result {
  std::uint64_t hash = 0, count = 0, cost_ns = 0;
};

auto sample_job(std::uint64_t n) {
  return partita::map_reduce_job<sample_result>("calibrate")
      .partitions(n)
      .kernel([](const partita::partition& p, partita::context&) {
        return sample_result{p.id.value * 31, 1, 0};
      })
      .combine([](sample_result& a, sample_result&& b) {
        a.hash = a.hash * 1099511628211ull + b.hash;
        a.count += b.count;
      });
}

/// Seconds per result to decode requests of 1000 results and fold them (the scheduler's side of a result beyond
/// dispatcher::complete()).
double decode_and_fold(std::uint64_t n, int reps) {
  constexpr std::uint64_t batch = 1000;
  partita::result_batch rb;
  for (std::uint64_t i = 0; i < batch; ++i) {
    rb.ids.push_back(i);
    rb.nanos.push_back(1000);
    partita::serialize_into(rb.data, sample_result{i, 1, 1000});
    rb.ends.push_back(static_cast<std::uint32_t>(rb.data.size()));
  }
  const auto wire = partita::detail::encode_request(0, rb);
  auto model = sample_job(n).model();
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    model->reset();
    const auto t0 = clock_type::now();
    for (std::uint64_t done = 0; done < n; done += batch) {
      const auto m = partita::detail::decode_request(wire);
      for (std::size_t i = 0; i < m.results.size(); ++i) model->fold(m.results.result(i));
    }
    best = std::min(best, seconds_since(t0) / static_cast<double>(n));
  }
  return best;
}

/// Seconds of a worker thread per empty partition: partita::executor with one thread, chunks of 1000.
double executor_overhead(std::uint64_t n, int reps) {
  auto model = sample_job(n).model();
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    partita::executor exec(*model, 1, 1, false, clock_type::now());
    partita::result_batch out;
    const auto t0 = clock_type::now();
    for (std::uint64_t b = 0; b < n; b += 1000) exec.submit({partita::id_range{b, std::min(n, b + 1000)}});
    exec.wait_idle();
    exec.drain(out);
    best = std::min(best, seconds_since(t0) / static_cast<double>(n));
    if (out.size() != n)
      throw partita::error("bench_calibrate: the executor ran " + std::to_string(out.size()) + " partitions");
  }
  return best;
}

struct job_figures {
  double seconds = 1e300;
  std::uint64_t messages = 0;
};

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const int rank = s.rank().value;
  const auto parsed = partita::bench::start("bench_calibrate", s, argc, argv, parse, 2);
  if (!parsed) return 2;
  const options& o = *parsed;

  const double latency = ping_pong(comm, rank, 16, o.pings, o.reps);
  const double big = ping_pong(comm, rank, 1 << 20, std::max(10, o.pings / 200), o.reps);
  const double bandwidth = static_cast<double>(1 << 20) / big;
  auto [assign_s, complete_s] = dispatcher_costs(std::max<std::uint64_t>(o.one, 100'000), o.reps);
  double result_s = rank == 0 ? decode_and_fold(o.results, o.reps) : 0;
  double partition_s = rank == 0 ? executor_overhead(o.results / 4, o.reps) : 0;
  const auto [block_alone_s, block_in_runs_s] =  // printed by rank 0 only
      rank == 0 ? block_commit_costs(std::max<std::uint64_t>(o.one, 100'000) / 8, o.reps) : std::pair{0.0, 0.0};
  for (double* v : {&assign_s, &complete_s, &result_s, &partition_s}) PARTITA_MPI(MPI_Bcast(v, 1, MPI_DOUBLE, 0, comm));

  auto run_job = [&](std::uint64_t n, std::uint64_t chunk, int per_message) {
    const auto job = partita::map_reduce_job<std::int64_t>("empty")
                         .partitions(n)
                         .kernel([](const partita::partition& p, partita::context&) {
                           return static_cast<std::int64_t>(p.id.value % 7);
                         })
                         .combine([](std::int64_t& a, std::int64_t&& b) { a += b; });
    partita::run_config c;
    c.policy = "dynamic";
    c.threads = 1;
    c.chunk = chunk;
    c.max_chunks_per_message = per_message;
    c.scheduler_runs_partitions = false;
    c.quiet = true;
    job_figures best;
    for (int r = 0; r < o.reps; ++r) {
      PARTITA_MPI(MPI_Barrier(comm));
      auto res = partita::run(s, job, c);
      double t = res.report().wall_seconds;
      std::uint64_t m = res.report().dispatches;
      PARTITA_MPI(MPI_Bcast(&t, 1, MPI_DOUBLE, res.report().scheduler.value, comm));
      PARTITA_MPI(MPI_Bcast(&m, 1, MPI_UINT64_T, res.report().scheduler.value, comm));
      if (t < best.seconds) best = {t, m};
    }
    return best;
  };
  const auto one = run_job(o.one, 1, 1);
  const double per_message = one.seconds / static_cast<double>(std::max<std::uint64_t>(one.messages, 1));
  // Each message of the one-per-message job carries one result and hands out one chunk.
  const double message_s = std::max(0.0, per_message - complete_s - assign_s - result_s);

  if (rank == 0) {
    const auto text = fmt::format(
        "# bench_calibrate: {} ranks, dedicated scheduler; read by partita_simulate --calibration\n"
        "latency_s={:.4g}\nbandwidth_Bps={:.4g}\nmessage_s={:.4g}\ncomplete_s={:.4g}\nassign_s={:.4g}\n"
        "result_s={:.4g}\npartition_s={:.4g}\n"
        "# raw: one/msg job {} partitions {:.4f} s {} messages ({:.4g} s per message)\n"
        "# blocks of 32 ids, dispatcher::complete_range per block: {:.4g} s alone, {:.4g} s in runs of 16\n",
        s.size(), latency, bandwidth, message_s, complete_s, assign_s, result_s, partition_s, o.one, one.seconds,
        one.messages, per_message, block_alone_s, block_in_runs_s);
    std::fputs(text.c_str(), stdout);
    std::printf("ratio scheduler time per message / MPI round trip: %.2f\n", per_message / (2 * latency));
    if (!o.out.empty()) {
      std::ofstream f(o.out);
      f << text;
      if (!f) {
        std::fprintf(stderr, "bench_calibrate: cannot write %s\n", o.out.c_str());
        return 1;
      }
    }
  }
  return 0;
}
