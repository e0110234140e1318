// Built-in job `pi`: Monte Carlo estimate of pi from random points in the unit square.
#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace {
struct pi_tally {
  std::uint64_t inside = 0;
  std::uint64_t samples = 0;
};
}  // namespace

void register_pi(job_registry& r) {
  r.add({"pi",
         "Monte Carlo estimate of pi (points in the unit square that fall in the quarter circle)",
         {{"samples", "20000000", "random points in all"}, {"partitions", "100", "number of partitions"}},
         map_reduce_factory{[](const parameters& p) {
           const auto samples = p.get_int("samples", 0);
           const auto parts = p.get_int("partitions", 0);
           if (samples < 1) throw usage_error("pi: samples must be at least 1, e.g. --param samples=1000000");
           if (parts < 1 || parts > samples)
             throw usage_error("pi: partitions must be between 1 and samples, e.g. --param partitions=100");
           const auto n = static_cast<std::uint64_t>(parts);
           const auto total = static_cast<std::uint64_t>(samples);
           return map_reduce_job<pi_tally>("pi")
               .params(p)
               .partitions(n)
               .kernel([n, total](const partition& part, context& ctx) {
                 // The first total % n partitions take one extra sample.
                 const std::uint64_t mine = total / n + (part.id.value < total % n ? 1 : 0);
                 pi_tally t;
                 t.samples = mine;
                 auto& rng = ctx.rng();
                 for (std::uint64_t i = 0; i < mine; ++i) {
                   const double x = rng.uniform(), y = rng.uniform();
                   t.inside += x * x + y * y < 1.0 ? 1 : 0;
                 }
                 return t;
               })
               .combine([](pi_tally& a, pi_tally&& b) {
                 a.inside += b.inside;
                 a.samples += b.samples;
               })
               .describe([](const pi_tally& t) {
                 const double pi = t.samples ? 4.0 * static_cast<double>(t.inside) / static_cast<double>(t.samples) : 0;
                 return fmt::format("pi ~ {:.8f} ({} of {} points inside)", pi, t.inside, t.samples);
               })
               .model();
         }}});
}

}  // namespace partita::detail
