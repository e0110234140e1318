#pragma once
/// What every benchmark's main() does first: parse its options, check the rank count, quiet the logs.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/session.hpp>

namespace partita::bench {

/// Parses the options with `parse(argc, argv)` (which throws usage_error) and checks that the job has at
/// least `min_ranks` ranks. On a problem prints one line on rank 0 and returns nullopt: main() returns 2.
/// A benchmark runs many jobs, and each logs its election at info level, so logging is set to warnings
/// unless PARTITA_LOG_LEVEL says otherwise.
template <class Parse>
auto start(const char* name, const session& s, int argc, char** argv, Parse parse, int min_ranks = 1)
    -> std::optional<decltype(parse(argc, argv))> {
  const bool root = s.rank().value == 0;
  if (!std::getenv("PARTITA_LOG_LEVEL")) log().set_level(spdlog::level::warn);
  try {
    auto options = parse(argc, argv);
    if (s.size() < min_ranks)
      throw usage_error("needs at least " + std::to_string(min_ranks) + " ranks (run it under mpirun -n N)");
    return options;
  } catch (const usage_error& e) {
    if (root) std::fprintf(stderr, "%s: %s\n", name, e.what());
    return std::nullopt;
  }
}

/// The positive whole number that follows option argv[i] (i moves past it); usage_error naming the option
/// otherwise.
inline std::uint64_t positive_value(int argc, char** argv, int& i) {
  const std::string option = argv[i];
  if (i + 1 >= argc) throw usage_error(option + " needs a value");
  const long long v = std::atoll(argv[++i]);
  if (v <= 0) throw usage_error(option + ": expected a positive number, got '" + argv[i] + "'");
  return static_cast<std::uint64_t>(v);
}

/// The size that follows option argv[i] (i moves past it): a number with an optional K, M or G suffix (binary
/// units), e.g. 64M or 2G; usage_error naming the option otherwise.
inline std::uint64_t size_value(int argc, char** argv, int& i) {
  const std::string option = argv[i];
  if (i + 1 >= argc) throw usage_error(option + " needs a value");
  const std::string text = argv[++i];
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  const std::string unit = end ? end : "";
  if (unit == "K" || unit == "k") v *= 1024;
  else if (unit == "M" || unit == "m") v *= 1024.0 * 1024;
  else if (unit == "G" || unit == "g") v *= 1024.0 * 1024 * 1024;
  else if (!unit.empty()) v = 0;
  if (!(v >= 1)) throw usage_error(option + ": expected a size like 64M or 2G, got '" + text + "'");
  return static_cast<std::uint64_t>(v);
}

/// Runs `body()` `reps` times between barriers and returns the best wall time, each time the slowest rank's.
/// Collective over `comm`.
template <class Body>
double best_of(MPI_Comm comm, int reps, Body&& body) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    PARTITA_MPI(MPI_Barrier(comm));
    const auto t0 = std::chrono::steady_clock::now();
    body();
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    PARTITA_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
    best = std::min(best, t);
  }
  return best;
}

}  // namespace partita::bench
