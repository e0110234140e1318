#include <partita/runtime/launch_env.hpp>

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>

#include <partita/runtime/error.hpp>

namespace partita {

namespace {

template <class Int = int>
std::optional<Int> to_int(const env_lookup& lookup, std::string_view name) {
  auto text = lookup(name);
  if (!text || text->empty()) return std::nullopt;
  Int value = 0;
  const char* first = text->data();
  const char* last = first + text->size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  // SLURM_CPUS_PER_TASK may look like "4(x2)" in some Slurm versions; the leading number is what counts.
  if (ec != std::errc{} || ptr == first)
    throw usage_error("environment variable " + std::string(name) + "='" + *text +
                      "' is not a whole number; unset it or fix the launcher");
  return value;
}

// One bracket group "01-04,07" expanded with the prefix, appended to out.
void expand_group(std::string_view input, const std::string& prefix, std::string_view ranges, const std::string& suffix,
                  std::vector<std::string>& out) {
  auto bad = [&](const std::string& why) {
    return usage_error("malformed Slurm node list '" + std::string(input) + "': " + why);
  };
  std::size_t pos = 0;
  while (pos <= ranges.size()) {
    std::size_t comma = ranges.find(',', pos);
    if (comma == std::string_view::npos) comma = ranges.size();
    std::string_view item = ranges.substr(pos, comma - pos);
    if (item.empty()) throw bad("empty range inside brackets");
    std::size_t dash = item.find('-');
    std::string_view lo = item.substr(0, dash);
    std::string_view hi = dash == std::string_view::npos ? lo : item.substr(dash + 1);
    auto all_digits = [](std::string_view s) {
      return !s.empty() &&
             std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    };
    if (!all_digits(lo) || !all_digits(hi)) throw bad("'" + std::string(item) + "' is not a number or a range");
    // from_chars, not stoul: a number too big is the user's typo (usage_error), not std::out_of_range.
    auto number = [&](std::string_view digits) {
      std::uint64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec != std::errc{} || p != digits.data() + digits.size() || v > (std::uint64_t{1} << 32))
        throw bad("'" + std::string(digits) + "' is too large for a node number");
      return v;
    };
    const std::uint64_t a = number(lo);
    const std::uint64_t b = number(hi);
    if (b < a) throw bad("range '" + std::string(item) + "' runs backwards");
    if (b - a > 1'000'000) throw bad("range '" + std::string(item) + "' is implausibly large");
    const std::size_t width = lo.size();      // zero padding follows the lower bound: n[01-10]
    for (std::uint64_t v = a; v <= b; ++v) {  // b <= 2^32, so v cannot wrap around
      std::string num = std::to_string(v);
      if (num.size() < width) num.insert(0, width - num.size(), '0');
      out.push_back(prefix + num + suffix);
    }
    pos = comma + 1;
  }
}

}  // namespace

std::optional<std::string> process_env(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::vector<std::string> expand_nodelist(std::string_view list) {
  std::vector<std::string> out;
  auto bad = [&](const std::string& why) {
    return usage_error("malformed Slurm node list '" + std::string(list) + "': " + why);
  };
  std::size_t pos = 0;
  while (pos < list.size()) {
    // One host expression runs to the next comma outside brackets.
    std::size_t end = pos;
    int depth = 0;
    for (; end < list.size(); ++end) {
      char c = list[end];
      if (c == '[') {
        if (++depth > 1) throw bad("nested brackets");
      } else if (c == ']') {
        if (--depth < 0) throw bad("']' without '['");
      } else if (c == ',' && depth == 0) break;
    }
    if (depth != 0) throw bad("'[' without ']'");
    std::string_view item = list.substr(pos, end - pos);
    if (item.empty()) throw bad("empty host name");
    std::size_t open = item.find('[');
    if (open == std::string_view::npos) {
      out.emplace_back(item);
    } else {
      std::size_t close = item.find(']', open);
      if (item.find('[', close) != std::string_view::npos)
        throw bad("more than one bracket group in '" + std::string(item) + "'");
      std::string prefix(item.substr(0, open));
      std::string suffix(item.substr(close + 1));
      if (prefix.empty()) throw bad("bracket group without a host prefix");
      expand_group(list, prefix, item.substr(open + 1, close - open - 1), suffix, out);
    }
    pos = end + 1;
    if (end < list.size() && pos == list.size()) throw bad("trailing comma");
  }
  if (out.empty()) throw bad("no host names");
  return out;
}

int affinity_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

std::optional<double> launch_env::seconds_left(std::chrono::system_clock::time_point now) const {
  if (!job_end_time) return std::nullopt;
  return std::chrono::duration<double>(*job_end_time - now).count();
}

launch_env read_launch_env(const env_lookup& lookup) {
  launch_env env;
  if (lookup("SLURM_JOB_ID")) env.kind = launcher::slurm;
  else if (lookup("OMPI_COMM_WORLD_SIZE")) env.kind = launcher::open_mpi;

  env.job_id = lookup("SLURM_JOB_ID");
  auto nodelist = lookup("SLURM_JOB_NODELIST");
  if (!nodelist) nodelist = lookup("SLURM_NODELIST");
  if (nodelist && !nodelist->empty()) env.nodes = expand_nodelist(*nodelist);
  env.cpus_per_task = to_int(lookup, "SLURM_CPUS_PER_TASK");
  // Seconds since the epoch: 64-bit, or every job would fail to start from 2038 on.
  if (auto end = to_int<long long>(lookup, "SLURM_JOB_END_TIME"); end && *end > 0)
    env.job_end_time = std::chrono::system_clock::time_point(std::chrono::seconds(*end));
  env.restart_count = to_int(lookup, "SLURM_RESTART_COUNT");

  env.world_rank = to_int(lookup, "OMPI_COMM_WORLD_RANK");
  if (!env.world_rank) env.world_rank = to_int(lookup, "PMIX_RANK");
  if (!env.world_rank) env.world_rank = to_int(lookup, "SLURM_PROCID");
  env.world_size = to_int(lookup, "OMPI_COMM_WORLD_SIZE");
  if (!env.world_size) env.world_size = to_int(lookup, "SLURM_NTASKS");
  env.local_rank = to_int(lookup, "OMPI_COMM_WORLD_LOCAL_RANK");
  if (!env.local_rank) env.local_rank = to_int(lookup, "SLURM_LOCALID");

  if (env.cpus_per_task && *env.cpus_per_task <= 0)
    throw usage_error("SLURM_CPUS_PER_TASK=" + std::to_string(*env.cpus_per_task) + " must be positive");
  env.cpus_per_rank = env.cpus_per_task ? *env.cpus_per_task : affinity_cpu_count();
  return env;
}

int launcher_rank_hint(const env_lookup& lookup) {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    auto v = lookup(name);
    if (v && !v->empty()) {
      int r = 0;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), r);
      if (ec == std::errc{} && p != v->data()) return r;
    }
  }
  return 0;
}

}  // namespace partita
