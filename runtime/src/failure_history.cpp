#include <partita/runtime/failure_history.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {
std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

/// Splits off the first whitespace-separated word of `s`.
std::string_view next_word(std::string_view& s) {
  s = trim(s);
  const auto e = std::min(s.find_first_of(" \t"), s.size());
  auto w = s.substr(0, e);
  s.remove_prefix(e);
  return w;
}
}  // namespace

std::string format_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t at, std::size_t len) {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  const std::time_t tt = timegm(&tm);
  if (tt == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(tt);
}

std::vector<failure_event> read_failure_events(const std::filesystem::path& file) {
  std::vector<failure_event> events;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return events;
  std::ifstream in(file);
  if (!in) throw error("cannot read the failure history " + file.string() + "; check its permissions");
  std::string line;
  while (std::getline(in, line)) {
    std::string_view rest = line;
    std::string_view comment;
    if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
      comment = rest.substr(hash + 1);
      rest = rest.substr(0, hash);
    }
    const auto host = next_word(rest);
    if (host.empty()) continue;
    failure_event e;
    e.host = std::string(host);
    auto words = rest;
    if (auto when = parse_utc(next_word(words))) {
      e.when = when;
      rest = words;
    }
    const auto extra = trim(rest);
    const auto text = trim(comment);
    e.reason = std::string(extra);
    if (!extra.empty() && !text.empty()) e.reason += ": ";
    e.reason += std::string(text);
    events.push_back(std::move(e));
  }
  return events;
}

std::set<std::string> suspect_hosts(const std::vector<failure_event>& events) {
  std::set<std::string> hosts;
  for (const auto& e : events)
    if (e.host != "-") hosts.insert(e.host);
  return hosts;
}

std::set<std::string> read_failure_history(const std::filesystem::path& file) {
  return suspect_hosts(read_failure_events(file));
}

void append_failure_history(const std::filesystem::path& file, const std::string& host, const std::string& why,
                            std::chrono::system_clock::time_point when) {
  std::ofstream out(file, std::ios::app);
  if (!out) throw error("cannot append to the failure history " + file.string());
  std::string reason = why;
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  out << (host.empty() ? "-" : host) << "  " << format_utc(when) << "  # " << reason << '\n';
  if (!out.flush()) throw error("cannot append to the failure history " + file.string());
}

std::size_t count_interrupts(const std::vector<failure_event>& events, std::chrono::seconds window) {
  std::vector<std::chrono::system_clock::time_point> times;
  for (const auto& e : events)
    if (e.when) times.push_back(*e.when);
  std::sort(times.begin(), times.end());
  std::size_t n = 0;
  std::optional<std::chrono::system_clock::time_point> last;
  for (const auto t : times)
    if (!last || t - *last >= window) {
      ++n;
      last = t;
    }
  return n;
}

}  // namespace partita
