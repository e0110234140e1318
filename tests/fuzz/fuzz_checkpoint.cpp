// Fuzz target: the checkpoint reader, `partita verify` and `partita inspect` on arbitrary bytes (a
// truncated, corrupt or crafted checkpoint file), and what a restart does with an accepted map/reduce
// checkpoint: map_reduce_state::from_image.
//
// The input is written to a scratch file (in /dev/shm when there is one), then read the three ways the
// code reads untrusted checkpoints. Checks: verify_checkpoint and inspect_checkpoint never throw;
// read_checkpoint throws nothing but checkpoint_error; read_checkpoint (given the file's own job,
// parameters hash and model) succeeds exactly when verify says ok; what it returns holds no more bytes
// than the file; from_image throws nothing but checkpoint_error and its state survives to_image/from_image; and the
// heap held while reading stays under 16 bytes per file byte plus 4 MiB (HDF5's own caches and conversion buffers;
// measured in ASan builds, see alloc_meter.hpp; PARTITA_FUZZ_SHOW_PEAK=1 prints it for each input).
#include "fuzz_target.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/verify.hpp>
#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/state.hpp>

#include "alloc_meter.hpp"
#include "crafted_checkpoints.hpp"

namespace partita::fuzz {

namespace {

namespace fs = std::filesystem;

// One scratch file per process, rewritten for each input and removed after it (libFuzzer ends a timed run
// with _Exit, which skips destructors).
class scratch_file {
 public:
  scratch_file() {
    std::error_code ec;
    const fs::path dir = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                             ? fs::path("/dev/shm")
                             : fs::temp_directory_path();
    path_ = dir / ("partita-fuzz-" + std::to_string(::getpid()) + ".h5");
  }
  ~scratch_file() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  const fs::path& write(std::span<const std::byte> in) const {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("open");
    const auto* p = reinterpret_cast<const char*>(in.data());
    std::size_t left = in.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("write");
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) die("close");
    return path_;
  }
  void remove() const { ::unlink(path_.c_str()); }

 private:
  [[noreturn]] void die(const char* call) const {
    std::fprintf(stderr, "fuzz_checkpoint: %s %s: %s\n", call, path_.c_str(), std::strerror(errno));
    std::exit(1);
  }
  fs::path path_;
};

// The expectation a restart with the right job would bring: the file's own job, hash and model.
std::optional<checkpoint_expectation> own_expectation(const fs::path& file) {
  try {
    detail::checkpoint_file f(file);
    const auto m = f.read_meta();
    return checkpoint_expectation{m.job, m.params_hash, m.model};
  } catch (const checkpoint_error&) {
    return std::nullopt;
  }
}

std::uint64_t bytes_held(const checkpoint_image& img) {
  std::uint64_t n = 0;
  for (const auto& [key, b] : img.blobs) n += b.size();
  for (const auto& [key, v] : img.u64) n += v.size() * 8;
  for (const auto& [key, v] : img.f64) n += v.size() * 8;
  for (const auto& p : img.partitions) n += p.data.size();
  return n;
}

// What a restart does next with a map/reduce checkpoint: rebuild the scheduler's state. A real job brings its
// own partition count (the file's must match it); here the file's count stands in for it, bounded like a job
// that fits this file's size class. The state must survive to_image/from_image unchanged.
void restore_map_reduce_state(const checkpoint_image& img, const fs::path& file) {
  constexpr std::uint64_t max_partitions = 1u << 16;
  const std::uint64_t n = img.meta.partition_count;
  if (img.meta.model != map_reduce_state::model || n > max_partitions) return;
  const auto st = map_reduce_state::from_image(img, n, file.string());
  PARTITA_FUZZ_CHECK(st.folded <= n && st.done.count() <= n && st.cost_stride >= 1 &&
                     st.measured.size() <= map_reduce_state::cost_sample_limit);
  for (const auto& [id, result] : st.held) PARTITA_FUZZ_CHECK(id >= st.folded && id < n && st.done.contains(id));
  PARTITA_FUZZ_CHECK(std::isfinite(st.run_seconds) && st.run_seconds >= 0);
  checkpoint_image again;
  again.meta = img.meta;
  st.to_image(again);
  const auto back = map_reduce_state::from_image(again, n, file.string());
  PARTITA_FUZZ_CHECK(back.accumulator == st.accumulator && back.folded == st.folded && back.done == st.done &&
                     back.held == st.held && back.run_seconds == st.run_seconds);
  PARTITA_FUZZ_CHECK(back.fold_block == st.fold_block && back.block_accumulator == st.block_accumulator &&
                     back.held_blocks == st.held_blocks);
  for (const auto& [k, value] : st.held_blocks)
    PARTITA_FUZZ_CHECK(k * st.fold_block >= st.folded && k * st.fold_block < n && !value.empty());
  PARTITA_FUZZ_CHECK(back.cost_stride == st.cost_stride && back.measured.size() == st.measured.size());
  for (std::size_t i = 0; i < st.measured.size(); ++i)
    PARTITA_FUZZ_CHECK(std::isnan(back.measured[i]) ? std::isnan(st.measured[i]) : back.measured[i] == st.measured[i]);
}

}  // namespace

verdict run_one(std::span<const std::byte> input) {
  static const scratch_file scratch;
  const fs::path& file = scratch.write(input);
  struct remove_after {
    const scratch_file& f;
    ~remove_after() { f.remove(); }
  } cleanup{scratch};
  const std::int64_t bound = 16 * static_cast<std::int64_t>(input.size()) + (4 << 20);
  alloc_meter meter;

  const verify_report report = verify_checkpoint(file);  // noexcept in practice: documented never to throw
  PARTITA_FUZZ_CHECK(report.ok == report.problem.empty());
  PARTITA_FUZZ_CHECK(report.ok == report.first_bad.empty());

  const auto expect = own_expectation(file);
  PARTITA_FUZZ_CHECK(expect || !report.ok);
  bool read_ok = false;
  try {
    const checkpoint_image img = read_checkpoint(file, expect.value_or(checkpoint_expectation{}));
    read_ok = true;
    PARTITA_FUZZ_CHECK(bytes_held(img) <= input.size());
    PARTITA_FUZZ_CHECK(img.meta.job == expect->job);
    restore_map_reduce_state(img, file);
  } catch (const checkpoint_error&) {  // the one exception the reader (and the state's decoder) may throw
  }
  PARTITA_FUZZ_CHECK(read_ok == report.ok);

  const std::string summary = inspect_checkpoint(file);
  PARTITA_FUZZ_CHECK(summary.starts_with("checkpoint "));

  static const bool show_peak = std::getenv("PARTITA_FUZZ_SHOW_PEAK") != nullptr;
  if (show_peak)
    std::fprintf(stderr, "%zu bytes in, %lld heap bytes at the peak\n", input.size(),
                 static_cast<long long>(meter.peak()));
  if (meter.peak() > bound) {
    std::fprintf(stderr, "checkpoint of %zu bytes: %lld heap bytes at the peak, bound %lld\n", input.size(),
                 static_cast<long long>(meter.peak()), static_cast<long long>(bound));
    PARTITA_FUZZ_CHECK(meter.peak() <= bound);
  }
  return report.ok ? verdict::accepted : verdict::rejected;
}

// The real checkpoints come from real jobs (make_seed_checkpoints.sh writes them into `dir`); this adds the
// crafted variants of one of them.
int write_seeds(const std::filesystem::path& dir) {
  std::vector<fs::path> real;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".h5" && !name.starts_with("crafted-")) real.push_back(e.path());
  }
  std::sort(real.begin(), real.end());
  if (real.empty()) {
    std::fprintf(stderr, "no checkpoint in %s to craft from: run tests/fuzz/make_seed_checkpoints.sh first\n",
                 dir.c_str());
    return 0;
  }
  // The one with the most datasets (held results out of order, costs) is the richest base.
  const auto richest = *std::max_element(real.begin(), real.end(), [](const fs::path& a, const fs::path& b) {
    return fs::file_size(a) < fs::file_size(b) && !b.filename().string().starts_with("wordcount");
  });
  return write_crafted_checkpoints(richest, dir);
}

}  // namespace partita::fuzz
