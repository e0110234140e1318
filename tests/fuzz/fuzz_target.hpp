#pragma once
/// What every fuzz target of tests/fuzz provides, and the checks they share: one input in, a verdict out,
/// abort() on a broken invariant (a crash for libFuzzer, a failed test for the replay build).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace partita::fuzz {

/// What a target made of one input. Both are fine outcomes; a crash, a hang, an exception outside
/// partita::error or a broken invariant is not.
enum class verdict { accepted, rejected };

/// Runs one input through the target's code. Defined once per target (fuzz_checkpoint.cpp, ...).
verdict run_one(std::span<const std::byte> input);

/// Writes valid inputs (seeds) for the target into `dir` and returns how many; 0 when the target takes
/// its seeds from elsewhere (checkpoints come from real jobs: make_seed_checkpoints.sh).
int write_seeds(const std::filesystem::path& dir);

/// Writes one seed file `dir`/`name` (the selector byte, if any, is part of `input`).
inline void write_seed(const std::filesystem::path& dir, const std::string& name, std::span<const std::byte> input) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

/// Reports a broken invariant and aborts (libFuzzer keeps the input as crash-<sha1>).
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace partita::fuzz

/// Checks an invariant of the target on every input (in release builds too).
#define PARTITA_FUZZ_CHECK(cond) ((cond) ? void(0) : ::partita::fuzz::invariant_failed(#cond, __FILE__, __LINE__))
