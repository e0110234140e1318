#include <partita/checkpoint/verify.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <limits>
#include <new>
#include <set>
#include <sstream>

#include <partita/checkpoint/detail/checkpoint_file.hpp>

namespace partita {

namespace fs = std::filesystem;

verify_report verify_checkpoint(const fs::path& file) {
  verify_report r;
  try {
    detail::checkpoint_file f(file);
    const auto meta = f.read_meta();
    const auto rows = f.read_manifest(meta);
    r.datasets_checked = 1;  // the /meta record
    for (const auto& row : rows) {
      detail::dataset_kind kind{};
      ++r.datasets_checked;
      (void)f.read_dataset(row, kind);
    }
    r.ok = true;
  } catch (const detail::bad_dataset& e) {
    r.first_bad = e.dataset();
    r.problem = e.problem();
  } catch (const checkpoint_error& e) {
    r.first_bad = file.string();
    r.problem = e.problem();
  } catch (const std::bad_alloc&) {
    r.first_bad = file.string();
    r.problem = "out of memory while verifying it";
  } catch (const std::exception& e) {
    r.first_bad = file.string();
    r.problem = e.what();
  }
  return r;
}

namespace {
std::string size_text(std::uint64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}
}  // namespace

std::string inspect_checkpoint(const fs::path& file) {
  std::ostringstream out;
  out << "checkpoint " << file.string();
  try {
    detail::checkpoint_file f(file);
    out << " (" << size_text(f.file_size()) << ")\n";
    const auto m = f.read_meta();
    out << fmt::format("  job          {} ({}), parameters hash {:#018x}\n", m.job, m.model, m.params_hash);
    out << fmt::format("  epoch        {}, step {}, written by {} rank(s)\n", m.epoch.value, m.step.value, m.rank_count);
    out << fmt::format("  written by   Partita {}, format version {}\n", m.code_version, m.format_version);
    const auto rows = f.read_manifest(m);

    std::set<std::uint64_t> ids;
    std::uint64_t part_bytes = 0, part_sets = 0;
    std::vector<std::string> sched_lines;
    std::optional<std::uint64_t> done;
    std::string first_bad;
    std::size_t checked = 1;
    for (const auto& row : rows) {
      detail::dataset_kind kind{};
      bytes data;
      ++checked;
      try {
        data = f.read_dataset(row, kind);
      } catch (const detail::bad_dataset& e) {
        if (first_bad.empty()) first_bad = e.dataset() + ": " + e.problem();
        continue;
      }
      if (auto p = detail::parse_partition_path(row.path)) {
        ids.insert(p->first);
        ++part_sets;
        part_bytes += row.bytes;
        continue;
      }
      std::string line = fmt::format("    {:<28} {:>8} {}", row.path, detail::kind_name(kind), size_text(row.bytes));
      const std::size_t n = data.size() / 8;
      if (kind == detail::dataset_kind::f64 && n > 0) {
        std::vector<double> v(n);
        std::memcpy(v.data(), data.data(), data.size());
        double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
        for (double x : v) {
          lo = std::min(lo, x);
          hi = std::max(hi, x);
          sum += x;
        }
        line += fmt::format("  ({} values: min {:.4g}, mean {:.4g}, max {:.4g}, sum {:.4g})", n, lo,
                            sum / static_cast<double>(n), hi, sum);
      } else if (kind == detail::dataset_kind::u64) {
        std::vector<std::uint64_t> v(n);
        if (n) std::memcpy(v.data(), data.data(), data.size());
        line += fmt::format("  ({} values)", n);
        if (row.path.ends_with("done_ranges") && n % 2 == 0) {
          std::uint64_t total = 0;
          for (std::size_t i = 0; i + 1 < n; i += 2) total += v[i + 1] > v[i] ? v[i + 1] - v[i] : 0;
          done = total;
          line += fmt::format(" = {} [begin,end) ranges covering {} partitions", n / 2, total);
        }
      }
      sched_lines.push_back(std::move(line));
    }
    out << fmt::format("  partitions   {} in the job", m.partition_count);
    if (done) out << fmt::format(", {} done", *done);
    out << fmt::format("; {} stored here ({} dataset(s), {})\n", ids.size(), part_sets, size_text(part_bytes));
    if (!ids.empty()) out << fmt::format("               ids {}..{}\n", *ids.begin(), *ids.rbegin());
    out << "  datasets\n";
    for (const auto& l : sched_lines) out << l << '\n';
    if (first_bad.empty()) out << fmt::format("  checksums    all {} verify (CRC-32)\n", checked);
    else out << "  checksums    BAD: " << first_bad << '\n';
  } catch (const checkpoint_error& e) {
    out << "\n  cannot be read: " << e.problem() << '\n';
  } catch (const std::exception& e) {
    out << "\n  cannot be read: " << e.what() << '\n';
  }
  return out.str();
}

}  // namespace partita
