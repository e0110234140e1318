// A job whose result is a struct (carried by Boost.Serialization) and whose kernel uses TBB inside:
// a histogram of a seeded random walk's end points, with a deterministic TBB reduction per partition.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>

#include <array>
#include <cstdio>

#include <partita/partita.hpp>

struct histogram {
  std::array<std::uint64_t, 21> bins{};  // end points -10..10 (clamped)
  std::uint64_t walks = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& bins& walks;
  }
};

int main(int argc, char** argv) {
  partita::program prog(argc, argv, "histogram of random walks");  // flags, --param walks=N, the session
  const auto walks_per_partition = prog.params().get_int("walks", 2000);

  auto job = partita::map_reduce_job<histogram>("walk-histogram")
                 .params(prog.params())
                 .partitions(64)
                 .kernel([walks_per_partition](const partita::partition&, partita::context& ctx) {
                   // Each walk gets its own stream (ctx.rng_for), so TBB may split the loop any way it likes.
                   return tbb::parallel_deterministic_reduce(
                       tbb::blocked_range<std::int64_t>(0, walks_per_partition, 64), histogram{},
                       [&](const tbb::blocked_range<std::int64_t>& r, histogram h) {
                         for (auto w = r.begin(); w < r.end(); ++w) {
                           auto rng = ctx.rng_for(static_cast<std::uint64_t>(w));
                           int x = 0;
                           for (int step = 0; step < 100; ++step) x += (rng() & 1) ? 1 : -1;
                           ++h.bins[static_cast<std::size_t>(std::clamp(x / 2, -10, 10) + 10)];
                           ++h.walks;
                         }
                         return h;
                       },
                       [](histogram a, const histogram& b) {
                         for (std::size_t i = 0; i < a.bins.size(); ++i) a.bins[i] += b.bins[i];
                         a.walks += b.walks;
                         return a;
                       });
                 })
                 .combine([](histogram& a, histogram&& b) {
                   for (std::size_t i = 0; i < a.bins.size(); ++i) a.bins[i] += b.bins[i];
                   a.walks += b.walks;
                 })
                 .describe([](const histogram& h) {
                   std::string s = std::to_string(h.walks) + " walks:";
                   for (auto b : h.bins) s += " " + std::to_string(b);
                   return s;
                 });

  // Prints only when every partition is in; a stopped or failed run exits 75 or 1 without a histogram.
  return prog.run(job, [](const histogram& h) {
    std::printf("%s walks:", std::to_string(h.walks).c_str());
    for (auto b : h.bins) std::printf(" %llu", static_cast<unsigned long long>(b));
    std::printf("\n");
    for (std::size_t i = 0; i < h.bins.size(); ++i)
      std::printf("%+4d %s\n", 2 * (static_cast<int>(i) - 10),
                  std::string(h.bins[i] * 60 / std::max<std::uint64_t>(1, h.walks / 8), '#').c_str());
  });
}
