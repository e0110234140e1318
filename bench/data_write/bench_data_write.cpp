// Write speed of the map/reduce data path's per-partition output against a raw MPI-IO write of the same bytes at the
// same rank count, measured in the same run, and each rank's peak memory against 3 x partition size + 64 MiB.
//
//   mpirun -n 2 bench_data_write [--bytes 2G] [--cols 1024] [--partition 64M] [--reps 3] [--dir D] [--threads T]
//                                [--page-cache-job] [--smoke]
//
// Both write a float64 array of rows x cols in partitions of whole rows; element k (flat index) holds partita
// make-input's value for k (seed 7), computed while writing, by both. Rows, timings:
//   raw   every rank opens one file with MPI_File_open and writes its share of the partitions (a contiguous range
//         of them), one partition-sized buffer at a time, with MPI_File_write_at at the partition's offset; then
//         MPI_File_sync (an fsync of the file) and MPI_File_close: durable at its end, and only there
//   job   a map_reduce_job<double> with output<double>(file, "/y", {cols}, rows per partition), as h5filter uses
//         it: each partition's kernel fills ctx.output<double>() (a reused, page-aligned buffer), the rank's writer
//         thread writes the block in place (pwrite with O_DIRECT: the default output_io::direct, the dataset on a
//         page) and makes it durable (one fdatasync per batch of blocks) before its result leaves the rank; the file
//         is made and its committed record kept by the scheduler: durable at its end, and each block before its
//         partition is committed
//   job, page cache   (--page-cache-job) the same job with output_io::page_cache: every block through the page cache
//         (what the writer did before O_DIRECT), timed in the same rounds
// Durability: both files are on disk when their timings stop. The raw write goes through the page cache (Open MPI's
// ompio: pwrite) and syncs once, at its end (MPI_File_sync: one fsync per rank): the cheapest schedule that gives
// that end state; the job must flush more often (a block before its commit), so the ratio is the job against the
// best a plain writer can do, not against a writer that flushes as often as the job. The job's O_DIRECT writes skip
// the page cache; its fdatasync still follows them (the disk's write cache, the file's allocated extents).
// Each measurement writes a fresh file (the previous one is removed first, untimed); the order of raw and job
// alternates; the best of the repetitions counts; MiB/s = array bytes / wall time between barriers. After the timings
// rank 0 reads both files back (untimed): their block sums must be the expected ones bit for bit, and the job's folded
// result too; no rank's peak RSS (ru_maxrss) may pass the bound. Otherwise the exit code is 1. The ratio job/raw is
// printed last (goal >= 0.8).
#include <mpi.h>

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_dataset.hpp>
#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>

#include "bench_start.hpp"
#include "peak_rss.hpp"
#include "scratch_dir.hpp"
#include "timing.hpp"

using partita::bench::block_sum;
using partita::bench::fold_sums;
using partita::bench::series;
using partita::bench::timed;

namespace fs = std::filesystem;

namespace {

constexpr double mib = 1024.0 * 1024.0;
constexpr std::uint64_t seed = 7;
constexpr const char* dataset_name = "/y";

struct options {
  std::uint64_t bytes = 2ull << 30;
  std::uint64_t cols = 1024;
  std::uint64_t partition_bytes = 64ull << 20;
  int reps = 3;
  std::string dir;
  int threads = 0;  // 0: the run's default (the affinity mask)
  bool page_cache_job = false;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&] { return partita::bench::positive_value(argc, argv, i); };
    auto size = [&] { return partita::bench::size_value(argc, argv, i); };
    if (a == "--bytes") o.bytes = size();
    else if (a == "--cols") o.cols = number();
    else if (a == "--partition") o.partition_bytes = size();
    else if (a == "--reps") o.reps = static_cast<int>(number());
    else if (a == "--threads") o.threads = static_cast<int>(number());
    else if (a == "--page-cache-job") o.page_cache_job = true;
    else if (a == "--dir") {
      if (i + 1 >= argc) throw partita::usage_error("--dir needs a value");
      o.dir = argv[++i];
    } else if (a == "--smoke") {
      o.bytes = 8ull << 20;
      o.cols = 128;
      o.partition_bytes = 1ull << 20;
      o.reps = 1;
    } else {
      throw partita::usage_error(
          "unknown option " + a +
          " (--bytes N[K|M|G] --cols C --partition N --reps R --dir D --threads T --page-cache-job --smoke)");
    }
  }
  if (o.bytes < o.cols * 8) throw partita::usage_error("--bytes must hold at least one row of --cols doubles");
  return o;
}

/// Fills `n` elements from flat index `first` with their values and returns their sum, left to right.
double fill_block(double* x, std::uint64_t first, std::uint64_t n) {
  double s = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    x[i] = partita::test_dataset_value(seed, first + i);
    s += x[i];
  }
  return s;
}

/// The job's fold of the block sums (bench::fold_sums: the job's shape over aligned id blocks).
double fold(const std::vector<double>& sums) { return fold_sums(sums); }

/// The cut: `partitions` blocks of `rows` rows of `cols` float64; rank r writes blocks [first(r), first(r + 1)) in the
/// raw write.
struct layout {
  std::uint64_t partitions, rows, cols;
  std::uint64_t block_elements() const { return rows * cols; }
  std::uint64_t block_bytes() const { return block_elements() * 8; }
  std::uint64_t total_bytes() const { return partitions * block_bytes(); }
  std::uint64_t first(int rank, int size) const {
    return partitions * static_cast<std::uint64_t>(rank) / static_cast<std::uint64_t>(size);
  }
};

/// The baseline: this rank's blocks written with MPI_File_write_at from one reused buffer, then synced. Collective.
void raw_write(MPI_Comm comm, const std::string& file, const layout& l, int rank, int size) {
  MPI_File fh;
  PARTITA_MPI(MPI_File_open(comm, file.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh));
  std::vector<double> buf(l.block_elements());
  for (auto p = l.first(rank, size); p < l.first(rank + 1, size); ++p) {
    fill_block(buf.data(), p * l.block_elements(), l.block_elements());
    // Pieces of at most 1 GiB (int counts).
    for (std::uint64_t off = 0; off < l.block_bytes(); off += 1ull << 30) {
      const int n = static_cast<int>(std::min<std::uint64_t>(1ull << 30, l.block_bytes() - off));
      PARTITA_MPI(MPI_File_write_at(fh, static_cast<MPI_Offset>(p * l.block_bytes() + off),
                                    reinterpret_cast<const char*>(buf.data()) + off, n, MPI_BYTE, MPI_STATUS_IGNORE));
    }
  }
  PARTITA_MPI(MPI_File_sync(fh));
  PARTITA_MPI(MPI_File_close(&fh));
}

/// Block sums of a raw file of float64, block by block (rank 0, untimed).
std::vector<double> raw_file_sums(const std::string& file, const layout& l) {
  std::ifstream in(file, std::ios::binary);
  std::vector<double> buf(l.block_elements()), sums;
  for (std::uint64_t p = 0; p < l.partitions; ++p) {
    if (!in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(l.block_bytes())))
      throw partita::error("raw file " + file + ": short read at block " + std::to_string(p));
    sums.push_back(block_sum(buf.data(), l.block_elements()));
  }
  return sums;
}

/// Block sums of the job's output dataset, read with HDF5 block by block (rank 0, untimed).
std::vector<double> output_sums(const std::string& file, const layout& l) {
  const auto info = partita::inspect_h5_dataset(file, dataset_name, partita::data_type::float64);
  if (info.shape != std::vector<std::uint64_t>{l.partitions * l.rows, l.cols})
    throw partita::error("output " + file + ": not the expected shape");
  partita::h5_block_reader reader(info, l.block_bytes());
  std::vector<double> buf(l.block_elements()), sums;
  for (std::uint64_t p = 0; p < l.partitions; ++p) {
    reader.read(p * l.rows, l.rows, buf.data());
    sums.push_back(block_sum(buf.data(), l.block_elements()));
  }
  return sums;
}

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const int rank = s.rank().value, size = s.size();
  const bool root = rank == 0;
  const auto parsed = partita::bench::start("bench_data_write", s, argc, argv, parse);
  if (!parsed) return 2;
  const options& o = *parsed;

  bool temporary = false;
  const std::string dir = partita::bench::scratch_dir(comm, o.dir, "bench-data-write", temporary);
  const std::string raw_file = dir + "/raw.bin", job_file = dir + "/data_write.h5";
  const std::uint64_t row_bytes = o.cols * 8;
  const std::uint64_t block_rows = std::clamp<std::uint64_t>(o.partition_bytes / row_bytes, 1, o.bytes / row_bytes);
  const layout l{o.bytes / row_bytes / block_rows, block_rows, o.cols};  // whole partitions

  int failures = 0;
  try {
    // The expected block sums, each computed by the rank that writes it in the raw write, gathered in id order.
    std::vector<double> expected(l.partitions, 0.0);
    {
      std::vector<double> buf(l.block_elements());
      for (auto p = l.first(rank, size); p < l.first(rank + 1, size); ++p)
        expected[p] = fill_block(buf.data(), p * l.block_elements(), l.block_elements());
      PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, expected.data(), static_cast<int>(l.partitions), MPI_DOUBLE, MPI_SUM,
                                comm));  // exact: one non-zero term per block
    }
    const std::uint64_t rss_before_job = partita::bench::peak_rss_bytes();

    partita::run_config config;
    config.quiet = true;
    config.threads = o.threads;
    config.overwrite_output = true;  // the file of the previous repetition is removed anyway
    // A job's runs: wall times, and per run where the time went on its busiest rank (filled on rank 0).
    struct job_runs {
      const char* name;
      partita::output_io io;
      std::string file;
      series times;
      std::vector<double> writer, kernels;  // seconds in the writer's pwrite + fdatasync, in the kernels
      std::vector<std::uint64_t> direct;    // bytes written with O_DIRECT, all ranks
    };
    job_runs direct{"job", partita::output_io::direct, job_file, {}, {}, {}, {}};
    job_runs cached{"job, page cache", partita::output_io::page_cache, dir + "/data_write_cached.h5", {}, {}, {}, {}};
    auto run_job = [&](job_runs& runs) {
      auto job = partita::map_reduce_job<double>("bench_data_write")
                     .partitions(l.partitions)
                     .output<double>(runs.file, dataset_name, std::vector<std::uint64_t>{l.cols}, l.rows)
                     .kernel([](const partita::partition&, partita::context& ctx) {
                       auto out = ctx.output<double>();
                       return fill_block(out.data.data(), out.first_row * out.row_elements(), out.data.size());
                     })
                     .combine([](double& a, double&& b) { a += b; });
      auto run_config = config;
      run_config.output_io = runs.io;
      auto result = partita::run(s, job, run_config);
      // The scheduler knows every rank's figures.
      double writer = 0, kernels = 0;
      std::uint64_t direct_bytes = 0;
      for (const auto& w : result.report().workers) {
        writer = std::max(writer, w.output.seconds);
        kernels = std::max(kernels, w.busy_seconds);
        direct_bytes += w.output.direct_bytes;
      }
      runs.writer.push_back(writer);
      runs.kernels.push_back(kernels);
      runs.direct.push_back(direct_bytes);
      return result.value();
    };

    if (root)
      std::printf("bench_data_write: %d rank(s), %.1f MiB float64 (%llu x %llu) in %llu partitions of %.2f MiB, %d "
                  "repetition(s), dir %s\n",
                  size, static_cast<double>(l.total_bytes()) / mib,
                  static_cast<unsigned long long>(l.partitions * l.rows), static_cast<unsigned long long>(l.cols),
                  static_cast<unsigned long long>(l.partitions), static_cast<double>(l.block_bytes()) / mib, o.reps,
                  dir.c_str());

    series raw;
    int wrong = 0;
    const double expected_sum = fold(expected);
    auto fresh = [&](const std::string& file) {
      if (root) fs::remove(file);
      PARTITA_MPI(MPI_Barrier(comm));
    };
    auto measure_raw = [&] {
      fresh(raw_file);
      raw.seconds.push_back(timed(comm, [&] { raw_write(comm, raw_file, l, rank, size); }));
    };
    auto measure_job = [&](job_runs& runs) {
      fresh(runs.file);
      double sum = 0;
      runs.times.seconds.push_back(timed(comm, [&] { sum = run_job(runs); }));
      if (sum != expected_sum) ++wrong;
    };
    for (int rep = 0; rep < o.reps; ++rep) {  // alternate the order so that neither always goes first
      if (rep % 2 == 0) {
        measure_raw();
        measure_job(direct);
        if (o.page_cache_job) measure_job(cached);
      } else {
        if (o.page_cache_job) measure_job(cached);
        measure_job(direct);
        measure_raw();
      }
    }

    // The files hold the expected bytes (block sums, bit for bit), read back untimed.
    if (root) {
      auto print = [&](const char* name, const series& t) {
        std::printf("%-32s best %.3f s = %8.1f MiB/s  (median %.3f s; all:", name, t.best(),
                    static_cast<double>(l.total_bytes()) / mib / t.best(), t.median());
        for (double x : t.seconds) std::printf(" %.3f", x);
        std::printf(")\n");
      };
      const bool raw_ok = raw_file_sums(raw_file, l) == expected;
      wrong += raw_ok ? 0 : 1;
      std::printf("%d rank(s)\n", size);
      print("raw MPI-IO write_at + sync", raw);
      std::printf("read back: raw file %s\n", raw_ok ? "exact" : "WRONG");
      fs::remove(raw_file);
      for (job_runs* runs : {&direct, &cached}) {
        if (runs->times.seconds.empty()) continue;
        const bool ok = output_sums(runs->file, l) == expected;
        wrong += ok ? 0 : 1;
        print(runs->io == partita::output_io::direct ? "partita job output<double>"
                                                     : "partita job, --output-io page-cache",
              runs->times);
        std::printf("  the busiest rank's seconds in its writer (pwrite + fdatasync) / in its kernels, and MiB written "
                    "with O_DIRECT, each run:");
        for (std::size_t i = 0; i < runs->writer.size(); ++i)
          std::printf(" %.2f/%.2f %.0f", runs->writer[i], runs->kernels[i], static_cast<double>(runs->direct[i]) / mib);
        std::printf("\n  read back: job's output %s (block sums against the expected bits)\n", ok ? "exact" : "WRONG");
        fs::remove(runs->file);
      }
    }
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT, MPI_SUM, comm));
    if (root) std::printf("job results: %s\n", wrong == 0 ? "exact in every run" : "WRONG");
    failures += wrong;

    std::uint64_t before = rss_before_job;
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &before, 1, MPI_UINT64_T, MPI_MAX, comm));
    if (root)
      std::printf("peak RSS before the first job (expected sums made): %.1f MiB (max over ranks)\n",
                  static_cast<double>(before) / mib);
    failures += partita::bench::check_peak_rss(comm, "write job", 3 * l.block_bytes() + (64ull << 20));
    if (root && o.page_cache_job)
      std::printf("ratio job through the page cache/raw write: %.3f\n", raw.best() / cached.times.best());
    if (root) std::printf("ratio job/raw write: %.3f (goal >= 0.8)\n", raw.best() / direct.times.best());
  } catch (const partita::error& e) {
    std::fprintf(stderr, "bench_data_write: rank %d: %s\n", rank, e.what());
    MPI_Abort(comm, 1);
  }

  PARTITA_MPI(MPI_Barrier(comm));
  if (root && temporary) fs::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
