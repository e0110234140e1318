// Built-in job `synthetic`: partitions that sleep or spin for a seeded random cost, for scheduling studies.
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/scheduler/random_stream.hpp>

namespace partita {

namespace {
constexpr std::uint64_t hash_base = 0x100000001b3ull;

std::uint64_t power(std::uint64_t b, std::uint64_t e) {
  std::uint64_t r = 1;
  for (; e; e >>= 1, b *= b)
    if (e & 1) r *= b;
  return r;
}

/// An order-sensitive yet associative checksum: a polynomial hash of the partition results in id order; and a
/// floating-point sum (1/(id+1) each), which is not associative: its bits show the fold's shape (docs/design.md,
/// "Folding aligned id blocks").
struct synthetic_sum {
  std::uint64_t hash = 0;
  std::uint64_t count = 0;
  std::uint64_t cost_ns = 0;
  double fsum = 0;
};

struct cost_model {
  std::string dist;
  double median_s;
  double sigma;
  std::uint64_t seed;

  explicit cost_model(const parameters& p)
      : dist(p.get_choice("dist", "lognormal", {"uniform", "lognormal", "bimodal"})),
        median_s(p.get_double("median_us", 1000) * 1e-6), sigma(p.get_double("sigma", 1.0)),
        seed(static_cast<std::uint64_t>(p.get_int("cost_seed", 1))) {
    if (!(median_s >= 0)) throw usage_error("synthetic: median_us must be 0 or more, e.g. --param median_us=1000");
    if (!(sigma >= 0)) throw usage_error("synthetic: sigma must be 0 or more, e.g. --param sigma=1.5");
  }

  double seconds(std::uint64_t id) const {
    random_stream rng(seed, partition_id{id}, step_t{0});
    const double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
    const double z = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);  // standard normal
    if (dist == "uniform") return 2.0 * median_s * u3;
    if (dist == "bimodal") return (u3 < 0.9 ? median_s : 10.0 * median_s) * std::exp(0.1 * z);
    return median_s * std::exp(sigma * z);
  }
};

/// Sleeps or spins for `seconds`; returns early once the job is cancelled (e.g. the losing twin of a speculative
/// copy when the job ends), checking every 20 ms at most.
void burn(double seconds, bool sleep, const context& ctx) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  if (sleep) {
    // Default timer slack is 50 us; sleeping kernels of ~1 ms would all overshoot by it.
    thread_local bool slack_set = (prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0), true);
    (void)slack_set;
    // Sleep to an absolute deadline (the last slice ends exactly on it), in slices so cancellation is seen.
    for (auto now = clock::now(); now < deadline && !ctx.cancelled(); now = clock::now()) {
      const auto until = std::min(deadline, now + std::chrono::milliseconds(20));
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
  } else {
    while (clock::now() < deadline && !ctx.cancelled()) {
    }
  }
}
}  // namespace

double synthetic_cost_seconds(const parameters& p, std::uint64_t id) { return cost_model(p).seconds(id); }

namespace detail {

void register_synthetic(job_registry& r) {
  r.add({"synthetic",
         "partitions that sleep or spin for a seeded random cost; result is a checksum (scheduling studies)",
         {{"partitions", "1000", "number of partitions"},
          {"dist", "lognormal", "cost distribution: uniform|lognormal|bimodal"},
          {"median_us", "1000", "median cost in microseconds"},
          {"sigma", "1.0", "lognormal shape (spread)"},
          {"mode", "sleep", "sleep (costs no CPU) or spin (burns CPU)"},
          {"cost_seed", "1", "seed of the cost draws"},
          {"hint", "true", "tell the scheduler each partition's cost (for the cost policy)"},
          {"fail_at", "-1", "make this partition's kernel throw (to rehearse failures); -1: never"},
          {"slow_rank", "-1",
           "partitions run on this rank take slow_factor times their cost (a degraded node); -1: none"},
          {"slow_factor", "8", "how much slower slow_rank runs (the result does not change)"}},
         map_reduce_factory{[](const parameters& p) {
           const auto parts = p.get_int("partitions", 0);
           if (parts < 0) throw usage_error("synthetic: partitions must be 0 or more, e.g. --param partitions=1000");
           const cost_model costs(p);
           const bool sleep = p.get_choice("mode", "sleep", {"sleep", "spin"}) == "sleep";
           const bool hint = p.get_bool("hint", true);
           const auto fail_at = p.get_int("fail_at", -1);
           const auto slow_rank = p.get_int("slow_rank", -1);
           const double slow_factor = p.get_double("slow_factor", 8);
           if (!(slow_factor >= 1))
             throw usage_error("synthetic: slow_factor must be 1 or more, e.g. --param slow_factor=8");
           return map_reduce_job<synthetic_sum>("synthetic")
               .params(p)
               .partitions(static_cast<std::uint64_t>(parts),
                           [costs, hint](partition_id id) {
                             return partition{id, hint ? costs.seconds(id.value) : 0.0, {}};
                           })
               .kernel([costs, sleep, fail_at, slow_rank, slow_factor](const partition& part, context& ctx) {
                 if (static_cast<std::int64_t>(part.id.value) == fail_at)
                   throw std::runtime_error(fmt::format("synthetic failure injected at partition {}", fail_at));
                 const double s = costs.seconds(part.id.value);
                 // The slowdown changes how long it takes, never the result (which is made from `s` alone).
                 burn(ctx.rank().value == slow_rank ? s * slow_factor : s, sleep, ctx);
                 synthetic_sum r;
                 r.count = 1;
                 r.cost_ns = static_cast<std::uint64_t>(s * 1e9);
                 r.hash = (part.id.value + 1) * 0x9E3779B97F4A7C15ull ^ r.cost_ns;
                 r.fsum = 1.0 / static_cast<double>(part.id.value + 1);
                 return r;
               })
               .combine([](synthetic_sum& a, synthetic_sum&& b) {
                 a.hash = a.hash * power(hash_base, b.count) + b.hash;
                 a.count += b.count;
                 a.cost_ns += b.cost_ns;
                 a.fsum += b.fsum;
               })
               .describe([](const synthetic_sum& s) {
                 return fmt::format("checksum {:016x} over {} partitions, total cost {:.6f} s, sum {:.17g}", s.hash,
                                    s.count, static_cast<double>(s.cost_ns) * 1e-9, s.fsum);
               })
               .model();
         }}});
}

}  // namespace detail
}  // namespace partita
