#pragma once
/// SIGTERM / SIGUSR1 / SIGUSR2 caught into flags that the scheduler polls.

#include <csignal>

namespace partita {

/// Which signal asked the job to stop or checkpoint.
enum class stop_signal { none = 0, term = SIGTERM, usr1 = SIGUSR1, usr2 = SIGUSR2 };

/// Installs handlers for SIGTERM, SIGUSR1 and SIGUSR2 that only set a flag (async-signal-safe).
/// Idempotent. The session calls it; tests may too.
void install_signal_flags();

/// Restores the handlers that were there before install_signal_flags(). The session never calls it: once
/// installed, the flags stay until the process exits, so a late stop signal cannot kill a finished job (tests
/// call it to leave the process as they found it).
void restore_signal_handlers() noexcept;

/// The first signal received since the last clear, or none. Thread-safe, lock-free.
stop_signal pending_signal() noexcept;

/// Forgets the received signal.
void clear_pending_signal() noexcept;

}  // namespace partita
