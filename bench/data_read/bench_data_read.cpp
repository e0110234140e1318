// Read speed of the map/reduce data path against a raw sequential HDF5 read of the same file, measured in the same
// run, with the page cache warm and cold, and each rank's peak memory against 3 x partition size + 64 MiB.
//
//   mpirun -n 2 bench_data_read [--bytes 2G] [--cols 1024] [--chunk 1M] [--partition 64M] [--reps 3] [--dir D]
//                               [--threads T] [--prefetch 1] [--keep-input] [--smoke]
//
// The input is a chunked float64 dataset (partita make-input's values) made once in the scratch folder (--dir D, kept
// and reused when its shape matches; without --dir a temporary folder, removed at the end). Rows, timings:
//   raw    one process (rank 0) opens the file with the plain HDF5 C API and reads the whole dataset in
//          partition-sized hyperslabs, summing each block (the same sum as the job's kernel, so both do the same
//          work); the others wait at the barrier
//   job    a map_reduce_job<double> with the dataset as its declared input (input<double>, block_kernel): the
//          partitions are read where they run, by each rank's reader thread, and their sums folded in id order
// Cold: before each measurement every rank fsyncs the file and drops its pages (posix_fadvise POSIX_FADV_DONTNEED).
// Warm: after one untimed read of the whole file. The best of the repetitions counts (the order of raw and job
// alternates); MiB/s = dataset bytes / wall time between barriers, the slowest rank's. The job's sum must equal the
// raw read's bit for bit (same blocks, folded left to right), and no rank's peak RSS (ru_maxrss) may pass the bound:
// otherwise the exit code is 1. The ratios job/raw are printed last (goal >= 0.8). The job runs at --prefetch 1 unless
// told otherwise: a rank then holds at most 3 blocks at 1 thread (its kernel's, one read ahead, one being read), which
// is what the bound allows; at the CLI's default --prefetch 2 it holds 4.
#include <mpi.h>

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_dataset.hpp>
#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/run.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/session.hpp>

#include "bench_start.hpp"
#include "page_cache.hpp"
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
constexpr const char* dataset_name = "/x";

struct options {
  std::uint64_t bytes = 2ull << 30;
  std::uint64_t cols = 1024;
  std::uint64_t chunk_bytes = 1ull << 20;
  std::uint64_t partition_bytes = 64ull << 20;
  int reps = 3;
  std::string dir;
  int threads = 0;   // 0: the run's default (the affinity mask)
  int prefetch = 1;  // --prefetch: a kernel's block, one ready, one being read: 3 blocks per rank at 1 thread
  bool keep_input = false;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&] { return partita::bench::positive_value(argc, argv, i); };
    auto size = [&] { return partita::bench::size_value(argc, argv, i); };
    if (a == "--bytes") o.bytes = size();
    else if (a == "--cols") o.cols = number();
    else if (a == "--chunk") o.chunk_bytes = size();
    else if (a == "--partition") o.partition_bytes = size();
    else if (a == "--reps") o.reps = static_cast<int>(number());
    else if (a == "--threads") o.threads = static_cast<int>(number());
    else if (a == "--prefetch") o.prefetch = static_cast<int>(number());
    else if (a == "--keep-input") o.keep_input = true;
    else if (a == "--dir") {
      if (i + 1 >= argc) throw partita::usage_error("--dir needs a value");
      o.dir = argv[++i];
    } else if (a == "--smoke") {
      o.bytes = 8ull << 20;
      o.cols = 128;
      o.chunk_bytes = 256ull << 10;
      o.partition_bytes = 1ull << 20;
      o.reps = 1;
    } else {
      throw partita::usage_error("unknown option " + a +
                                 " (--bytes N[K|M|G] --cols C --chunk N --partition N --reps R --dir D --threads T "
                                 "--prefetch P --keep-input --smoke)");
    }
  }
  if (o.bytes < o.cols * 8) throw partita::usage_error("--bytes must hold at least one row of --cols doubles");
  return o;
}

/// Makes the input on rank 0 unless the file already holds a dataset of this shape and chunking. Collective.
void make_input(MPI_Comm comm, const std::string& file, std::uint64_t rows, std::uint64_t cols,
                std::uint64_t chunk_rows, bool root) {
  if (root) {
    bool reuse = false;
    if (fs::exists(file)) {
      try {
        const auto info = partita::inspect_h5_dataset(file, dataset_name, partita::data_type::float64);
        reuse = info.shape == std::vector<std::uint64_t>{rows, cols} &&
                info.chunk == std::vector<std::uint64_t>{chunk_rows, cols};
      } catch (const partita::error&) {
        reuse = false;
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!reuse) partita::write_test_dataset(file, dataset_name, rows, cols, chunk_rows, 1);
    std::printf("input %s: %s (%.1f s)\n", file.c_str(), reuse ? "reused" : "generated",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }
  PARTITA_MPI(MPI_Barrier(comm));
}

/// An HDF5 id closed when it goes out of scope (the raw read's handles).
struct h5_id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~h5_id() { close(id); }
};

/// The baseline: the whole dataset read by this process with the plain HDF5 C API (default properties), in blocks of
/// `block_rows` rows, each summed; returns the job's fold of the block sums (bench::fold_sums).
double raw_read(const std::string& file, std::uint64_t rows, std::uint64_t cols, std::uint64_t block_rows) {
  const h5_id f{PARTITA_H5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose};
  const h5_id d{PARTITA_H5(H5Dopen2(f.id, dataset_name, H5P_DEFAULT)), H5Dclose};
  const h5_id space{PARTITA_H5(H5Dget_space(d.id)), H5Sclose};
  std::vector<double> buf(block_rows * cols);
  std::vector<double> sums;
  for (std::uint64_t r = 0; r < rows; r += block_rows) {
    const hsize_t start[2] = {r, 0}, count[2] = {std::min(block_rows, rows - r), cols};
    PARTITA_H5(H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nullptr, count, nullptr));
    const h5_id mem{PARTITA_H5(H5Screate_simple(2, count, nullptr)), H5Sclose};
    PARTITA_H5(H5Dread(d.id, H5T_NATIVE_DOUBLE, mem.id, space.id, H5P_DEFAULT, buf.data()));
    sums.push_back(block_sum(buf.data(), count[0] * cols));
  }
  return fold_sums(sums);  // the job's fold, in its shape over aligned id blocks
}

}  // namespace

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  const MPI_Comm comm = s.comm();
  const int rank = s.rank().value, size = s.size();
  const bool root = rank == 0;
  const auto parsed = partita::bench::start("bench_data_read", s, argc, argv, parse);
  if (!parsed) return 2;
  const options& o = *parsed;

  bool temporary = false;
  const std::string dir = partita::bench::scratch_dir(comm, o.dir, "bench-data-read", temporary);
  const std::string file = dir + "/data_read.h5";
  const std::uint64_t cols = o.cols, rows = o.bytes / (cols * 8);
  const std::uint64_t chunk_rows = std::clamp<std::uint64_t>(o.chunk_bytes / (cols * 8), 1, rows);
  const std::uint64_t total = rows * cols * 8;

  int failures = 0;
  try {
    make_input(comm, file, rows, cols, chunk_rows, root);
    // The job's partitions, as input<double> cuts them; the raw read uses the same blocks.
    const auto info = partita::inspect_h5_dataset(file, dataset_name, partita::data_type::float64);
    const std::uint64_t block_rows = partita::rows_per_partition(info, o.partition_bytes);
    const std::uint64_t block_bytes = block_rows * cols * 8;
    const std::uint64_t partitions = (rows + block_rows - 1) / block_rows;

    partita::run_config config;
    config.quiet = true;
    config.threads = o.threads;
    config.prefetch = o.prefetch;
    std::uint64_t hits = 0, reads = 0;
    double read_seconds = 0;
    auto run_job = [&] {
      auto job = partita::map_reduce_job<double>("bench_data_read")
                     .input<double>(file, dataset_name, o.partition_bytes)
                     .block_kernel<double>([](const partita::block_view<double>& b, partita::context&) {
                       return block_sum(b.data.data(), b.data.size());
                     })
                     .combine([](double& a, double&& b) { a += b; });
      auto r = partita::run(s, job, config);
      if (r.is_scheduler()) {
        hits = reads = 0;
        read_seconds = 0;
        for (const auto& w : r.report().workers) {
          hits += w.input.hits;
          reads += w.input.partitions;
          read_seconds += w.input.seconds;
        }
      }
      return r.value();
    };

    // Warm-up, untimed: the whole file in the page cache; the raw sum every run must match.
    double raw_sum = 0;
    if (root) raw_sum = raw_read(file, rows, cols, block_rows);
    PARTITA_MPI(MPI_Bcast(&raw_sum, 1, MPI_DOUBLE, 0, comm));
    const std::uint64_t rss_before_job = partita::bench::peak_rss_bytes();

    if (root)
      std::printf("bench_data_read: %d rank(s), %.1f MiB float64 (%llu x %llu, chunks of %llu rows = %.2f MiB), %llu "
                  "partitions of %.2f MiB, %d repetition(s)\n",
                  size, static_cast<double>(total) / mib, static_cast<unsigned long long>(rows),
                  static_cast<unsigned long long>(cols), static_cast<unsigned long long>(chunk_rows),
                  static_cast<double>(chunk_rows * cols * 8) / mib, static_cast<unsigned long long>(partitions),
                  static_cast<double>(block_bytes) / mib, o.reps);

    int wrong = 0;
    double ratio[2] = {0, 0};
    for (const bool cold : {false, true}) {
      series raw, job;
      auto measure_raw = [&] {
        if (cold) partita::bench::drop_cached_pages(file);
        double sum = raw_sum;
        raw.seconds.push_back(timed(comm, [&] {
          if (root) sum = raw_read(file, rows, cols, block_rows);
        }));
        if (sum != raw_sum) ++wrong;
      };
      auto measure_job = [&] {
        if (cold) partita::bench::drop_cached_pages(file);  // on every rank: each reads its own blocks
        double sum = 0;
        job.seconds.push_back(timed(comm, [&] { sum = run_job(); }));
        if (sum != raw_sum) {
          ++wrong;
          if (root) std::printf("WRONG: the job's sum %.17g differs from the raw read's %.17g\n", sum, raw_sum);
        }
      };
      for (int rep = 0; rep < o.reps; ++rep) {  // alternate the order so that neither always goes first
        if (rep % 2 == 0) {
          measure_raw();
          measure_job();
        } else {
          measure_job();
          measure_raw();
        }
      }
      ratio[cold ? 1 : 0] = raw.best() / job.best();
      if (root) {
        const char* mode = cold ? "cold" : "warm";
        std::printf("%s raw HDF5 read, 1 process:   best %.3f s = %8.1f MiB/s  (median %.3f s; all:", mode, raw.best(),
                    static_cast<double>(total) / mib / raw.best(), raw.median());
        for (double t : raw.seconds) std::printf(" %.3f", t);
        std::printf(")\n%s partita job, %d rank(s):     best %.3f s = %8.1f MiB/s  (median %.3f s; all:", mode, size,
                    job.best(), static_cast<double>(total) / mib / job.best(), job.median());
        for (double t : job.seconds) std::printf(" %.3f", t);
        std::printf(")\n%s job's last run: %llu block reads, %llu read-ahead hits, %.3f s inside reads (all ranks)\n",
                    mode, static_cast<unsigned long long>(reads), static_cast<unsigned long long>(hits), read_seconds);
        std::fflush(stdout);
      }
    }
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT, MPI_SUM, comm));
    if (root)
      std::printf("sums: raw %.17g, job %s\n", raw_sum, wrong == 0 ? "the same bits in every run" : "DIFFERENT");
    failures += wrong;

    // Memory: the process's peak over its whole life (the raw read alone held one block; printed for comparison).
    std::uint64_t before = rss_before_job;
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &before, 1, MPI_UINT64_T, MPI_MAX, comm));
    if (root)
      std::printf("peak RSS before the first job (input made, one raw read): %.1f MiB (max over ranks)\n",
                  static_cast<double>(before) / mib);
    failures += partita::bench::check_peak_rss(comm, "read job", 3 * block_bytes + (64ull << 20));
    if (root) {
      std::printf("ratio job/raw warm: %.3f (goal >= 0.8)\n", ratio[0]);
      std::printf("ratio job/raw cold: %.3f (goal >= 0.8)\n", ratio[1]);
    }
  } catch (const partita::error& e) {
    std::fprintf(stderr, "bench_data_read: rank %d: %s\n", rank, e.what());
    MPI_Abort(comm, 1);
  }

  PARTITA_MPI(MPI_Barrier(comm));
  if (root) {
    if (temporary) fs::remove_all(dir);
    else if (!o.keep_input) fs::remove(file);
  }
  return failures == 0 ? 0 : 1;
}
