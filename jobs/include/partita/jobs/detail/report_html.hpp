#pragma once
/// The HTML page of `partita report`: inline SVG plots and a few lines of plain JavaScript (a self-check that
/// counts the plots); nothing is fetched from the network.

#include <string>

#include <partita/jobs/detail/report_view.hpp>

namespace partita::detail {

/// The page for `run`, and with `other` both runs side by side (this run first). Pure.
std::string render_report_html(const report_view& run, const report_view* other = nullptr);

}  // namespace partita::detail
