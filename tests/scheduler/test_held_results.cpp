// Scheduler_HeldResults: results committed ahead of the fold are folded once, in id order, whatever order they came in.
#include <partita/scheduler/map_reduce/detail/held_results.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace {

using partita::bytes;
using partita::detail::held_results;

bytes one(std::uint64_t id) { return bytes(static_cast<std::size_t>(id % 3), static_cast<std::byte>(id)); }

TEST(Scheduler_HeldResults, FoldsInIdOrderWhateverTheArrivalOrder) {
  // Chunks of ids arrive shuffled (each chunk in order, as a worker reports it); the fold must see 0, 1, 2, ...
  std::vector<std::pair<std::uint64_t, std::uint64_t>> chunks;
  for (std::uint64_t b = 0; b < 1000; b += 37) chunks.push_back({b, std::min<std::uint64_t>(b + 37, 1000)});
  std::shuffle(chunks.begin(), chunks.end(), std::mt19937(3));
  held_results h;
  std::uint64_t folded = 0;
  std::vector<std::uint64_t> order;
  auto fold = [&](std::span<const std::byte> r) {
    const auto expect = one(order.size());
    EXPECT_TRUE(std::equal(r.begin(), r.end(), expect.begin(), expect.end())) << order.size();
    order.push_back(order.size());
  };
  for (const auto& [b, e] : chunks) {
    for (auto id = b; id < e; ++id) {
      const auto r = one(id);
      if (id == folded) {
        h.close();
        fold(r);
        folded = h.fold_from(folded + 1, fold);
      } else {
        h.append(id, r);
      }
    }
    h.close();
  }
  EXPECT_EQ(folded, 1000u);
  EXPECT_EQ(order.size(), 1000u);
  EXPECT_EQ(h.size(), 0u);
}

TEST(Scheduler_HeldResults, RoundTripsThroughTheCheckpointMap) {
  held_results h;
  for (std::uint64_t id : {5, 6, 7, 9, 12}) h.append(id, one(id));
  h.close();
  const auto m = h.to_map();
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m.at(7), one(7));
  held_results back;
  back.add(m);
  EXPECT_EQ(back.to_map(), m);
  EXPECT_EQ(back.size(), 5u);
}

}  // namespace
