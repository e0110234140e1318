#pragma once
/// Named crash points for fault tests: PARTITA_CRASH_AT=<name>[@rank] SIGKILLs the process there.

#include <string_view>

namespace partita {

/// If the environment variable PARTITA_CRASH_AT names this point (optionally "@R" to pick the
/// world rank R, and ":N" to fire on the N-th time the point is reached), kill this process with
/// SIGKILL, right here. Thread-safe; costs one cached lookup when not armed.
void crash_point(std::string_view name);

}  // namespace partita
