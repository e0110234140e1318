#include <partita/scheduler/parameters.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {
[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& expected) {
  throw usage_error("parameter '" + key + "=" + value + "' is not " + expected + "; fix it with --param " + key + "=<" +
                    expected + ">");
}
}  // namespace

parameters parameters::parse(const std::vector<std::string>& items) {
  parameters p;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw usage_error("--param '" + item + "' is not key=value; write it like --param partitions=1000");
    p.set(item.substr(0, eq), item.substr(eq + 1));
  }
  return p;
}

std::string parameters::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::int64_t parameters::get_int(const std::string& key, std::int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto& v = it->second;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || p != v.data() + v.size()) bad(key, v, "a whole number");
  return out;
}

double parameters::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto& v = it->second;
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size()) bad(key, v, "a number");
  return out;
}

bool parameters::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto& v = it->second;
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  bad(key, v, "true or false");
}

std::string parameters::get_choice(const std::string& key, const std::string& fallback,
                                   const std::vector<std::string>& choices) const {
  const auto v = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string all;
  for (const auto& c : choices) all += (all.empty() ? "" : "|") + c;
  bad(key, v, all);
}

std::uint64_t parameters::hash() const noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto feed = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;  // separator so ("ab","c") != ("a","bc")
  };
  for (const auto& [k, v] : values_) {
    feed(k);
    feed(v);
  }
  return h;
}

namespace detail {

std::string params_text(const parameters& params) {
  std::string out;
  for (const auto& [k, v] : params.items()) out += k + "=" + v + "\n";
  return out;
}

std::string changed_identities(const std::string& saved, const parameters& now) {
  std::map<std::string, std::string> was;
  for (std::size_t pos = 0; pos < saved.size();) {
    auto end = saved.find('\n', pos);
    if (end == std::string::npos) end = saved.size();
    const std::string line = saved.substr(pos, end - pos);
    if (const auto eq = line.find('='); eq != std::string::npos) was[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  std::map<std::string, std::string> is;
  for (const auto& [k, v] : now.items()) is[k] = v;
  std::string out;
  const auto note = [&](const std::string& key) {
    if (!key.ends_with(".identity")) return;
    const auto a = was.find(key), b = is.find(key);
    if (a == was.end() || b == is.end() || a->second == b->second) return;  // an input added or dropped: new params
    out += fmt::format("{}{}: was '{}', now '{}'", out.empty() ? "" : "; ", key, a->second, b->second);
  };
  for (const auto& [k, v] : is) note(k);
  return out;
}

}  // namespace detail

}  // namespace partita
