// A user's own iterative program whose step throws on one partition from a given step on (--param throw_on=P
// --param throw_at=S; by default it never throws): how a user's program ends under the launcher when a kernel
// fails (tests/examples/iterative_program_launched.sh). --param steps=N (default 10) and --param step_ms=M (each
// partition's step sleeps M ms; the result does not change) make a run long enough to be stopped by a signal.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/serialization/vector.hpp>
#include <partita/partita.hpp>

int main(int argc, char** argv) {
  partita::program prog(argc, argv, "an iterative job on a ring whose kernel can be told to throw");
  constexpr std::uint64_t segments = 6;
  const auto throw_on = prog.params().get_int("throw_on", -1);
  const auto throw_at = prog.params().get_int("throw_at", 3);
  const auto steps = static_cast<std::uint64_t>(prog.params().get_int("steps", 10));
  const auto step_ms = prog.params().get_int("step_ms", 0);
  const auto ring = [](std::uint64_t id, std::uint64_t by) { return partita::partition_id{(id + by) % segments}; };
  auto job = partita::iterative_job<std::vector<double>>("throwing_ring")
                 .partitions(segments, [](partita::partition_id id) { return std::vector<double>{double(id.value)}; })
                 .neighbours([ring](partita::partition_id id) {
                   return std::vector<partita::partition_id>{ring(id.value, segments - 1), ring(id.value, 1)};
                 })
                 .halo([](const std::vector<double>& s, partita::partition_id) { return s; })
                 .step([=](std::vector<double>& s, const partita::halo_view& h, partita::context& ctx) {
                   const auto me = ctx.partition().value;
                   if (static_cast<std::int64_t>(me) == throw_on &&
                       static_cast<std::int64_t>(ctx.step().value) >= throw_at)
                     throw std::runtime_error("segment " + std::to_string(me) + " overheated");
                   if (step_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
                   s[0] = 0.5 * s[0] + 0.25 * (h.from(ring(me, segments - 1))[0] + h.from(ring(me, 1))[0]);
                 })
                 .reduce("heat", partita::reduce_op::sum, [](const std::vector<double>& s) { return s[0]; })
                 .until(steps);
  return prog.run(job, [](const partita::reductions& r, const std::vector<std::vector<double>>&) {
    std::printf("ring done after %llu steps: heat %.17g\n", static_cast<unsigned long long>(r.steps()), r["heat"]);
  });
}
