// Built-in job `wordcount`: files (a folder, a list file or a glob) are the partitions, one each or grouped by size;
// counts words, merged in file order.
#include <fmt/format.h>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace {
namespace fs = std::filesystem;

struct word_counts {
  std::map<std::string, std::uint64_t> counts;
  std::uint64_t words = 0;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& counts& words& files& bytes;
  }
};

/// The files named one per line in `list` (blank lines and lines starting with '#' skipped), in that order.
std::vector<fs::path> listed_files(const fs::path& list) {
  std::ifstream in(list);
  if (!in) throw usage_error("wordcount: cannot read the list file '" + list.string() + "' (--param list=FILE)");
  std::vector<fs::path> files;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::error_code ec;
    if (!fs::is_regular_file(line, ec))
      throw usage_error("wordcount: '" + line + "' (listed in " + list.string() + ") is not a readable file");
    files.emplace_back(line);
  }
  return files;
}

/// The regular files matching the shell pattern `pattern` (glob(3)), sorted.
std::vector<fs::path> globbed_files(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<fs::path> files;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) {
      std::error_code ec;
      if (fs::is_regular_file(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
    }
  ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) throw usage_error("wordcount: cannot expand --param glob=" + pattern);
  std::sort(files.begin(), files.end());
  return files;
}

/// Files grouped into partitions of about `target` bytes each, in order (so results still fold in file order): a
/// group closes once it holds `target` bytes; 0 keeps one file per partition. Balanced by size, never split.
std::vector<partition> grouped(const std::vector<fs::path>& files, std::uint64_t target) {
  std::vector<partition> parts;
  std::uint64_t in_group = 0;
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    const std::uint64_t bytes = ec ? 0 : static_cast<std::uint64_t>(size);
    if (parts.empty() || target == 0 || in_group >= target) {
      parts.push_back(partition{partition_id{0}, 0.0, {}});
      in_group = 0;
    }
    auto& p = parts.back();
    if (!p.payload.empty()) p.payload += '\n';
    p.payload += f.string();
    p.cost_hint += static_cast<double>(bytes);
    in_group += bytes;
  }
  return parts;
}

std::vector<fs::path> list_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw usage_error("wordcount: '" + dir.string() + "' is not a folder; pass one with --param dir=<folder>");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) files.push_back(it->path());
  if (ec) throw usage_error("wordcount: cannot list '" + dir.string() + "': " + ec.message());
  std::sort(files.begin(), files.end());  // the partition order, identical on every rank
  return files;
}
}  // namespace

void register_wordcount(job_registry& r) {
  r.add({"wordcount",
         "counts words in the files of a folder (each file a partition); prints the most frequent",
         {{"dir", "", "folder whose files are counted (recursively)"},
          {"list", "", "or: a file naming the files to count, one per line"},
          {"glob", "", "or: a shell pattern of the files to count, e.g. 'logs/*.txt'"},
          {"group_mib", "0", "files per partition grouped to about this many MiB, in order (0: one file each)"},
          {"top", "10", "how many of the most frequent words to print"}},
         map_reduce_factory{[](const parameters& p) {
           const auto dir = p.get_string("dir", ""), list = p.get_string("list", ""), glob = p.get_string("glob", "");
           if ((dir.empty() ? 0 : 1) + (list.empty() ? 0 : 1) + (glob.empty() ? 0 : 1) != 1)
             throw usage_error("wordcount needs one of --param dir=<folder>, --param list=<file of paths>, "
                               "--param glob=<pattern>");
           const auto top = p.get_int("top", 10);
           if (top < 0) throw usage_error("wordcount: top must be 0 or more");
           const double group_mib = p.get_double("group_mib", 0);
           if (!(group_mib >= 0)) throw usage_error("wordcount: group_mib must be 0 or more");
           const auto files = !dir.empty() ? list_files(dir) : !list.empty() ? listed_files(list) : globbed_files(glob);
           if (files.empty()) throw usage_error("wordcount: no files to count");
           auto parts = grouped(files, static_cast<std::uint64_t>(group_mib * 1048576.0));
           return map_reduce_job<word_counts>("wordcount")
               .params(p)
               .partitions(std::move(parts))
               .kernel([](const partition& part, context&) {
                 std::unordered_map<std::string, std::uint64_t> local;
                 word_counts out;
                 std::istringstream names(part.payload);
                 for (std::string name; std::getline(names, name);) {
                   std::ifstream in(name, std::ios::binary);
                   if (!in) throw std::runtime_error("cannot read " + name);
                   ++out.files;
                   std::string word;
                   char c;
                   while (in.get(c)) {
                     ++out.bytes;
                     if (std::isalnum(static_cast<unsigned char>(c))) {
                       word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
                     } else if (!word.empty()) {
                       ++local[word];
                       word.clear();
                     }
                   }
                   if (!word.empty()) ++local[word];
                 }
                 for (auto& [w, n] : local) {
                   out.counts.emplace(w, n);
                   out.words += n;
                 }
                 return out;
               })
               .combine([](word_counts& a, word_counts&& b) {
                 for (auto& [w, n] : b.counts) a.counts[w] += n;
                 a.words += b.words;
                 a.files += b.files;
                 a.bytes += b.bytes;
               })
               .describe([top](const word_counts& wc) {
                 std::vector<std::pair<std::string, std::uint64_t>> v(wc.counts.begin(), wc.counts.end());
                 std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
                 std::string s = fmt::format("{} words ({} distinct) in {} files, {} bytes", wc.words, wc.counts.size(),
                                             wc.files, wc.bytes);
                 for (std::size_t i = 0; i < v.size() && i < static_cast<std::size_t>(top); ++i)
                   s += fmt::format("{} {}={}", i == 0 ? "; top:" : ",", v[i].first, v[i].second);
                 return s;
               })
               .model();
         }}});
}

}  // namespace partita::detail
