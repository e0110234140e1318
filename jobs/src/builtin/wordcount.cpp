// Built-in job `wordcount`: the files of a folder are the partitions; counts words, merged in file order.
#include <fmt/format.h>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
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
          {"top", "10", "how many of the most frequent words to print"}},
         map_reduce_factory{[](const parameters& p) {
           const auto dir = p.get_string("dir", "");
           if (dir.empty()) throw usage_error("wordcount needs a folder: --param dir=<folder>");
           const auto top = p.get_int("top", 10);
           if (top < 0) throw usage_error("wordcount: top must be 0 or more");
           std::vector<partition> parts;
           for (const auto& f : list_files(dir)) {
             std::error_code ec;
             const auto size = fs::file_size(f, ec);
             parts.push_back(partition{partition_id{0}, ec ? 0.0 : static_cast<double>(size), f.string()});
           }
           return map_reduce_job<word_counts>("wordcount")
               .params(p)
               .partitions(std::move(parts))
               .kernel([](const partition& part, context&) {
                 std::ifstream in(part.payload, std::ios::binary);
                 if (!in) throw std::runtime_error("cannot read " + part.payload);
                 std::unordered_map<std::string, std::uint64_t> local;
                 word_counts out;
                 out.files = 1;
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
