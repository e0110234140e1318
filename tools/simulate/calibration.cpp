#include "calibration.hpp"

#include <cstdlib>
#include <fstream>
#include <map>

#include <partita/runtime/error.hpp>

namespace partita::simulate {

calibration read_calibration(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    throw usage_error("cannot read calibration file " + file.string() +
                      " (write one with: mpirun -n 2 build/bin/bench_calibrate --out FILE)");
  calibration c;
  c.source = file.string();
  const std::map<std::string, double*> keys{{"latency_s", &c.latency_s},    {"bandwidth_Bps", &c.bandwidth_Bps},
                                            {"message_s", &c.message_s},    {"complete_s", &c.complete_s},
                                            {"assign_s", &c.assign_s},      {"result_s", &c.result_s},
                                            {"partition_s", &c.partition_s}};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto eq = line.find('=');
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (eq == std::string::npos)
      throw usage_error(file.string() + ":" + std::to_string(n) + ": expected key=value, got '" + line + "'");
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    const auto key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    const auto it = keys.find(key);
    if (it == keys.end()) continue;
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(v >= 0))
      throw usage_error(file.string() + ":" + std::to_string(n) + ": " + key + " must be a number >= 0, got '" + value +
                        "'");
    *it->second = v;
  }
  if (c.bandwidth_Bps <= 0) throw usage_error(file.string() + ": bandwidth_Bps must be positive");
  return c;
}

}  // namespace partita::simulate
