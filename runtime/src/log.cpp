#include <partita/runtime/log.hpp>

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <mutex>

namespace partita {

namespace {
std::shared_ptr<spdlog::logger> make_logger() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("partita", sink);
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [partita] [%l] %v");
  logger->set_level(spdlog::level::info);
  if (const char* lvl = std::getenv("PARTITA_LOG_LEVEL")) logger->set_level(spdlog::level::from_str(lvl));
  logger->flush_on(spdlog::level::info);
  return logger;
}
}  // namespace

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = make_logger();
  return *logger;
}

namespace detail {
void set_log_identity(int rank, int size, const std::string& host) {
  (void)size;
  log().set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(rank) + "@" + host + "] [%l] %v");
}
}  // namespace detail

}  // namespace partita
