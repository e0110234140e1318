#include <partita/checkpoint/verify.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/detail/human_bytes.hpp>
#include <partita/checkpoint/h5_lock.hpp>

namespace partita {

namespace fs = std::filesystem;

verify_report verify_checkpoint(const fs::path& file) {
  const auto hdf5 = h5_lock();
  verify_report r;
  try {
    detail::checkpoint_file f(file);
    const auto meta = f.read_meta();
    r.job = meta.job;
    r.model = meta.model;
    r.step = meta.step.value;
    r.epoch = meta.epoch.value;
    const auto rows = f.read_manifest(meta);
    r.datasets_checked = 1;  // the /meta record
    f.for_each_dataset(rows, [&](const detail::manifest_row&, detail::dataset_kind, bytes&&) { ++r.datasets_checked; });
    r.ok = true;
  } catch (const detail::bad_dataset& e) {
    r.first_bad = e.dataset();
    r.problem = e.problem();
  } catch (...) {
    r.problem = detail::problem_of_current_exception();
    r.first_bad = file.string();
  }
  return r;
}

namespace {

/// What inspect tells of the datasets: partitions counted, one line per scheduler dataset.
struct dataset_summary {
  std::set<std::uint64_t> ids;
  std::uint64_t part_bytes = 0, part_sets = 0;
  std::vector<std::string> sched_lines;
  std::optional<std::uint64_t> done;  // partitions covered by a done_ranges dataset
  std::string first_bad;

  void add(const detail::manifest_row& row, detail::dataset_kind kind, const bytes& data) {
    if (auto p = detail::parse_partition_path(row.path)) {
      ids.insert(p->first);
      ++part_sets;
      part_bytes += row.bytes;
      return;
    }
    std::string line = fmt::format("    {:<28} {:>8} {}", row.path, detail::kind_name(kind),
                                   detail::human_bytes(row.bytes));
    if (kind == detail::dataset_kind::f64 && !data.empty()) line += f64_stats(detail::elements_of<double>(data));
    if (kind == detail::dataset_kind::u64) line += u64_note(row.path, detail::elements_of<std::uint64_t>(data));
    sched_lines.push_back(std::move(line));
  }

  static std::string f64_stats(const std::vector<double>& v) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    return fmt::format("  ({} values: min {:.4g}, mean {:.4g}, max {:.4g}, sum {:.4g})", v.size(), lo,
                       sum / static_cast<double>(v.size()), hi, sum);
  }

  std::string u64_note(const std::string& path, const std::vector<std::uint64_t>& v) {
    const std::size_t n = v.size();
    std::string note = fmt::format("  ({} values)", n);
    if (path.ends_with("done_ranges") && n % 2 == 0) {
      std::uint64_t total = 0;
      for (std::size_t i = 0; i + 1 < n; i += 2) total += v[i + 1] > v[i] ? v[i + 1] - v[i] : 0;
      done = total;
      note += fmt::format(" = {} [begin,end) ranges covering {} partitions", n / 2, total);
    }
    return note;
  }
};

}  // namespace

std::string inspect_checkpoint(const fs::path& file) {
  const auto hdf5 = h5_lock();
  std::ostringstream out;
  out << "checkpoint " << file.string();
  try {
    detail::checkpoint_file f(file);
    out << " (" << detail::human_bytes(f.file_size()) << ")\n";
    const auto m = f.read_meta();
    out << fmt::format("  job          {} ({}), parameters hash {:#018x}\n", m.job, m.model, m.params_hash);
    out << fmt::format("  epoch        {}, step {}, written by {} rank(s)\n", m.epoch.value, m.step.value,
                       m.rank_count);
    out << fmt::format("  written by   Partita {}, format version {}\n", m.code_version, m.format_version);
    const auto rows = f.read_manifest(m);

    dataset_summary s;
    f.for_each_dataset(
        rows, [&](const detail::manifest_row& row, detail::dataset_kind kind, bytes&& data) { s.add(row, kind, data); },
        [&](const detail::bad_dataset& e) {
          if (s.first_bad.empty()) s.first_bad = e.dataset() + ": " + e.problem();
        });
    const std::size_t checked = 1 + rows.size();  // the /meta record and every row, bad ones included
    out << fmt::format("  partitions   {} in the job", m.partition_count);
    if (s.done) out << fmt::format(", {} done", *s.done);
    out << fmt::format("; {} stored here ({} dataset(s), {})\n", s.ids.size(), s.part_sets,
                       detail::human_bytes(s.part_bytes));
    if (!s.ids.empty()) out << fmt::format("               ids {}..{}\n", *s.ids.begin(), *s.ids.rbegin());
    out << "  datasets\n";
    for (const auto& l : s.sched_lines) out << l << '\n';
    if (s.first_bad.empty()) out << fmt::format("  checksums    all {} verify (CRC-32)\n", checked);
    else out << "  checksums    BAD: " << s.first_bad << '\n';
  } catch (const checkpoint_error& e) {
    out << "\n  cannot be read: " << e.problem() << '\n';
  } catch (const std::exception& e) {
    out << "\n  cannot be read: " << e.what() << '\n';
  }
  return out.str();
}

}  // namespace partita
