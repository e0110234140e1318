#include <partita/jobs/report.hpp>

#include <fstream>

#include <partita/jobs/detail/report_html.hpp>
#include <partita/jobs/detail/report_view.hpp>
#include <partita/runtime/error.hpp>

namespace partita {

void write_report(const report_options& o) {
  const auto run = detail::read_report_view(o.summary, o.trace, o.failure_history);
  std::optional<detail::report_view> other;
  if (o.compare) other = detail::read_report_view(*o.compare, o.compare_trace, std::nullopt);
  const auto html = detail::render_report_html(run, other ? &*other : nullptr);
  std::ofstream out(o.output, std::ios::binary);
  out << html;
  out.close();
  if (!out) throw error("report: cannot write " + o.output.string() + "; check that its folder exists and is writable");
}

}  // namespace partita
