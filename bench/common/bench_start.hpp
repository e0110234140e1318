#pragma once
/// What every benchmark's main() does first: parse its options, check the rank count, quiet the logs.

#include <cstdio>
#include <cstdlib>
#include <optional>

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

}  // namespace partita::bench
