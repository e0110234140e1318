#include <partita/runtime/crash_point.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/log.hpp>

namespace partita {

namespace {
struct armed_point {
  std::string name;
  int rank = -1;       // -1: any rank
  long nth = 1;        // fire on the nth time the point is reached
  std::atomic<long> hits{0};
};

armed_point* parse_armed() {
  const char* spec = std::getenv("PARTITA_CRASH_AT");
  if (!spec || !*spec) return nullptr;
  auto* p = new armed_point;  // lives for the process
  std::string s(spec);
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
}  // namespace

void crash_point(std::string_view name) {
  static armed_point* armed = parse_armed();
  if (!armed || armed->name != name) return;
  if (armed->rank >= 0 && launcher_rank_hint() != armed->rank) return;
  if (++armed->hits < armed->nth) return;
  log().warn("crash point '{}' reached: killing this process (PARTITA_CRASH_AT)", std::string(name));
  log().flush();
  ::kill(::getpid(), SIGKILL);
}

}  // namespace partita
