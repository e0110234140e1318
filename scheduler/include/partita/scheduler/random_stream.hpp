#pragma once
/// Per-partition random streams, seeded from (job seed, partition id, step), so results never depend on placement.

#include <cstdint>
#include <limits>

#include <partita/runtime/ids.hpp>

namespace partita {

/// xoshiro256** seeded through SplitMix64 from (seed, partition, step). A UniformRandomBitGenerator, so it
/// works with <random> distributions. Value type (copying forks the stream). Not thread-safe; one per task.
class random_stream {
 public:
  using result_type = std::uint64_t;

  random_stream(std::uint64_t seed, partition_id id, step_t step) noexcept {
    std::uint64_t x = seed;
    x = mix(x ^ mix(id.value + 0x9E3779B97F4A7C15ull));
    x = mix(x ^ mix(step.value + 0xD1B54A32D192ED03ull));
    for (auto& w : s_) w = splitmix(x);
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// A double uniform in [0, 1), from the top 53 bits (the same on every platform, unlike std distributions).
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  static constexpr std::uint64_t splitmix(std::uint64_t& x) noexcept { return mix(x += 0x9E3779B97F4A7C15ull); }

  std::uint64_t s_[4];
};

}  // namespace partita
