// Dispatch rate of empty partitions: Partita's scheduler against a hand-written MPI self-scheduling loop
// (plain MPI_Send/MPI_Recv, rank 0 hands out one partition per message), measured at the same rank count in
// the same run. The last line is the ratio.
//
//   mpirun -n 4 bench_dispatch [--one N] [--auto N] [--reps R] [--smoke]
//
// Rows (each the best of R rounds; a round runs every row once, so the baseline and Partita run next to each
// other under the same load; wall time between barriers, max over ranks; "cpu us/p": CPU of all ranks per
// partition, set-up included, the median round's):
//                        (and one out)
//   hand loop            rank 0 only dispatches; the other ranks run one partition per message
//   one/msg, shared      Partita, chunk=1, max_chunks_per_message=1 (prefetch on, as designed); the scheduler
//                        rank also runs partitions
//   one/msg, dedicated   the same with a dedicated scheduler (like the hand loop's master)
//   auto, …              chunk=0: the dispatcher sizes chunks from the measured message and partition costs
//   …, metrics on        the same as the row without, with --metrics-file (docs/metrics.md) at its default
//                        interval: the cost of live metrics, as a ratio of the two rows in the same run
// Partitions are empty: the kernel returns a small integer, summed in partition-id order.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/session.hpp>
#include <partita/scheduler/detail/metrics_publisher.hpp>

#include "bench_start.hpp"
#include "timing.hpp"

namespace {

struct options {
  std::uint64_t one = 200'000;           // partitions for the one-per-message runs (hand loop included)
  std::uint64_t automatic = 20'000'000;  // partitions for the automatic-chunking runs
  int reps = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return partita::bench::positive_value(argc, argv, i); };
    if (a == "--one") o.one = value();
    else if (a == "--auto") o.automatic = value();
    else if (a == "--reps") o.reps = static_cast<int>(value());
    else if (a == "--smoke") {
      o.one = 5'000;
      o.automatic = 200'000;
      o.reps = 1;
    } else {
      throw partita::usage_error("unknown option " + a + " (--one N --auto N --reps R --smoke)");
    }
  }
  return o;
}

std::int64_t kernel_value(std::uint64_t id) { return static_cast<std::int64_t>(id % 7); }

std::int64_t expected_sum(std::uint64_t n) {
  std::int64_t s = 0;
  for (std::uint64_t r = 0; r < 7; ++r) s += static_cast<std::int64_t>(r * ((n + 6 - r) / 7));
  return s;
}

enum tag : int { work = 1, stop = 2, result = 3 };

/// The baseline: rank 0 is a master that does nothing but hand out one partition per message; every other
/// rank receives an id, runs the kernel, sends {id, value} back and waits for the next id.
std::int64_t hand_loop(MPI_Comm comm, std::uint64_t n) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::int64_t sum = 0;
  if (rank == 0) {
    std::uint64_t next = 0;
    int active = 0;
    for (int w = 1; w < size; ++w) {
      if (next < n) {
        PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, w, work, comm));
        ++next;
        ++active;
      } else {
        PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, w, stop, comm));
      }
    }
    while (active > 0) {
      std::int64_t msg[2];
      MPI_Status st;
      PARTITA_MPI(MPI_Recv(msg, 2, MPI_INT64_T, MPI_ANY_SOURCE, result, comm, &st));
      sum += msg[1];
      if (next < n) {
        PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, st.MPI_SOURCE, work, comm));
        ++next;
      } else {
        PARTITA_MPI(MPI_Send(&next, 1, MPI_UINT64_T, st.MPI_SOURCE, stop, comm));
        --active;
      }
    }
  } else {
    for (;;) {
      std::uint64_t id = 0;
      MPI_Status st;
      PARTITA_MPI(MPI_Recv(&id, 1, MPI_UINT64_T, 0, MPI_ANY_TAG, comm, &st));
      if (st.MPI_TAG == stop) break;
      const std::int64_t msg[2] = {static_cast<std::int64_t>(id), kernel_value(id)};
      PARTITA_MPI(MPI_Send(msg, 2, MPI_INT64_T, 0, result, comm));
    }
  }
  PARTITA_MPI(MPI_Bcast(&sum, 1, MPI_INT64_T, 0, comm));
  return sum;
}

/// The limit: rank 0 receives `n` messages of `message_bytes` from the other ranks, which send them in windows of
/// `window` non-blocking sends (their share each, the first ranks one more when `n` does not divide). Returns the
/// count received (on every rank).
std::int64_t message_limit(MPI_Comm comm, std::uint64_t n) {
  constexpr int message_bytes = 64;
  constexpr int window = 64;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const auto senders = static_cast<std::uint64_t>(size - 1);
  std::int64_t got = 0;
  std::byte buffer[message_bytes] = {};
  if (rank == 0) {
    for (std::uint64_t i = 0; i < n; ++i) {
      PARTITA_MPI(MPI_Recv(buffer, message_bytes, MPI_BYTE, MPI_ANY_SOURCE, result, comm, MPI_STATUS_IGNORE));
      ++got;
    }
  } else {
    const auto me = static_cast<std::uint64_t>(rank - 1);
    std::uint64_t mine = n / senders + (me < n % senders ? 1 : 0);
    MPI_Request requests[window];
    while (mine > 0) {
      const int k = static_cast<int>(std::min<std::uint64_t>(mine, window));
      for (int i = 0; i < k; ++i)
        PARTITA_MPI(MPI_Isend(buffer, message_bytes, MPI_BYTE, 0, result, comm, &requests[i]));
      PARTITA_MPI(MPI_Waitall(k, requests, MPI_STATUSES_IGNORE));
      mine -= static_cast<std::uint64_t>(k);
    }
  }
  PARTITA_MPI(MPI_Bcast(&got, 1, MPI_INT64_T, 0, comm));
  return got;
}

struct row {
  std::string name;
  std::uint64_t partitions = 0;
  double seconds = 0;      // best wall time
  double cpu_seconds = 0;  // CPU seconds of all ranks, the median round's
  std::uint64_t dispatches = 0;
  double rate() const { return static_cast<double>(partitions) / seconds; }
  double cpu_us_per_partition() const { return 1e6 * cpu_seconds / static_cast<double>(partitions); }
};

/// Runs `body` once between barriers: its wall time (max over ranks), and in `cpu` the CPU seconds of all ranks.
/// `body` returns the sum, which must be `expect`.
template <class F>
double timed_once(MPI_Comm comm, double& cpu, std::int64_t expect, const std::string& what, F&& body) {
  return partita::bench::timed(comm, cpu, [&] {
    const std::int64_t got = body();
    if (got != expect) throw partita::error(fmt::format("{}: sum {} instead of {}", what, got, expect));
  });
}

/// What one metrics write costs on this machine (format a snapshot of `ranks` ranks, write, rename): the whole cost
/// of --metrics-file is one such write per interval plus one time comparison per scheduler round.
double metrics_write_seconds(int ranks, const std::filesystem::path& file) {
  partita::output_options o;
  o.metrics_file = file;
  partita::detail::metrics_publisher p(o, {"empty", "map_reduce", partita::detail::hash_label(1)});
  partita::detail::metrics_snapshot snap;
  snap.total = 1000;
  snap.ranks.assign(static_cast<std::size_t>(ranks), {1, 0, 0});
  snap.chunks = snap.messages = snap.speculative_copies = snap.speculative_won = snap.taken_back = 0;
  const int n = 200;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    snap.done = static_cast<std::uint64_t>(i);
    p.publish(snap, t0 + std::chrono::seconds(i));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const bool root = s.rank().value == 0;
  const auto parsed = partita::bench::start("bench_dispatch", s, argc, argv, parse, 2);
  if (!parsed) return 2;
  const options& o = *parsed;

  auto make_job = [](std::uint64_t n) {
    return partita::map_reduce_job<std::int64_t>("empty")
        .partitions(n)
        .kernel([](const partita::partition& p, partita::context&) { return kernel_value(p.id.value); })
        .combine([](std::int64_t& a, std::int64_t&& b) { a += b; });
  };

  // Each row is run once per round and rounds repeat `reps` times (best time kept): on a shared machine the load
  // drifts, and runs of the baseline and of Partita next to each other see the same load.
  std::vector<row> rows;
  std::vector<std::function<std::int64_t()>> bodies;
  std::vector<std::vector<double>> times;  // per row, per round
  std::vector<std::vector<double>> cpus;   // per row, per round: CPU seconds of all ranks
  std::vector<std::int64_t> expect;        // per row: what its body returns
  rows.push_back(row{"hand loop (MPI_Send/Recv, 1/msg)", o.one});
  rows.back().dispatches = o.one;
  bodies.push_back([&, n = o.one] { return hand_loop(comm, n); });
  expect.push_back(expected_sum(o.one));
  const auto limit = rows.size();
  rows.push_back(row{"message limit (MPI_Recv of Isend windows)", o.one});
  rows.back().dispatches = o.one;
  bodies.push_back([&, n = o.one] { return message_limit(comm, n); });
  expect.push_back(static_cast<std::int64_t>(o.one));
  // Live metrics rows write here (the scheduler rank's own file; removed at the end).
  const auto metrics_file = std::filesystem::temp_directory_path() /
                            fmt::format("bench_dispatch.{}.prom", static_cast<long>(getpid()));
  auto partita_row = [&](std::string name, std::uint64_t n, const std::string& policy, std::uint64_t chunk,
                         int per_message, bool dedicated, bool metrics = false) {
    partita::run_config c;
    if (metrics) c.metrics_file = metrics_file;
    c.policy = policy;
    c.threads = 1;
    c.chunk = chunk;
    c.max_chunks_per_message = per_message;
    c.scheduler_runs_partitions = !dedicated;
    c.quiet = true;
    rows.push_back(row{std::move(name), n});
    expect.push_back(expected_sum(n));
    const auto i = rows.size() - 1;
    bodies.push_back([&, i, c, job = make_job(n)] {
      auto res = partita::run(s, job, c);
      std::uint64_t dispatches = res.is_scheduler() ? res.report().dispatches : 0;
      PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &dispatches, 1, MPI_UINT64_T, MPI_MAX, comm));
      rows[i].dispatches = dispatches;
      return res.value();
    });
    return i;
  };
  const auto one_shared = partita_row("partita 1/msg, scheduler runs partitions", o.one, "dynamic", 1, 1, false);
  const auto one_dedicated = partita_row("partita 1/msg, dedicated scheduler", o.one, "dynamic", 1, 1, true);
  const auto auto_shared = partita_row("partita auto chunk (dynamic), shared", o.automatic, "dynamic", 0, 0, false);
  const auto auto_dedicated = partita_row("partita auto chunk (dynamic), dedicated", o.automatic, "dynamic", 0, 0,
                                          true);
  const auto adaptive = partita_row("partita auto chunk (adaptive), shared", o.automatic, "adaptive", 0, 0, false);
  const auto one_metrics = partita_row("partita 1/msg, dedicated, metrics on", o.one, "dynamic", 1, 1, true, true);
  const auto adaptive_metrics = partita_row("partita auto chunk (adaptive), metrics on", o.automatic, "adaptive", 0, 0,
                                            false, true);
  times.resize(rows.size());
  cpus.resize(rows.size());
  for (int round = 0; round < o.reps; ++round)
    for (std::size_t k = 0; k < rows.size(); ++k) {
      // Odd rounds run the rows backwards, so that a pair compared (metrics on/off) does not always run in one order.
      const std::size_t i = round % 2 == 0 ? k : rows.size() - 1 - k;
      double cpu = 0;
      times[i].push_back(timed_once(comm, cpu, expect[i], rows[i].name, bodies[i]));
      cpus[i].push_back(cpu);
    }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].seconds = *std::min_element(times[i].begin(), times[i].end());
    auto c = cpus[i];
    std::sort(c.begin(), c.end());
    rows[i].cpu_seconds = c[c.size() / 2];
  }

  if (root) {
    const double hand = rows[0].rate();
    std::printf("bench_dispatch: %d ranks, empty partitions, best of %d rounds\n", s.size(), o.reps);
    std::printf("%-44s %12s %10s %12s %14s %8s %9s\n", "run", "partitions", "seconds", "messages", "partitions/s",
                "vs hand", "cpu us/p");
    for (const auto& r : rows)
      std::printf("%-44s %12llu %10.3f %12llu %14.0f %7.2fx %9.3f\n", r.name.c_str(),
                  static_cast<unsigned long long>(r.partitions), r.seconds,
                  static_cast<unsigned long long>(r.dispatches), r.rate(), r.rate() / hand, r.cpu_us_per_partition());
    const double best_auto = std::max({rows[auto_shared].rate(), rows[auto_dedicated].rate(), rows[adaptive].rate()});
    // The targets of issue 9 (a dedicated scheduler, as the hand loop has one); "missed" is printed, not hidden.
    const double dedicated = rows[one_dedicated].rate() / hand;
    std::printf("target: 1/msg dedicated >= 0.90x hand loop; auto chunking >= 1e7 partitions/s at 4 ranks\n");
    std::printf("1/msg dedicated: %.2fx (%s)\n", dedicated, dedicated >= 0.9 ? "met" : "MISSED");
    std::printf("auto chunking best: %.3g partitions/s (%s; issue 21: >= 1.5e7, %s)\n", best_auto,
                best_auto >= 1e7 ? "met" : "MISSED", best_auto >= 1.5e7 ? "met" : "MISSED");
    std::printf("1/msg dedicated / hand loop, round by round:");
    for (int round = 0; round < o.reps; ++round)
      std::printf(" %.2f",
                  times[0][static_cast<std::size_t>(round)] / times[one_dedicated][static_cast<std::size_t>(round)]);
    std::printf("\n");
    // Issue 21's target: one partition per message at half the rate of small messages into one rank.
    const double of_limit = rows[one_dedicated].rate() / rows[limit].rate();
    std::printf("target: 1/msg dedicated >= 0.50x the message limit (%.3g messages/s into rank 0)\n",
                rows[limit].rate());
    std::printf("1/msg dedicated / message limit, round by round:");
    for (int round = 0; round < o.reps; ++round)
      std::printf(" %.2f", times[limit][static_cast<std::size_t>(round)] /
                               times[one_dedicated][static_cast<std::size_t>(round)]);
    std::printf("\n");
    // CPU per message, all ranks: wall rates on a loaded machine move with the load, this much less; the part of the
    // cost that is Partita's own.
    std::printf("cpu per partition (all ranks, us): message limit %.3f, 1/msg dedicated %.3f (%.2fx the limit's)\n",
                rows[limit].cpu_us_per_partition(), rows[one_dedicated].cpu_us_per_partition(),
                rows[one_dedicated].cpu_us_per_partition() / rows[limit].cpu_us_per_partition());
    std::printf("ratio 1/msg shared / message limit: %.2f\n", rows[one_shared].rate() / rows[limit].rate());
    std::printf("ratio 1/msg dedicated / hand loop: %.2f\n", dedicated);
    std::printf("ratio 1/msg dedicated / message limit: %.2f (%s)\n", of_limit, of_limit >= 0.5 ? "met" : "MISSED");
    std::printf("ratio 1/msg shared / hand loop: %.2f\n", rows[one_shared].rate() / hand);
    // Issue 20: live metrics cost nothing measurable (target >= 0.99x with them off, same run).
    const double m_one = rows[one_metrics].rate() / rows[one_dedicated].rate();
    const double m_auto = rows[adaptive_metrics].rate() / rows[adaptive].rate();
    // On a shared machine the best times drift by more than the effect: the median of the rounds' ratios too.
    auto rounds = [&](const char* what, std::size_t off, std::size_t on) {
      std::vector<double> r;
      for (int round = 0; round < o.reps; ++round)
        r.push_back(times[off][static_cast<std::size_t>(round)] / times[on][static_cast<std::size_t>(round)]);
      std::printf("metrics on / off, %s, round by round:", what);
      for (double x : r) std::printf(" %.3f", x);
      std::sort(r.begin(), r.end());
      std::printf("; median %.3f\n", r[r.size() / 2]);
    };
    const double write = metrics_write_seconds(s.size(), metrics_file);
    std::printf("one metrics write (%d ranks): %.1f us, i.e. %.5f%% of a core at the default 2 s interval\n", s.size(),
                write * 1e6, 100 * write / partita::output_options{}.metrics_interval_seconds);
    rounds("1/msg dedicated", one_dedicated, one_metrics);
    rounds("auto chunk (adaptive)", adaptive, adaptive_metrics);
    // The work metrics add, as CPU of all ranks per partition (off / on: >= 0.99 means they add at most 1 %): far less
    // moved by the machine's load than the wall rates, though polling ranks still burn more CPU when descheduled.
    std::printf("cpu per partition metrics off / on: 1/msg dedicated %.3f, auto chunk (adaptive) %.3f\n",
                rows[one_dedicated].cpu_us_per_partition() / rows[one_metrics].cpu_us_per_partition(),
                rows[adaptive].cpu_us_per_partition() / rows[adaptive_metrics].cpu_us_per_partition());
    std::printf("ratio metrics on / off, 1/msg dedicated: %.3f (%s)\n", m_one, m_one >= 0.99 ? "met" : "MISSED");
    std::printf("ratio metrics on / off, auto chunk (adaptive): %.3f (%s)\n", m_auto,
                m_auto >= 0.99 ? "met" : "MISSED");
  }
  std::error_code ignored;
  std::filesystem::remove(metrics_file, ignored);
  return 0;
}
