#pragma once
/// Logging with a rank and host prefix (spdlog underneath), to stderr.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace partita {

/// The process-wide Partita logger. Before a session exists it prints without a rank prefix.
/// Thread-safe. Level from PARTITA_LOG_LEVEL (trace, debug, info, warn, error, off), default info.
spdlog::logger& log();

namespace detail {
/// Sets the "[rank R@host]" prefix once the rank is known. Called by the session.
void set_log_identity(int rank, int size, const std::string& host);
}  // namespace detail

}  // namespace partita
