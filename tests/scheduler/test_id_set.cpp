// Scheduler_IdSet: the done set as ranges agrees with a plain set of ids, and stays small for huge id spaces.
#include <partita/scheduler/map_reduce/id_set.hpp>

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace {

using partita::id_range;
using partita::id_set;

TEST(Scheduler_IdSet, MergesNeighboursAndCounts) {
  id_set s;
  EXPECT_TRUE(s.insert(std::uint64_t{5}));
  EXPECT_FALSE(s.insert(std::uint64_t{5}));
  EXPECT_TRUE(s.insert(std::uint64_t{6}));
  EXPECT_TRUE(s.insert(std::uint64_t{3}));
  EXPECT_EQ(s.range_count(), 2u);
  EXPECT_TRUE(s.insert(std::uint64_t{4}));
  EXPECT_EQ(s.ranges(), (std::vector<id_range>{{3, 7}}));
  EXPECT_EQ(s.insert(id_range{0, 10}), 6u);
  EXPECT_EQ(s.count(), 10u);
  EXPECT_EQ(s.range_count(), 1u);
  EXPECT_EQ(s.insert(id_range{2, 8}), 0u);
}

TEST(Scheduler_IdSet, FindsNextPresentAndAbsent) {
  id_set s;
  s.insert(id_range{10, 20});
  s.insert(id_range{30, 31});
  EXPECT_EQ(s.next_present(0), 10u);
  EXPECT_EQ(s.next_present(15), 15u);
  EXPECT_EQ(s.next_present(20), 30u);
  EXPECT_EQ(s.next_present(31), id_set::none);
  EXPECT_EQ(s.next_absent(0), 0u);
  EXPECT_EQ(s.next_absent(10), 20u);
  EXPECT_EQ(s.next_absent(30), 31u);
  EXPECT_TRUE(s.contains(19));
  EXPECT_FALSE(s.contains(20));
}

TEST(Scheduler_IdSet, PopFrontTakesTheLowestIds) {
  id_set s;
  s.insert(id_range{4, 10});
  s.insert(id_range{20, 22});
  EXPECT_EQ(s.pop_front(3), (id_range{4, 7}));
  EXPECT_EQ(s.pop_front(10), (id_range{7, 10}));
  EXPECT_EQ(s.pop_front(10), (id_range{20, 22}));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.pop_front(1).size(), 0u);
}

TEST(Scheduler_IdSet, AgreesWithAPlainSet) {
  std::mt19937_64 rng(7);
  id_set s;
  std::set<std::uint64_t> ref;
  for (int i = 0; i < 20000; ++i) {
    const auto b = rng() % 2000, len = rng() % 4 == 0 ? rng() % 30 : 1;
    std::uint64_t added = 0;
    for (auto id = b; id < b + len; ++id) added += ref.insert(id).second;
    ASSERT_EQ(len == 1 ? std::uint64_t{s.insert(b)} : s.insert(id_range{b, b + len}), added) << i;
    if (i % 97 == 0) {
      const auto r = s.pop_front(rng() % 5 + 1);
      for (auto id = r.begin; id < r.end; ++id) ASSERT_EQ(ref.erase(id), 1u);
    }
    if (i % 3 == 0) {  // erase a range: inside one, across several, at an edge, or of nothing
      const auto eb = rng() % 2100, elen = rng() % 2 == 0 ? rng() % 60 : 1;
      std::uint64_t removed = 0;
      for (auto id = eb; id < eb + elen; ++id) removed += ref.erase(id);
      ASSERT_EQ(s.erase(id_range{eb, eb + elen}), removed) << i;
    }
    const auto q = rng() % 2100;
    ASSERT_EQ(s.contains(q), ref.count(q) == 1) << q;
    const auto np = ref.lower_bound(q);
    ASSERT_EQ(s.next_present(q), np == ref.end() ? id_set::none : *np);
  }
  EXPECT_EQ(s.count(), ref.size());
  std::uint64_t in_ranges = 0;
  for (const auto& r : s.ranges()) in_ranges += r.size();
  EXPECT_EQ(in_ranges, ref.size());
}

TEST(Scheduler_IdSet, EraseSplitsAndDropsRanges) {
  id_set s;
  s.insert(id_range{0, 10});
  s.insert(id_range{20, 30});
  EXPECT_EQ(s.erase(id_range{3, 5}), 2u);  // splits [0, 10)
  EXPECT_EQ(s.ranges(), (std::vector<id_range>{{0, 3}, {5, 10}, {20, 30}}));
  EXPECT_EQ(s.erase(id_range{8, 25}), 7u);  // the end of one, the start of another
  EXPECT_EQ(s.ranges(), (std::vector<id_range>{{0, 3}, {5, 8}, {25, 30}}));
  EXPECT_EQ(s.erase(id_range{40, 50}), 0u);
  EXPECT_EQ(s.erase(id_range{0, 100}), 11u);
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.insert(std::uint64_t{7}));  // the fast path's last range is not a dangling one
  EXPECT_EQ(s.count(), 1u);
  s.insert(id_range{0, std::uint64_t{1} << 62});  // what a hostile take_back could name: two ranges, not 2^62 ids
  EXPECT_EQ(s.erase(id_range{5, 6}), 1u);
  EXPECT_EQ(s.range_count(), 2u);
}

TEST(Scheduler_IdSet, AHugeDoneSetInOrderIsOneRange) {
  id_set s;
  const std::uint64_t n = 1'000'000'000'000;
  s.insert(id_range{0, n / 2});
  for (std::uint64_t id = n / 2; id < n / 2 + 100000; ++id) s.insert(id);
  EXPECT_EQ(s.range_count(), 1u);
  EXPECT_EQ(s.count(), n / 2 + 100000);
}

}  // namespace
