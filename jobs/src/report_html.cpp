#include <partita/jobs/detail/report_html.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace partita::detail {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string secs(double s) {
  if (s < 1e-3) return fmt::format("{:.0f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.1f} ms", s * 1e3);
  if (s < 120) return fmt::format("{:.2f} s", s);
  return fmt::format("{:.0f} min {:.0f} s", std::floor(s / 60), std::fmod(s, 60));
}

constexpr int width = 900;    // plot width in SVG units
constexpr int label_w = 110;  // left margin for row labels
constexpr int row_h = 14;     // a timeline row
const char* marker_colour(const std::string& kind) {
  if (kind == "checkpoint") return "#2060c0";
  if (kind == "rebalance") return "#a040c0";
  if (kind == "failover") return "#d02020";
  if (kind == "rollback") return "#e07000";
  return "#606060";
}

class page {
 public:
  void add(std::string_view s) { out_.append(s); }
  template <class... A>
  void f(fmt::format_string<A...> fs, A&&... a) {
    fmt::format_to(std::back_inserter(out_), fs, std::forward<A>(a)...);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void figures(page& p, const report_view& v) {
  p.add("<table class=\"figures\">");
  auto row = [&](const char* k, const std::string& val) { p.f("<tr><th>{}</th><td>{}</td></tr>", k, esc(val)); };
  row("job", v.job + " (" + v.model + ")");
  row("status", v.status + (v.stop_reason.empty() ? "" : ": " + v.stop_reason));
  row("result", v.result);
  row("ranks", fmt::format("{} (scheduler: rank {})", v.ranks, v.scheduler_rank));
  row(v.model == "iterative" ? "steps" : "partitions", fmt::format("{}", v.total));
  row("wall time", secs(v.wall_seconds));
  row("imbalance (max/mean busy per thread)", fmt::format("{:.3f}", v.imbalance));
  row("checkpoints", fmt::format("{} ({} writing)", v.checkpoints, secs(v.checkpoint_seconds)));
  if (v.model == "iterative") row("migrations", fmt::format("{}", v.migrations));
  row("summary", v.source);
  p.add("</table>\n");
}

// Vertical marks over a plot of height `h` whose x axis maps [0, end] seconds to [x0, x0 + w].
void markers(page& p, const report_view& v, double end, int x0, int w, int y0, int h) {
  for (const auto& m : v.markers) {
    const double x = x0 + w * std::clamp(m.at_seconds / end, 0.0, 1.0);
    const double dx = std::max(1.5, w * std::clamp(m.seconds / end, 0.0, 1.0));
    p.f("<rect class=\"marker\" data-kind=\"{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\" "
        "fill-opacity=\"0.55\"><title>{} at {}: {}</title></rect>",
        m.kind, x, y0, dx, h, marker_colour(m.kind), esc(m.kind), secs(m.at_seconds), esc(m.text));
  }
}

void legend(page& p) {
  p.add("<div class=\"legend\"><span style=\"background:#1a9850\"></span>busy (kernels) "
        "<span style=\"background:#e8e8e8\"></span>not busy: idle or communicating ");
  for (const char* k : {"checkpoint", "rebalance", "failover", "rollback"})
    p.f("<span style=\"background:{}\"></span>{} ", marker_colour(k), k);
  p.add("</div>\n");
}

void timeline(page& p, const report_view& v) {
  p.add("<h3>Timeline of every rank</h3>\n");
  const double end = v.has_trace ? v.bucket_seconds * v.buckets : std::max(v.wall_seconds, 1e-9);
  if (v.has_trace)
    p.f("<p class=\"note\">{} slices from the trace, downsampled to {} columns of {} per rank: a column's shade is "
        "the share of the rank's threads' time spent in kernels.</p>\n",
        v.slices, v.buckets, secs(v.bucket_seconds));
  else
    p.add("<p class=\"note\">No trace given (<code>--trace</code>): each row shows the rank's busy share over the "
          "whole run.</p>\n");
  legend(p);
  const int plot_w = width - label_w;
  const int h = static_cast<int>(v.rows.size()) * row_h + 24;
  p.f("<svg class=\"timeline\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\">\n", width, h, width, h);
  for (std::size_t r = 0; r < v.rows.size(); ++r) {
    const auto& row = v.rows[r];
    const int y = static_cast<int>(r) * row_h;
    p.f("<g class=\"timeline-row\" data-rank=\"{}\"><text x=\"0\" y=\"{}\" font-size=\"10\"{}>rank {}{}</text>"
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#e8e8e8\"/>",
        row.rank, y + 10, row.lost ? " fill=\"#d02020\"" : "", row.rank,
        row.rank == v.scheduler_rank ? " (sched)" : (row.lost ? " (lost)" : ""), label_w, y + 1, plot_w, row_h - 2);
    if (row.busy.empty()) {
      const double capacity = std::max(1, row.threads) * std::max(v.wall_seconds, 1e-9);
      p.f("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#1a9850\" fill-opacity=\"{:.2f}\"/>", label_w,
          y + 1, plot_w, row_h - 2, std::clamp(row.busy_seconds / capacity, 0.0, 1.0));
    } else {
      // Runs of columns with the same shade (tenths) are one rectangle: the page stays small at any run length.
      const double cw = static_cast<double>(plot_w) / static_cast<double>(row.busy.size());
      std::size_t k = 0;
      while (k < row.busy.size()) {
        const int level = static_cast<int>(std::lround(row.busy[k] * 10));
        std::size_t j = k + 1;
        while (j < row.busy.size() && static_cast<int>(std::lround(row.busy[j] * 10)) == level) ++j;
        if (level > 0)
          p.f("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#1a9850\" fill-opacity=\"{:.1f}\"/>",
              label_w + cw * static_cast<double>(k), y + 1, cw * static_cast<double>(j - k) + 0.3, row_h - 2,
              level / 10.0);
        k = j;
      }
    }
    p.add("</g>\n");
  }
  markers(p, v, end, label_w, plot_w, 0, static_cast<int>(v.rows.size()) * row_h);
  const int ay = static_cast<int>(v.rows.size()) * row_h + 14;
  for (int t = 0; t <= 4; ++t)
    p.f("<text x=\"{:.0f}\" y=\"{}\" font-size=\"10\" text-anchor=\"{}\">{}</text>", label_w + plot_w * t / 4.0, ay,
        t == 4 ? "end" : "middle", secs(end * t / 4));
  p.add("</svg>\n");
}

void histogram(page& p, const report_view& v) {
  const bool steps = v.model == "iterative";
  p.f("<h3>{} times</h3>\n", steps ? "Partition step" : "Partition");
  if (v.histogram.empty()) {
    p.add("<p class=\"note\">Needs the run's trace (<code>--trace</code>).</p>\n");
    return;
  }
  const auto most = *std::max_element(v.histogram.begin(), v.histogram.end());
  const int w = width - 60, h = 160, bins = static_cast<int>(v.histogram.size());
  p.f("<svg class=\"histogram\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\">\n", width, h + 30, width, h + 30);
  const double bw = static_cast<double>(w) / bins;
  const double ratio = v.histogram_max / v.histogram_min;
  for (int k = 0; k < bins; ++k) {
    const auto n = v.histogram[static_cast<std::size_t>(k)];
    const double bh = most ? h * static_cast<double>(n) / static_cast<double>(most) : 0;
    const double lo = v.histogram_min * std::pow(ratio, static_cast<double>(k) / bins);
    const double hi = v.histogram_min * std::pow(ratio, static_cast<double>(k + 1) / bins);
    p.f("<rect class=\"hist-bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#4575b4\">"
        "<title>{} to {}: {}</title></rect>",
        50 + bw * k, h - bh, bw - 1, bh, secs(lo), secs(hi), n);
  }
  p.f("<text x=\"50\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" "
      "text-anchor=\"end\">{} (log scale)</text><text x=\"0\" y=\"12\" font-size=\"10\">{}</text>",
      h + 14, secs(v.histogram_min), 50 + w, h + 14, secs(v.histogram_max), most);
  p.add("</svg>\n<table class=\"slowest\"><tr><th>slowest</th><th>partition</th><th>rank</th><th>started</th>"
        "<th>took</th></tr>");
  for (std::size_t i = 0; i < v.slowest.size(); ++i)
    p.f("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", i + 1, v.slowest[i].id, v.slowest[i].rank,
        secs(v.slowest[i].start_seconds), secs(v.slowest[i].seconds));
  p.add("</table>\n");
}

std::string polyline(const std::vector<double>& xs, const std::vector<double>& ys, double xmax, double ymax, int x0,
                     int w, int h) {
  std::string pts;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (ys[i] < 0) continue;
    fmt::format_to(std::back_inserter(pts), "{:.1f},{:.1f} ", x0 + w * std::clamp(xs[i] / xmax, 0.0, 1.0),
                   h - h * std::clamp(ys[i] / ymax, 0.0, 1.0));
  }
  return pts;
}

void progress(page& p, const report_view& v) {
  p.add("<h3>Progress and the ETA predicted at each moment</h3>\n");
  if (v.progress_at.empty()) {
    p.add("<p class=\"note\">The summary has no progress samples.</p>\n");
    return;
  }
  const double end = std::max(v.wall_seconds, v.progress_at.back());
  std::vector<double> done, finish;
  double fmax = end;
  for (std::size_t i = 0; i < v.progress_at.size(); ++i) {
    done.push_back(static_cast<double>(v.progress_done[i]));
    finish.push_back(v.progress_eta[i] < 0 ? -1 : v.progress_at[i] + v.progress_eta[i]);
    if (finish.back() > 0) fmax = std::max(fmax, finish.back());
  }
  fmax = std::min(fmax, 4 * end);  // an early, wild guess must not flatten the rest
  const int h = 150, w = width - 60;
  p.f("<svg class=\"progress\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\">\n", width, 2 * h + 50, width,
      2 * h + 50);
  p.f("<text x=\"0\" y=\"10\" font-size=\"10\">{} done (of {})</text>", esc(v.unit), v.total);
  p.f("<g transform=\"translate(0,14)\"><rect x=\"50\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#f6f6f6\"/>"
      "<polyline class=\"progress-done\" fill=\"none\" stroke=\"#1a9850\" stroke-width=\"2\" points=\"{}\"/>",
      w, h, polyline(v.progress_at, done, end, std::max<double>(1, static_cast<double>(v.total)), 50, w, h));
  markers(p, v, end, 50, w, 0, h);
  p.add("</g>");
  p.f("<text x=\"0\" y=\"{}\" font-size=\"10\">predicted end (time + ETA) at each moment; dashed: the real end</text>",
      h + 34);
  p.f("<g transform=\"translate(0,{})\"><rect x=\"50\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#f6f6f6\"/>"
      "<polyline class=\"progress-eta\" fill=\"none\" stroke=\"#d73027\" stroke-width=\"2\" points=\"{}\"/>"
      "<line x1=\"50\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>"
      "<text x=\"46\" y=\"10\" font-size=\"10\" text-anchor=\"end\">{}</text></g>",
      h + 40, w, h, polyline(v.progress_at, finish, end, fmax, 50, w, h), 50 + w, h - h * (end / fmax),
      h - h * (end / fmax), secs(fmax));
  p.f("<text x=\"50\" y=\"{}\" font-size=\"10\">0</text><text x=\"{}\" y=\"{}\" font-size=\"10\" "
      "text-anchor=\"end\">{}</text>",
      2 * h + 50, 50 + w, 2 * h + 50, secs(end));
  p.add("</svg>\n");
}

void load(page& p, const report_view& v) {
  p.add("<h3>Load per rank</h3>\n");
  double most = 1e-9;
  for (const auto& r : v.rows) most = std::max(most, r.busy_seconds + r.idle_seconds);
  const int bh = 14, w = width - label_w - 160;
  const int h = static_cast<int>(v.rows.size()) * bh + 4;
  p.f("<svg class=\"load\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\">\n", width, h, width, h);
  for (std::size_t i = 0; i < v.rows.size(); ++i) {
    const auto& r = v.rows[i];
    const int y = static_cast<int>(i) * bh;
    const double bw = w * r.busy_seconds / most, iw = w * r.idle_seconds / most;
    p.f("<g class=\"load-bar\" data-rank=\"{}\"><text x=\"0\" y=\"{}\" font-size=\"10\">rank {}</text>"
        "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#1a9850\"><title>busy {}</title></rect>"
        "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#cccccc\"><title>idle {}</title></rect>"
        "<text x=\"{}\" y=\"{}\" font-size=\"10\">{} {}, busy {}</text></g>\n",
        r.rank, y + 10, r.rank, label_w, y + 1, bw, bh - 2, secs(r.busy_seconds), label_w + bw, y + 1, iw, bh - 2,
        secs(r.idle_seconds), label_w + w + 6, y + 10, r.partitions, v.model == "iterative" ? "partitions" : "done",
        secs(r.busy_seconds));
  }
  p.add("</svg>\n");
}

void imbalance(page& p, const report_view& v) {
  if (v.model != "iterative") return;
  p.add("<h3>Imbalance over steps (max/mean busy per thread), rebalances marked</h3>\n");
  if (v.step_imbalance.empty()) {
    p.add("<p class=\"note\">The summary has no per-step imbalance.</p>\n");
    return;
  }
  const auto n = v.step_imbalance.size();
  const double first = static_cast<double>(v.steps_at_start);
  const double last = first + static_cast<double>((n - 1) * v.step_imbalance_stride) + 1;
  double top = 1.0;
  for (double x : v.step_imbalance) top = std::max(top, x);
  top *= 1.05;
  const int h = 150, w = width - 60;
  std::vector<double> xs, ys;
  for (std::size_t i = 0; i < n; ++i) {
    xs.push_back(static_cast<double>(i * v.step_imbalance_stride));
    ys.push_back(v.step_imbalance[i] - 1);  // from 1 (perfect) at the bottom
  }
  p.f("<svg class=\"imbalance\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\">\n", width, h + 30, width, h + 30);
  p.f("<rect x=\"50\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#f6f6f6\"/><polyline fill=\"none\" stroke=\"#4575b4\" "
      "stroke-width=\"1.5\" points=\"{}\"/>",
      w, h, polyline(xs, ys, std::max(1.0, last - first), top - 1, 50, w, h));
  for (const auto& m : v.markers)
    if (m.kind == "rebalance" && m.step >= 0) {
      const double x = 50 +
                       w * std::clamp((static_cast<double>(m.step) - first) / std::max(1.0, last - first), 0.0, 1.0);
      p.f("<line class=\"rebalance\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"0\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\">"
          "<title>{}</title></line>",
          x, x, h, marker_colour("rebalance"), esc(m.text));
    }
  p.f("<text x=\"46\" y=\"10\" font-size=\"10\" text-anchor=\"end\">{:.2f}</text><text x=\"46\" y=\"{}\" "
      "font-size=\"10\" text-anchor=\"end\">1.00</text><text x=\"50\" y=\"{}\" font-size=\"10\">step {}</text>"
      "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">step {}</text>",
      top, h, h + 14, v.steps_at_start + 1, 50 + w, h + 14, static_cast<std::uint64_t>(last));
  p.add("</svg>\n");
}

void history(page& p, const report_view& v) {
  if (v.history.empty()) return;
  p.add("<h3>Failure history</h3>\n<pre class=\"history\">");
  for (const auto& line : v.history) p.f("{}\n", esc(line));
  p.add("</pre>\n");
}

void section(page& p, const report_view& v, const char* title) {
  p.f("<section class=\"run\" data-job=\"{}\" data-ranks=\"{}\"><h2>{}: {}</h2>\n", esc(v.job), v.ranks, title,
      esc(v.job));
  figures(p, v);
  timeline(p, v);
  progress(p, v);
  histogram(p, v);
  load(p, v);
  imbalance(p, v);
  history(p, v);
  p.add("</section>\n");
}

void comparison(page& p, const report_view& a, const report_view& b) {
  p.add("<h2>This run against the other</h2>\n<table class=\"compare\"><tr><th></th><th>this run</th><th>other "
        "run</th><th>this / other</th></tr>");
  auto row = [&](const char* k, double x, double y, const std::string& tx, const std::string& ty) {
    p.f("<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>", k, tx, ty,
        y != 0 ? fmt::format("{:.3f}", x / y) : std::string("-"));
  };
  row("wall time", a.wall_seconds, b.wall_seconds, secs(a.wall_seconds), secs(b.wall_seconds));
  row("ranks", a.ranks, b.ranks, fmt::format("{}", a.ranks), fmt::format("{}", b.ranks));
  row(a.unit.c_str(), static_cast<double>(a.total), static_cast<double>(b.total), fmt::format("{}", a.total),
      fmt::format("{}", b.total));
  row("imbalance", a.imbalance, b.imbalance, fmt::format("{:.3f}", a.imbalance), fmt::format("{:.3f}", b.imbalance));
  row("checkpoint time", a.checkpoint_seconds, b.checkpoint_seconds, secs(a.checkpoint_seconds),
      secs(b.checkpoint_seconds));
  double ba = 0, bb = 0;
  for (const auto& r : a.rows) ba += r.busy_seconds;
  for (const auto& r : b.rows) bb += r.busy_seconds;
  row("kernel time (all ranks)", ba, bb, secs(ba), secs(bb));
  p.add("</table>\n");
}

const char* style = R"(<style>
body{font:13px sans-serif;margin:16px;color:#222}h2{margin:18px 0 6px}h3{margin:14px 0 4px;font-size:14px}
table{border-collapse:collapse;margin:4px 0}th,td{border:1px solid #ddd;padding:2px 6px;text-align:left}
.note{color:#555;margin:2px 0}.legend span{display:inline-block;width:12px;height:10px;margin:0 3px 0 10px}
.runs.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}.runs.two svg{width:100%;height:auto}
pre#self-check{color:#777;font-size:11px}
</style>
)";

// Plain JavaScript, no network: reports its own errors on the page and counts what it drew (the browser test and a
// reader see the same check).
const char* script = R"(<script>
window.addEventListener('error', function (e) {
  var d = document.documentElement;
  d.dataset.scriptErrors = (d.dataset.scriptErrors || '') + e.message + '; ';
});
document.addEventListener('DOMContentLoaded', function () {
  var lines = [];
  document.querySelectorAll('section.run').forEach(function (s) {
    lines.push(s.dataset.job + ': ' + s.querySelectorAll('.timeline-row').length + ' timeline rows, ' +
               s.querySelectorAll('.hist-bar').length + ' histogram bars, ' +
               s.querySelectorAll('.load-bar').length + ' load bars, ' +
               s.querySelectorAll('.marker').length + ' markers');
  });
  document.getElementById('self-check').textContent = lines.join('\n');
  document.documentElement.dataset.scriptOk = 'yes';
});
</script>
)";

}  // namespace

std::string render_report_html(const report_view& run, const report_view* other) {
  page p;
  p.f("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Partita report: {}</title>\n",
      esc(run.job));
  p.add(style);
  p.add(script);
  p.f("</head><body>\n<h1>Partita report: {}</h1>\n", esc(run.job));
  if (other) comparison(p, run, *other);
  p.f("<div class=\"runs{}\">\n", other ? " two" : "");
  section(p, run, other ? "This run" : "Run");
  if (other) section(p, *other, "Other run");
  p.add("</div>\n<pre id=\"self-check\"></pre>\n</body></html>\n");
  return p.take();
}

}  // namespace partita::detail
