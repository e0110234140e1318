#include <partita/runtime/signals.hpp>

#include <atomic>

namespace partita {

namespace {
std::atomic<int> pending{0};
static_assert(std::atomic<int>::is_always_lock_free);
struct sigaction old_term, old_usr1, old_usr2;
bool installed = false;

extern "C" void on_signal(int sig) {
  int expected = 0;
  pending.compare_exchange_strong(expected, sig);  // the first signal wins
}
}  // namespace

void install_signal_flags() {
  if (installed) return;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGUSR1, &sa, &old_usr1);
  sigaction(SIGUSR2, &sa, &old_usr2);
  installed = true;
}

void restore_signal_handlers() noexcept {
  if (!installed) return;
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGUSR1, &old_usr1, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
  installed = false;
}

stop_signal pending_signal() noexcept { return static_cast<stop_signal>(pending.load()); }

void clear_pending_signal() noexcept { pending.store(0); }

}  // namespace partita
