// Write bandwidth of a Partita checkpoint against a raw collective MPI-IO write of the same bytes, measured in
// the same run, and the checkpoint overhead at the Young/Daly interval. The last line is the ratio.
//
//   mpirun -n 4 bench_checkpoint [--bytes 256M] [--partitions-per-rank 4] [--reps 3] [--dir D] [--mtti 86400]
//   mpirun -n 4 bench_checkpoint --full          # 2 GiB, 5 repetitions
//   mpirun -n 4 bench_checkpoint --float64       # an iterative job's state: float64 /partitions/<id>/u arrays
//
// Both writes end durable: the raw one with MPI_File_sync, the checkpoint with its commit protocol (CRC-32s,
// fsync, rename, directory fsync, LATEST). Neither timing includes deleting the previous file: the raw file is
// removed after its timing, and old checkpoints likewise (retention is measured and printed on its own). Times
// are wall times between barriers; the best of the repetitions counts for the ratio, medians are printed too.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <partita/checkpoint.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>

#include "bench_start.hpp"

namespace fs = std::filesystem;

namespace {

struct options {
  std::uint64_t bytes = 256ull << 20;
  int partitions_per_rank = 4;
  int reps = 3;
  std::string dir;
  double mtti = 86400;
  bool float64 = false;  // partitions as float64 arrays (what iterative jobs with state_traits write)
};

std::uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  const std::string unit = end ? end : "";
  if (unit == "K" || unit == "k") v *= 1024;
  if (unit == "M" || unit == "m") v *= 1024 * 1024;
  if (unit == "G" || unit == "g") v *= 1024.0 * 1024 * 1024;
  if (!(v > 0)) throw partita::usage_error("--bytes: expected a size like 64M or 2G, got '" + s + "'");
  return static_cast<std::uint64_t>(v);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw partita::usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--bytes") o.bytes = parse_size(value());
    else if (a == "--partitions-per-rank") o.partitions_per_rank = std::max(1, std::atoi(value().c_str()));
    else if (a == "--reps") o.reps = std::max(1, std::atoi(value().c_str()));
    else if (a == "--dir") o.dir = value();
    else if (a == "--mtti") o.mtti = std::atof(value().c_str());
    else if (a == "--float64") o.float64 = true;
    else if (a == "--full") {
      o.bytes = 2ull << 30;
      o.reps = 5;
    } else {
      throw partita::usage_error(
          "unknown option " + a +
          " (--bytes N[K|M|G] --partitions-per-rank P --reps R --dir D --mtti S --full --float64)");
    }
  }
  return o;
}

double mib_per_s(std::uint64_t bytes, double s) { return static_cast<double>(bytes) / (1024.0 * 1024.0) / s; }

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const int rank = s.rank().value, size = s.size();
  const auto parsed = partita::bench::start("bench_checkpoint", s, argc, argv, parse);
  if (!parsed) return 2;
  const options& o = *parsed;
  // Every rank writes the same share: S / size bytes, in `partitions_per_rank` partitions.
  const std::uint64_t per_rank = o.bytes / static_cast<std::uint64_t>(size);
  const std::uint64_t total = per_rank * static_cast<std::uint64_t>(size);
  // Whole doubles per partition with --float64 (the raw write covers exactly the same bytes).
  const std::uint64_t per_part = per_rank / static_cast<std::uint64_t>(o.partitions_per_rank) / 8 * 8;
  if (o.float64 && per_rank % 8 != 0) {
    if (rank == 0) std::fprintf(stderr, "bench_checkpoint: --float64 needs --bytes / ranks to be a multiple of 8\n");
    return 2;
  }

  std::string dir = o.dir;
  if (rank == 0 && dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/partita-bench-checkpoint-" + std::to_string(::getpid());
  }
  {
    int n = static_cast<int>(dir.size());
    MPI_Bcast(&n, 1, MPI_INT, 0, comm);
    dir.resize(static_cast<std::size_t>(n));
    MPI_Bcast(dir.data(), n, MPI_CHAR, 0, comm);
  }
  if (rank == 0) fs::create_directories(dir);
  MPI_Barrier(comm);

  // The same bytes for both writes: one buffer per rank, cut into partitions for the checkpoint.
  partita::checkpoint_image image;
  image.meta.job = "bench";
  image.meta.model = "iterative";
  image.meta.rank_count = size;
  image.meta.partition_count = static_cast<std::uint64_t>(size) * static_cast<std::uint64_t>(o.partitions_per_rank);
  image.f64["scheduler/cost"] = std::vector<double>(image.meta.partition_count, 1.0);
  std::vector<char> raw(per_rank);
  for (std::uint64_t i = 0; i < per_rank; ++i)
    raw[i] = static_cast<char>((i * 131 + static_cast<std::uint64_t>(rank)) >> 3);
  for (int p = 0; p < o.partitions_per_rank; ++p) {
    const std::uint64_t begin = per_part * static_cast<std::uint64_t>(p);
    const std::uint64_t end = p + 1 == o.partitions_per_rank ? per_rank : begin + per_part;
    partita::partition_blob b;
    b.id = partita::partition_id{static_cast<std::uint64_t>(rank + p * size)};
    b.name = o.float64 ? "u" : "state";
    if (o.float64) b.type = partita::element_type::f64;
    b.data.resize(end - begin);
    std::memcpy(b.data.data(), raw.data() + begin, end - begin);
    image.partitions.push_back(std::move(b));
  }

  const std::string raw_path = dir + "/raw.bin";
  std::vector<double> raw_s, ckpt_s, prune_s;
  fs::path last;
  auto run_raw = [&] {
    MPI_Barrier(comm);
    const auto t0 = std::chrono::steady_clock::now();
    MPI_File fh;
    PARTITA_MPI(MPI_File_open(comm, raw_path.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh));
    // Pieces of at most 1 GiB (int counts); every rank makes the same number of collective calls.
    const std::uint64_t piece = 1ull << 30;
    const std::uint64_t calls = (per_rank + piece - 1) / piece;
    for (std::uint64_t c = 0; c < calls; ++c) {
      const std::uint64_t off = c * piece;
      const int n = static_cast<int>(std::min(piece, per_rank - off));
      PARTITA_MPI(MPI_File_write_at_all(fh, static_cast<MPI_Offset>(per_rank * static_cast<std::uint64_t>(rank) + off),
                                        raw.data() + off, n, MPI_BYTE, MPI_STATUS_IGNORE));
    }
    PARTITA_MPI(MPI_File_sync(fh));
    PARTITA_MPI(MPI_File_close(&fh));
    MPI_Barrier(comm);
    raw_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rank == 0) fs::remove(raw_path);
  };
  auto run_ckpt = [&](std::uint64_t epoch) {
    image.meta.epoch = partita::epoch_t{epoch};
    MPI_Barrier(comm);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = partita::write_checkpoint(comm, {dir, 1000}, image);
    MPI_Barrier(comm);
    ckpt_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rank == 0 && !last.empty()) {  // retention, outside the timing, like the raw file's removal
      const auto t1 = std::chrono::steady_clock::now();
      fs::remove(last);
      prune_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
    }
    last = r.file;
  };

  // Continue the numbering of an existing directory: a committed epoch is never overwritten.
  std::uint64_t base = 0;
  if (rank == 0) base = partita::newest_epoch(dir, "bench").value_or(partita::epoch_t{0}).value;
  MPI_Bcast(&base, 1, MPI_UINT64_T, 0, comm);
  try {
    for (int rep = 0; rep < o.reps; ++rep) {  // alternate the order so neither always runs on a warm cache
      if (rep % 2 == 0) {
        run_raw();
        run_ckpt(base + static_cast<std::uint64_t>(rep) + 1);
      } else {
        run_ckpt(base + static_cast<std::uint64_t>(rep) + 1);
        run_raw();
      }
    }
  } catch (const partita::error& e) {
    std::fprintf(stderr, "bench_checkpoint: rank %d: %s\n", rank, e.what());
    MPI_Abort(comm, 1);
  }

  int bad = 0;
  if (rank == 0) {
    const auto v = partita::verify_checkpoint(last);
    bad = v.ok ? 0 : 1;
    const double raw_best = *std::min_element(raw_s.begin(), raw_s.end());
    const double ckpt_best = *std::min_element(ckpt_s.begin(), ckpt_s.end());
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    const double ckpt_median = median(ckpt_s);
    const double raw_median = median(raw_s);
    std::printf("ranks %d, %.1f MiB in %d %spartitions (%.1f MiB each), %d repetition(s), dir %s\n", size,
                static_cast<double>(total) / (1 << 20), size * o.partitions_per_rank, o.float64 ? "float64 " : "",
                static_cast<double>(per_part) / (1 << 20), o.reps, dir.c_str());
    std::printf("raw MPI_File_write_at_all + MPI_File_sync: best %.4f s = %.1f MiB/s  (all:", raw_best,
                mib_per_s(total, raw_best));
    for (double t : raw_s) std::printf(" %.4f", t);
    std::printf(")\ncheckpoint write_checkpoint (commit protocol): best %.4f s = %.1f MiB/s  (all:", ckpt_best,
                mib_per_s(total, ckpt_best));
    for (double t : ckpt_s) std::printf(" %.4f", t);
    std::printf(")\nmedians: raw %.4f s, checkpoint %.4f s (ratio of medians %.3f); deleting an old checkpoint "
                "(retention, not timed above): median %.4f s\n",
                raw_median, ckpt_median, raw_median / ckpt_median, median(prune_s));
    std::printf("verify of the last checkpoint: %s\n", v.ok ? "ok" : (v.first_bad + ": " + v.problem).c_str());
    const auto interval = partita::young_daly_interval(ckpt_median, o.mtti, std::nullopt, {0, 1e9});
    std::printf("Young/Daly at MTTI %.0f s: checkpoint %.4f s every %.1f s -> overhead %.3f%% of run time (%s)\n",
                o.mtti, ckpt_median, interval.seconds, 100.0 * ckpt_median / (interval.seconds + ckpt_median),
                interval.reason.c_str());
    std::printf("ratio checkpoint/raw bandwidth: %.3f (target >= 0.9)\n", raw_best / ckpt_best);
    if (o.dir.empty()) fs::remove_all(dir);
    else fs::remove(last);
  }
  MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
  return bad;
}
