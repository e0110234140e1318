#include <partita/runtime/crash_point.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

namespace {
struct armed_point {
  std::string name;
  int rank = -1;  // -1: any rank
  long nth = 1;   // fire on the nth time the point is reached
  std::atomic<long> hits{0};
  std::function<void()> before_kill;
};

armed_point* parse(std::string s) {
  if (s.empty()) return nullptr;
  auto* p = new armed_point;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    p->nth = std::strtol(s.c_str() + colon + 1, nullptr, 10);
    s.resize(colon);
  }
  if (auto at = s.rfind('@'); at != std::string::npos) {
    p->rank = static_cast<int>(std::strtol(s.c_str() + at + 1, nullptr, 10));
    s.resize(at);
  }
  p->name = s;
  return p;
}

std::once_flag from_env;
std::atomic<armed_point*> armed{nullptr};
// Every point ever armed, kept for the life of the process: a thread may still be reading a replaced one.
std::mutex kept_mutex;
std::vector<std::unique_ptr<armed_point>> kept;

armed_point* keep(armed_point* p) {
  if (p) {
    std::lock_guard lock(kept_mutex);
    kept.emplace_back(p);
  }
  return p;
}

void read_env_once() {
  std::call_once(from_env, [] {
    const char* spec = std::getenv("PARTITA_CRASH_AT");
    if (spec && *spec && !armed.load()) armed.store(keep(parse(spec)));
  });
}
}  // namespace

void arm_crash_point(std::string_view spec, std::function<void()> before_kill) {
  read_env_once();  // so a later first crash_point() does not override this with the environment
  auto* p = keep(parse(std::string(spec)));
  if (p) p->before_kill = std::move(before_kill);
  armed.store(p, std::memory_order_release);
}

void crash_point(std::string_view name) {
  read_env_once();
  armed_point* p = armed.load(std::memory_order_acquire);
  if (!p || p->name != name) return;
  if (p->rank >= 0 && launcher_rank_hint() != p->rank) return;
  if (++p->hits != p->nth) return;
  log().warn("crash point '{}' reached: killing this process", std::string(name));
  if (p->before_kill) p->before_kill();
  log().flush();
  ::kill(::getpid(), SIGKILL);
}

namespace {
struct stall_spec {
  std::string name;
  int rank = -1;  // -1: any rank
  double seconds = 0;
};

// PARTITA_STALL_AT=<name>[@rank]=<seconds>, read once; an empty name when unset or malformed.
const stall_spec& armed_stall() {
  static const stall_spec spec = [] {
    stall_spec s;
    const char* env = std::getenv("PARTITA_STALL_AT");
    if (!env || !*env) return s;
    std::string text = env;
    const auto eq = text.rfind('=');
    if (eq == std::string::npos) return s;
    s.seconds = std::strtod(text.c_str() + eq + 1, nullptr);
    text.resize(eq);
    if (auto at = text.rfind('@'); at != std::string::npos) {
      s.rank = static_cast<int>(std::strtol(text.c_str() + at + 1, nullptr, 10));
      text.resize(at);
    }
    s.name = text;
    return s;
  }();
  return spec;
}
std::atomic<bool> stalled{false};
}  // namespace

void stall_point(std::string_view name) {
  const auto& s = armed_stall();
  if (s.name.empty() || s.name != name || stalled.load(std::memory_order_relaxed)) return;
  if (s.rank >= 0 && launcher_rank_hint() != s.rank) return;
  if (stalled.exchange(true)) return;
  log().warn("stall point '{}' reached: sleeping {:.1f} s", std::string(name), s.seconds);
  std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
}

}  // namespace partita
