// An iterative job as a user writes one: segments of a ring exchange their end cells every step, random heat
// sources flicker (each segment's random stream), and the run stops when the heat settles or after 2000 steps.
// Build against the installed package (find_package(partita)), run: mpirun -n 4 ./example_ring_diffusion
#include <cmath>
#include <cstdio>
#include <vector>

#include <boost/serialization/vector.hpp>
#include <partita/partita.hpp>

// The user's own state type; Boost.Serialization lets Partita checkpoint and migrate it as it is.
struct segment {
  std::vector<double> t;
  double change = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& t& change;
  }
};

int main(int argc, char** argv) {
  constexpr std::uint64_t segments = 24, cells = 50;
  auto job = partita::iterative_job<segment>("ring_diffusion")
                 .partitions(segments, [](partita::partition_id) { return segment{std::vector<double>(cells, 0.0)}; })
                 .neighbours([](partita::partition_id id) {
                   return std::vector<partita::partition_id>{partita::partition_id{(id.value + segments - 1) %
                                                                                   segments},
                                                             partita::partition_id{(id.value + 1) % segments}};
                 })
                 .halo([](const segment& s, partita::partition_id to, partita::context& ctx) {
                   const bool right = to.value == (ctx.partition().value + 1) % segments;
                   return std::vector<double>{right ? s.t.back() : s.t.front()};
                 })
                 .halo_size([](partita::partition_id, partita::partition_id) { return std::size_t{1}; })
                 .step([](segment& s, const partita::halo_view& h, partita::context& ctx) {
                   const auto me = ctx.partition().value;
                   const double left = h.from(partita::partition_id{(me + segments - 1) % segments})[0];
                   const double right = h.from(partita::partition_id{(me + 1) % segments})[0];
                   std::vector<double> next(cells);
                   for (std::size_t i = 0; i < cells; ++i) {
                     const double l = i == 0 ? left : s.t[i - 1], r = i + 1 == cells ? right : s.t[i + 1];
                     next[i] = s.t[i] + 0.25 * (l - 2 * s.t[i] + r);
                   }
                   if (ctx.step().value < 500 && ctx.rng().uniform() < 0.05) next[cells / 2] += 1.0;  // a flicker
                   s.change = 0;
                   for (std::size_t i = 0; i < cells; ++i) s.change += std::abs(next[i] - s.t[i]);
                   s.t = std::move(next);
                 })
                 .reduce("heat", partita::reduce_op::sum,
                         [](const segment& s) {
                           double sum = 0;
                           for (double x : s.t) sum += x;
                           return sum;
                         })
                 .reduce("change", partita::reduce_op::sum, [](const segment& s) { return s.change; })
                 .until([](const partita::reductions& r) { return r.steps() > 500 && r["change"] < 0.05; })
                 .max_steps(2000);
  return partita::main(argc, argv, job, [](const partita::reductions& r, const std::vector<segment>& states) {
    std::printf("settled after %llu steps: heat %.17g, change %.17g, segment 0 starts %.17g\n",
                static_cast<unsigned long long>(r.steps()), r["heat"], r["change"], states.front().t.front());
  });
}
