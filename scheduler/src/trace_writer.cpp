#include <partita/scheduler/detail/trace_writer.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

#include <partita/runtime/error.hpp>

namespace partita::detail {

void write_trace(const std::filesystem::path& file, const std::string& job, const std::vector<rank_trace>& ranks,
                 const std::vector<trace_event>& scheduler_events, int scheduler_rank) {
  using nlohmann::json;
  json events = json::array();
  auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
  for (const auto& r : ranks) {
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", r.rank},
                      {"tid", 0},
                      {"args",
                       {{"name", "rank " + std::to_string(r.rank) + "@" + r.host +
                                     (r.rank == scheduler_rank ? " (scheduler)" : "")}}}});
    std::vector<int> threads;
    for (const auto& s : r.slices) {
      if (std::find(threads.begin(), threads.end(), s.thread) == threads.end()) threads.push_back(s.thread);
      events.push_back({{"ph", "X"},
                        {"cat", "partition"},
                        {"name", "partition " + std::to_string(s.id)},
                        {"pid", r.rank},
                        {"tid", s.thread + 1},
                        {"ts", us(s.start_ns)},
                        {"dur", us(s.end_ns - s.start_ns)},
                        {"args", {{"id", s.id}}}});
    }
    for (int t : threads)
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", r.rank},
                        {"tid", t + 1},
                        {"args", {{"name", "worker thread " + std::to_string(t)}}}});
  }
  events.push_back(
      {{"ph", "M"}, {"name", "thread_name"}, {"pid", scheduler_rank}, {"tid", 0}, {"args", {{"name", "scheduler"}}}});
  for (const auto& e : scheduler_events) {
    json ev = {{"name", e.name}, {"cat", "scheduler"}, {"pid", e.rank}, {"tid", 0}, {"ts", us(e.ts_ns)}};
    if (e.dur_ns >= 0) {
      ev["ph"] = "X";
      ev["dur"] = us(e.dur_ns);
    } else {
      ev["ph"] = "i";
      ev["s"] = "p";
    }
    events.push_back(std::move(ev));
  }
  json doc = {{"traceEvents", std::move(events)},
              {"displayTimeUnit", "ms"},
              {"otherData", {{"job", job}, {"producer", "partita"}, {"trace_version", trace_version}}}};
  std::ofstream out(file);
  if (!out) throw error("cannot write the trace file " + file.string() + "; check that its folder exists");
  out << doc.dump() << '\n';
  if (!out) throw error("writing the trace file " + file.string() + " failed (disk full?)");
}

}  // namespace partita::detail
