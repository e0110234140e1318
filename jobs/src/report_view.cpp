#include <partita/jobs/detail/report_view.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <partita/runtime/error.hpp>
#include <partita/runtime/failure_history.hpp>
#include <partita/scheduler/detail/trace_writer.hpp>
#include <partita/scheduler/run_report.hpp>

namespace partita::detail {

namespace {

using nlohmann::json;

// The whole file as JSON, or one line saying why not.
json parse_file(const std::filesystem::path& file, const char* what, const char* fix) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw usage_error(fmt::format("report: cannot read the {} {} (no such file?)", what, file.string()));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw usage_error(fmt::format("report: the {} {} is not complete JSON (truncated or damaged at byte {}); {}", what,
                                  file.string(), e.byte, fix));
  }
}

template <class T>
T field(const json& doc, const char* key, const std::filesystem::path& file) {
  const auto it = doc.find(key);
  if (it == doc.end())
    throw usage_error(fmt::format("report: {} has no \"{}\": not a summary of this Partita version; give the file "
                                  "`partita run --summary-json` wrote",
                                  file.string(), key));
  return it->get<T>();
}

void read_summary(report_view& v, const json& d, const std::filesystem::path& file) {
  const auto version = d.is_object() && d.contains("summary_version") && d["summary_version"].is_number_integer()
                           ? d["summary_version"].get<int>()
                           : 0;
  if (version != run_report::summary_version)
    throw usage_error(fmt::format("report: {} is {}, this partita reads summary_version {}; write the summary again "
                                  "with this version (`partita run ... --summary-json`)",
                                  file.string(),
                                  version == 0
                                      ? std::string("not a summary of this Partita version (no summary_version)")
                                      : fmt::format("a summary of version {}", version),
                                  run_report::summary_version));
  v.job = field<std::string>(d, "job", file);
  v.model = d.value("model", std::string("map_reduce"));
  v.status = field<std::string>(d, "status", file);
  v.policy = d.value("policy", std::string());
  v.result = d.value("result", std::string());
  v.ranks = field<int>(d, "ranks", file);
  v.scheduler_rank = d.value("scheduler_rank", 0);
  v.partitions = field<std::uint64_t>(d, "partitions", file);
  v.wall_seconds = field<double>(d, "wall_seconds", file);
  v.imbalance = d.value("imbalance", 1.0);
  const auto& ck = d.at("checkpoints");
  v.checkpoints = ck.value("count", std::uint64_t{0});
  v.checkpoint_seconds = ck.value("seconds", 0.0);
  v.stop_reason = ck.value("stop_reason", std::string());
  v.unit = v.model == "iterative" ? "steps" : "partitions";
  v.total = v.model == "iterative" ? d.value("steps", std::uint64_t{0}) : v.partitions;
  v.migrations = d.value("migrations", std::uint64_t{0});
  for (const auto& w : field<json>(d, "workers", file)) {
    report_rank r;
    r.rank = w.at("rank").get<int>();
    r.host = w.value("host", std::string());
    r.threads = w.value("threads", 0);
    r.busy_seconds = w.value("busy_seconds", 0.0);
    r.idle_seconds = w.value("idle_seconds", 0.0);
    r.partitions = w.value("partitions", std::uint64_t{0});
    r.lost = w.value("lost", false);
    v.rows.push_back(std::move(r));
  }
  if (v.rows.size() != static_cast<std::size_t>(v.ranks))
    throw usage_error(fmt::format("report: {} lists {} workers for {} ranks: it is damaged; write it again",
                                  file.string(), v.rows.size(), v.ranks));
  if (const auto it = d.find("progress"); it != d.end())
    for (const auto& p : *it) {
      v.progress_at.push_back(p.at(0).get<double>());
      v.progress_done.push_back(p.at(1).get<std::uint64_t>());
      v.progress_eta.push_back(p.at(2).get<double>());
    }
  if (const auto it = d.find("events"); it != d.end())
    for (const auto& e : *it)
      v.markers.push_back({e.at("kind").get<std::string>(), e.at("at_seconds").get<double>(), e.value("seconds", 0.0),
                           e.value("text", std::string()), e.value("step", std::int64_t{-1})});
  for (const auto& f : d.value("failovers", json::array()))
    v.markers.push_back({"failover", f.value("noticed_at_seconds", 0.0),
                         f.value("resumed_at_seconds", 0.0) - f.value("noticed_at_seconds", 0.0),
                         fmt::format("failover: rank {} took over from rank {} (term {})", f.value("new_scheduler", -1),
                                     f.value("lost_scheduler", -1), f.value("term", 0)),
                         -1});
  for (const auto& r : d.value("rollbacks", json::array()))
    v.markers.push_back({"rollback", r.value("noticed_at_seconds", 0.0),
                         r.value("resumed_at_seconds", 0.0) - r.value("noticed_at_seconds", 0.0),
                         fmt::format("rollback after step {}: went on from step {} on {} of {} ranks",
                                     r.value("lost_at_step", 0), r.value("from_step", 0), r.value("ranks_after", 0),
                                     r.value("ranks_before", 0)),
                         static_cast<std::int64_t>(r.value("lost_at_step", 0))});
  std::stable_sort(v.markers.begin(), v.markers.end(),
                   [](const report_marker& a, const report_marker& b) { return a.at_seconds < b.at_seconds; });
  if (const auto it = d.find("step_imbalance"); it != d.end()) {
    v.step_imbalance = it->get<std::vector<double>>();
    v.step_imbalance_stride = std::max<std::uint64_t>(1, d.value("step_imbalance_stride", std::uint64_t{1}));
    v.steps_at_start = ck.value("restored_done", std::uint64_t{0});
  }
}

// One partition slice of the trace.
struct slice {
  int rank;
  double start, seconds;
  std::uint64_t id;
};

void read_trace(report_view& v, const json& d, const std::filesystem::path& file, int buckets) {
  const json* other = d.is_object() && d.contains("otherData") ? &d["otherData"] : nullptr;
  const int version = other && other->contains("trace_version") && (*other)["trace_version"].is_number_integer()
                          ? (*other)["trace_version"].get<int>()
                          : 0;
  if (version != trace_version)
    throw usage_error(fmt::format("report: {} is not a trace of this Partita version (trace_version {} expected); "
                                  "give the file `partita run --trace` wrote",
                                  file.string(), trace_version));
  if (other->value("job", std::string()) != v.job)
    throw usage_error(fmt::format("report: {} is a trace of job '{}', the summary is of job '{}'; give the trace of "
                                  "the same run",
                                  file.string(), other->value("job", std::string()), v.job));
  std::vector<slice> slices;
  for (const auto& e : d.at("traceEvents")) {
    const auto ph = e.find("ph");
    const auto cat = e.find("cat");
    if (ph == e.end() || *ph != "X" || cat == e.end() || *cat != "partition") continue;
    const int rank = e.at("pid").get<int>();
    if (rank < 0 || rank >= v.ranks)
      throw usage_error(fmt::format("report: {} has a slice of rank {}, the run had {} ranks: a trace of another run?",
                                    file.string(), rank, v.ranks));
    slices.push_back({rank, e.at("ts").get<double>() * 1e-6, e.at("dur").get<double>() * 1e-6,
                      e.at("args").at("id").get<std::uint64_t>()});
  }
  v.has_trace = true;
  v.slices = slices.size();
  // The timeline: each rank's kernel time per bucket (a slice spread over the buckets it covers), as a share of
  // its threads' time. O(slices + ranks x buckets), whatever the number of slices.
  double end = v.wall_seconds;
  for (const auto& s : slices) end = std::max(end, s.start + s.seconds);
  v.buckets = buckets;
  v.bucket_seconds = std::max(end, 1e-9) / buckets;
  std::vector<std::vector<double>> busy(v.rows.size(), std::vector<double>(static_cast<std::size_t>(buckets), 0.0));
  for (const auto& s : slices) {
    auto& row = busy[static_cast<std::size_t>(s.rank)];
    const double a = s.start, b = s.start + s.seconds;
    auto first = static_cast<int>(a / v.bucket_seconds), last = static_cast<int>(b / v.bucket_seconds);
    first = std::clamp(first, 0, buckets - 1);
    last = std::clamp(last, 0, buckets - 1);
    for (int k = first; k <= last; ++k) {
      const double lo = k * v.bucket_seconds, hi = lo + v.bucket_seconds;
      row[static_cast<std::size_t>(k)] += std::max(0.0, std::min(b, hi) - std::max(a, lo));
    }
  }
  for (std::size_t r = 0; r < v.rows.size(); ++r) {
    const double capacity = std::max(1, v.rows[r].threads) * v.bucket_seconds;
    v.rows[r].busy.resize(static_cast<std::size_t>(buckets));
    for (int k = 0; k < buckets; ++k)
      v.rows[r].busy[static_cast<std::size_t>(k)] = static_cast<float>(
          std::clamp(busy[r][static_cast<std::size_t>(k)] / capacity, 0.0, 1.0));
  }
  if (slices.empty()) return;
  // The histogram: 30 bins, log-spaced between the shortest and the longest slice.
  double lo = 1e300, hi = 0;
  for (const auto& s : slices) {
    lo = std::min(lo, std::max(s.seconds, 1e-9));
    hi = std::max(hi, std::max(s.seconds, 1e-9));
  }
  if (hi <= lo * 1.0001) hi = lo * 2;
  const int bins = 30;
  v.histogram.assign(bins, 0);
  v.histogram_min = lo;
  v.histogram_max = hi;
  const double span = std::log(hi / lo);
  for (const auto& s : slices) {
    const int k = static_cast<int>(std::log(std::max(s.seconds, 1e-9) / lo) / span * bins);
    ++v.histogram[static_cast<std::size_t>(std::clamp(k, 0, bins - 1))];
  }
  const std::size_t keep = std::min<std::size_t>(10, slices.size());
  std::partial_sort(slices.begin(), slices.begin() + static_cast<std::ptrdiff_t>(keep), slices.end(),
                    [](const slice& a, const slice& b) { return a.seconds > b.seconds; });
  for (std::size_t i = 0; i < keep; ++i)
    v.slowest.push_back({slices[i].id, slices[i].rank, slices[i].start, slices[i].seconds});
}

}  // namespace

report_view read_report_view(const std::filesystem::path& summary, const std::optional<std::filesystem::path>& trace,
                             const std::optional<std::filesystem::path>& failure_history, int buckets) {
  report_view v;
  v.source = summary.string();
  try {
    read_summary(v, parse_file(summary, "summary", "give the whole file `partita run --summary-json` wrote"), summary);
  } catch (const json::exception& e) {
    throw usage_error(fmt::format("report: {} is not a summary of this Partita version ({}); give the file `partita "
                                  "run --summary-json` wrote",
                                  summary.string(), e.what()));
  }
  if (trace) {
    try {
      read_trace(v, parse_file(*trace, "trace", "give the whole file `partita run --trace` wrote"), *trace, buckets);
    } catch (const json::exception& e) {
      throw usage_error(fmt::format("report: {} is not a trace of this Partita version ({}); give the file `partita "
                                    "run --trace` wrote",
                                    trace->string(), e.what()));
    }
  }
  if (failure_history) {
    if (!std::filesystem::exists(*failure_history))
      throw usage_error(fmt::format("report: no failure history at {}; give the file the launcher wrote "
                                    "(<checkpoint dir>/failure-history) or leave --failure-history out",
                                    failure_history->string()));
    for (const auto& e : read_failure_events(*failure_history))
      v.history.push_back(fmt::format("{}  {}  {}", e.host, e.when ? format_utc(*e.when) : std::string("(untimed)"),
                                      e.reason));
  }
  return v;
}

}  // namespace partita::detail
