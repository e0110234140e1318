// A job with payloads: each partition is a file named on the command line; the result lists per-file
// FNV-1a checksums in argument order, however the files were spread over ranks.
#include <cstdio>
#include <fstream>
#include <map>
#include <vector>

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>

#include <partita/partita.hpp>

int main(int argc, char** argv) {
  // Files come after "--": file_checksums [run flags] -- FILE...
  partita::program prog(argc, argv, "checksums of files");
  std::vector<partita::partition> parts;
  for (const auto& file : prog.args()) parts.push_back({partita::partition_id{0}, 0, file});

  using sums = std::map<std::string, std::uint64_t>;
  auto job = partita::map_reduce_job<sums>("file-checksums")
                 .partitions(std::move(parts))
                 .kernel([](const partita::partition& p, partita::context&) {
                   std::ifstream in(p.payload, std::ios::binary);
                   if (!in) throw std::runtime_error("cannot open " + p.payload);
                   std::uint64_t h = 0xcbf29ce484222325ull;
                   for (char c; in.get(c);) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
                   return sums{{p.payload, h}};
                 })
                 .combine([](sums& a, sums&& b) { a.merge(b); })
                 .describe([](const sums& s) { return std::to_string(s.size()) + " files"; });

  return prog.run(job, [](const sums& s) {
    for (const auto& [file, h] : s) std::printf("%016llx  %s\n", static_cast<unsigned long long>(h), file.c_str());
  });
}
