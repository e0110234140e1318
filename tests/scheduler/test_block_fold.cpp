// Scheduler_BlockFold: the fold's shape fixed by ids (aligned blocks), whatever the order results and block values
// come in, across a checkpoint, and the refusal of checkpoints of another shape. Scheduler_NodeBlocks: a node
// scheduler's bookkeeping of the blocks it holds whole. No MPI.
#include <partita/scheduler/map_reduce/detail/block_fold.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/node_blocks.hpp>
#include <partita/scheduler/map_reduce/detail/root_core.hpp>

#include "byte_text.hpp"

namespace {

using namespace partita;
using detail::block_fold;
using detail::fold_block_size;
using detail::fold_ops;
using detail::node_blocks;
using detail::root_core;
using detail::scheduler_tree;
using clk = dispatcher::clock;

using partita::testing::b;
using partita::testing::text;

/// A fold that shows its shape: results join with ',' and a folded value is wrapped in parentheses, so
/// "(0,1),(2,3)" is the fold of two blocks' values and "0,1,2,3" a flat fold. Not commutative, not associative
/// as text: any other order or grouping gives another string. The live accumulator is `acc`; with `second`, the
/// fold has a second accumulator there (the root then keeps its prefix live), and `read` counts the bytes get() made.
fold_ops shape_fold(std::string& acc, std::string* second = nullptr, std::size_t* read = nullptr) {
  fold_ops ops{[&acc](std::span<const std::byte> r) { acc += (acc.empty() ? "" : ",") + text(r); },
               [&acc](std::span<const std::byte> v) { acc += (acc.empty() ? "(" : ",(") + text(v) + ")"; },
               [&acc, read] {
                 if (read) *read += acc.size();
                 return b(acc);
               },
               [&acc](std::span<const std::byte> a) { acc = text(a); },
               {}};
  if (second)
    ops.swap = [&acc, second] {
      std::swap(acc, *second);
      return true;
    };
  return ops;
}

/// The expected value of a job of `n` partitions (or its prefix of the whole blocks below `upto`): each block's ids
/// joined, each block in parentheses.
std::string expected(std::uint64_t n, std::uint64_t upto = ~std::uint64_t{0}) {
  const auto block = fold_block_size(n);
  std::string out;
  for (std::uint64_t k = 0; k * block < n && (k + 1) * block <= upto; ++k) {
    out += (k ? ",(" : "(");
    for (auto id = k * block; id < std::min(n, (k + 1) * block); ++id)
      out += (id > k * block ? "," : "") + std::to_string(id);
    out += ")";
  }
  return out;
}

/// Block k's value as a node scheduler folds it.
std::string block_value(std::uint64_t n, std::uint64_t k) {
  const auto block = fold_block_size(n);
  std::string out;
  for (auto id = k * block; id < std::min(n, (k + 1) * block); ++id)
    out += (id > k * block ? "," : "") + std::to_string(id);
  return out;
}

/// A root over `n` partitions, all handed to rank 1 of a flat pair, folding with shape_fold (with a second
/// accumulator if `second`).
struct root {
  std::string acc;
  std::string spare;
  root_core core;
  explicit root(std::uint64_t n, map_reduce_state st = {}, bool second = false)
      : core(make(n, std::move(st), acc, second ? &spare : nullptr)) {
    while (!core.answer(rank_t{1}, 64, clk::time_point{}).value_or(detail::root_answer{}).chunks.empty()) {
    }
  }
  static root_core make(std::uint64_t n, map_reduce_state st, std::string& acc, std::string* spare) {
    if (st.measured.empty()) st = map_reduce_state::fresh(n);
    dispatcher_options o;
    o.done = st.done;
    auto tree = scheduler_tree::flat(2, rank_t{0});
    dispatcher d(n, tree.root_view({1, 1}), make_policy("dynamic", 1), o);
    return root_core(std::move(d), tree, {1, 1}, std::move(st), shape_fold(acc, spare), clk::time_point{});
  }
};

TEST(Scheduler_BlockFold, BlockSizeDependsOnThePartitionCountAlone) {
  EXPECT_EQ(fold_block_size(0), 1u);
  EXPECT_EQ(fold_block_size(15), 1u);
  EXPECT_EQ(fold_block_size(16), 2u);
  EXPECT_EQ(fold_block_size(1000), 4u);
  EXPECT_EQ(fold_block_size(500000), 16u);
  EXPECT_EQ(fold_block_size(20000000), 64u);
  EXPECT_EQ(fold_block_size(std::uint64_t{1} << 60), 4096u);  // at most 4096
  for (std::uint64_t n : {17u, 100u, 5000u, 1234567u}) {
    const auto block = fold_block_size(n);
    EXPECT_EQ(block & (block - 1), 0u) << n;  // a power of two
    EXPECT_LE(block * block * block * block, n) << n;
    EXPECT_GT(16 * block * block * block * block, n) << n;  // the largest such
  }
}

TEST(Scheduler_BlockFold, ResultsInIdOrderFoldEachBlockThenTheBlocks) {
  for (const bool second : {false, true}) {
    std::string acc, spare;
    block_fold f(302, shape_fold(acc, second ? &spare : nullptr));
    f.start({}, {}, 0, {}, {});
    ASSERT_EQ(f.block_size(), 4u);
    for (std::uint64_t id = 0; id < 302; ++id) {
      f.add_result(id, b(std::to_string(id)));
      if (id == 150) {
        EXPECT_EQ(text(f.prefix()), expected(302, 148)) << "mid-way, second accumulator: " << second;
      }
    }
    EXPECT_EQ(f.folded(), 302u);
    EXPECT_EQ(text(f.prefix()), expected(302));
    EXPECT_EQ(acc, expected(302)) << "the model's accumulator holds the job's value at the end; second: " << second;
  }
}

// With a second accumulator the prefix stays live: folding a block costs the block, not the whole value so far
// (without, each block's fold reads the prefix back: quadratic in the job's value for a growing accumulator).
TEST(Scheduler_BlockFold, APrefixKeptLiveIsNotReadBackForEveryBlock) {
  const std::uint64_t n = 3000;  // blocks of 4: 750 blocks
  std::size_t read_with = 0, read_without = 0;
  for (const bool second : {false, true}) {
    std::string acc, spare;
    block_fold f(n, shape_fold(acc, second ? &spare : nullptr, second ? &read_with : &read_without));
    f.start({}, {}, 0, {}, {});
    for (std::uint64_t id = 0; id < n; ++id) f.add_result(id, b(std::to_string(id)));
    ASSERT_EQ(acc, expected(n));
  }
  const auto value = expected(n).size();
  EXPECT_LT(read_with, 2 * value) << "the blocks' partial folds once each, and the value at the end";
  EXPECT_GT(read_without, 100 * value) << "the bytes kept prefix is read back for every block";
}

TEST(Scheduler_BlockFold, AnyOrderOfResultsAndBlockValuesGivesTheSameValue) {
  const std::uint64_t n = 302;  // blocks of 4, the last one of 2
  const auto blocks = (n + 3) / 4;
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    root r(n, {}, trial % 2 == 1);  // odd trials: the prefix kept live in a second accumulator
    // Each block comes as its value (1 in 3), as its results, or both (a value and some of its ids on their own).
    struct item {
      bool is_block;
      std::uint64_t id;
    };
    std::vector<item> items;
    for (std::uint64_t k = 0; k < blocks; ++k) {
      const auto how = rng() % 3;
      if (how != 1)
        for (auto id = k * 4; id < std::min(n, k * 4 + 4); ++id)
          if (how == 0 || rng() % 2) items.push_back({false, id});
      if (how != 0) items.push_back({true, k});
    }
    std::shuffle(items.begin(), items.end(), rng);
    std::uint64_t committed = 0;
    for (const auto& it : items) {
      if (it.is_block) committed += r.core.commit_block(rank_t{1}, it.id, 0.004, b(block_value(n, it.id)));
      else if (r.core.commit(rank_t{1}, partition_id{it.id}, 0.001, b(std::to_string(it.id))) !=
               detail::commit_outcome::duplicate)
        ++committed;
      if (rng() % 4 == 0) r.core.end_batch();
    }
    r.core.end_batch();
    EXPECT_EQ(committed, n);  // every id once, whichever way it came
    ASSERT_TRUE(r.core.complete()) << trial;
    EXPECT_EQ(text(r.core.value()), expected(n)) << trial;
  }
}

TEST(Scheduler_BlockFold, ABlockValueReplacesThePartialFoldOfItsBlock) {
  root r(302);
  auto& c = r.core;
  EXPECT_NE(c.commit(rank_t{1}, partition_id{0}, 0.001, b("0")), detail::commit_outcome::duplicate);
  EXPECT_NE(c.commit(rank_t{1}, partition_id{1}, 0.001, b("1")), detail::commit_outcome::duplicate);
  c.end_batch();
  EXPECT_EQ(c.folded(), 2u);
  EXPECT_EQ(c.commit_block(rank_t{1}, 0, 0.004, b("0,1,2,3")), 2u);  // ids 2 and 3 are new
  EXPECT_EQ(c.folded(), 4u);
  EXPECT_EQ(text(c.value()), "(0,1,2,3)");
  EXPECT_EQ(c.commit_block(rank_t{1}, 0, 0.004, b("0,1,2,3")), 0u);  // nothing new: dropped
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{2}, 0.001, b("2")), detail::commit_outcome::duplicate);
  EXPECT_EQ(c.blocks_committed(), 1u);
  EXPECT_EQ(c.results_committed(), 2u);
  EXPECT_EQ(c.dispatch().done_count(), 4u);
  EXPECT_THROW(c.commit_block(rank_t{1}, 76, 0.1, b("x")), error);  // past the last block (76 blocks)
}

/// Block values of job `n` as a node scheduler sends them (ids: block indices, 4 ms each).
result_batch blocks_of(std::uint64_t n, std::initializer_list<std::uint64_t> ks) {
  result_batch out;
  for (const auto k : ks) {
    out.ids.push_back(k);
    out.nanos.push_back(4'000'000);
    for (const char c : block_value(n, k)) out.data.push_back(static_cast<std::byte>(c));
    out.ends.push_back(static_cast<std::uint32_t>(out.data.size()));
  }
  return out;
}

TEST(Scheduler_BlockFold, ARunOfConsecutiveFreshBlocksIsOneDispatcherCommit) {
  const std::uint64_t n = 302;  // blocks of 4
  root r(n);
  auto& c = r.core;
  EXPECT_NE(c.commit(rank_t{1}, partition_id{13}, 0.001, b("13")), detail::commit_outcome::duplicate);
  c.end_batch();
  // Blocks 0-2: one range; 5: alone; 3 and 4: a run, but id 13 of block 3 was committed: one commit per block.
  auto out = c.commit_blocks(rank_t{1}, blocks_of(n, {0, 1, 2, 5, 3, 4}));
  EXPECT_EQ(out.blocks, 6u);
  EXPECT_EQ(out.commits, 4u);
  EXPECT_EQ(c.block_commits(), 4u);
  EXPECT_EQ(c.blocks_committed(), 6u);
  EXPECT_EQ(c.dispatch().done_count(), 24u);
  EXPECT_EQ(c.folded(), 24u);
  EXPECT_EQ(text(c.value()), expected(n, 24));
  EXPECT_FLOAT_EQ(c.state().cost_of(4), 0.001f);  // each block's mean stands for its ids, in a run too
  // Blocks 6-7 again with 8: 6 and 7 were not committed yet, but the run holds 5, committed: per block, 5 dropped.
  out = c.commit_blocks(rank_t{1}, blocks_of(n, {5, 6, 7}));
  EXPECT_EQ(out.blocks, 2u);
  EXPECT_EQ(out.commits, 3u);
  EXPECT_EQ(c.folded(), 32u);
  for (std::uint64_t k = 8; k < 76; k += 4)
    (void)c.commit_blocks(rank_t{1}, blocks_of(n, {k + 2, k + 3, k, k + 1}));  // two runs each
  ASSERT_TRUE(c.complete());
  EXPECT_EQ(text(c.value()), expected(n));
  EXPECT_EQ(c.blocks_committed(), 76u);
  EXPECT_EQ(c.dispatch().done_count(), n);
  EXPECT_THROW((void)c.commit_blocks(rank_t{1}, blocks_of(n, {75, 76})), error);  // past the last block
}

/// A checkpoint mid-block, and a new root that starts from it, reach the value of an uninterrupted fold.
void checkpoint_mid_block(bool second) {
  const std::uint64_t n = 302;
  root a(n, {}, second);
  // Folded: blocks 0-1 and half of block 2; held: results 13, 20; block 6's value.
  for (std::uint64_t id : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 20})
    a.core.commit(rank_t{1}, partition_id{id}, 0.001, b(std::to_string(id)));
  a.core.end_batch();
  a.core.commit_block(rank_t{1}, 6, 0.004, b(block_value(n, 6)));
  ASSERT_EQ(a.core.folded(), 10u);
  checkpoint_image img;
  img.meta.partition_count = n;
  a.core.to_image(img, 2.0);
  const auto st = map_reduce_state::from_image(img, n, "mid.h5");
  EXPECT_EQ(st.folded, 10u);
  EXPECT_EQ(st.fold_block, 4u);
  EXPECT_EQ(text(st.accumulator), "(0,1,2,3),(4,5,6,7)");
  EXPECT_EQ(text(st.block_accumulator), "8,9");
  EXPECT_EQ(st.held.size(), 2u);
  EXPECT_EQ(st.held_blocks.size(), 1u);
  root b2(n, st, second);
  for (std::uint64_t id = 0; id < n; ++id)
    if (!b2.core.dispatch().is_done(partition_id{id}))
      b2.core.commit(rank_t{1}, partition_id{id}, 0.001, b(std::to_string(id)));
  b2.core.end_batch();
  ASSERT_TRUE(b2.core.complete());
  EXPECT_EQ(text(b2.core.value()), expected(n));
  EXPECT_EQ(b2.acc, expected(n));  // the job's value where the model's accumulator is read
}

TEST(Scheduler_BlockFold, ACheckpointMidBlockContinuesToTheSameValue) {
  for (const bool second : {false, true}) {
    SCOPED_TRACE(second ? "prefix live in a second accumulator" : "prefix kept as bytes");
    checkpoint_mid_block(second);
  }
}

TEST(Scheduler_BlockFold, CheckpointsOfAnotherShapeAreRefused) {
  const std::uint64_t n = 302;
  auto st = map_reduce_state::fresh(n);
  checkpoint_image img;
  img.meta.partition_count = n;
  st.to_image(img);
  EXPECT_NO_THROW(map_reduce_state::from_image(img, n, "ok.h5"));
  auto old = img;
  old.meta.format_version = 1;  // before the block fold: a flat accumulator
  try {
    (void)map_reduce_state::from_image(old, n, "old.h5");
    FAIL() << "a format 1 checkpoint was accepted";
  } catch (const checkpoint_error& e) {
    EXPECT_NE(std::string(e.what()).find("afresh"), std::string::npos) << e.what();
  }
  auto other = img;
  other.u64["scheduler/fold_block"] = {8};
  EXPECT_THROW(map_reduce_state::from_image(other, n, "other.h5"), checkpoint_error);
  auto partial = img;
  partial.blobs["scheduler/block_accumulator"] = b("x");  // a partial block at folded 0: a block boundary
  EXPECT_THROW(map_reduce_state::from_image(partial, n, "partial.h5"), checkpoint_error);
}

/// A batch of results "id" for `ids`, each 1 ms.
result_batch batch(std::initializer_list<std::uint64_t> ids) {
  result_batch out;
  for (auto id : ids) {
    out.ids.push_back(id);
    out.nanos.push_back(1000000);
    for (char c : std::to_string(id)) out.data.push_back(static_cast<std::byte>(c));
    out.ends.push_back(static_cast<std::uint32_t>(out.data.size()));
  }
  return out;
}

TEST(Scheduler_NodeBlocks, FoldsABlockHandedWholeOnceEachOfItsIdsIsInWhateverTheOrder) {
  node_blocks nb(302, true);  // blocks of 4
  nb.handed({{4, 12}});
  result_batch up, out;
  std::string acc;
  nb.sort(batch({5, 4, 7}), up, {});
  EXPECT_TRUE(up.empty());
  EXPECT_EQ(nb.kept(), 3u);
  EXPECT_EQ(nb.take_whole(shape_fold(acc), out), 0u);
  nb.sort(batch({8, 6, 5}), up, {});  // 5 again: a twin, dropped
  EXPECT_TRUE(up.empty());
  ASSERT_EQ(nb.take_whole(shape_fold(acc), out), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.ids[0], 1u);  // block 1: ids 4-7
  EXPECT_EQ(out.nanos[0], 4000000u);
  EXPECT_EQ(text(out.result(0)), "4,5,6,7");  // in id order
  EXPECT_EQ(nb.kept(), 1u);                   // 8, for block 2
  nb.sort(batch({6}), up, {});                // a late twin of a folded block: dropped
  EXPECT_TRUE(up.empty());
  EXPECT_EQ(nb.blocks_folded(), 1u);
}

TEST(Scheduler_NodeBlocks, ABlockNotWhollyHandedWhenItsFirstResultComesGoesUpResultByResult) {
  node_blocks nb(302, true);
  nb.handed({{0, 2}});  // half of block 0
  result_batch up, out;
  std::string acc;
  nb.sort(batch({1}), up, {});
  nb.handed({{2, 4}});  // the rest comes later: the block stays split
  nb.sort(batch({0, 2, 3}), up, {});
  EXPECT_EQ(up.ids, (std::vector<std::uint64_t>{1, 0, 2, 3}));
  EXPECT_EQ(nb.take_whole(shape_fold(acc), out), 0u);
  EXPECT_EQ(nb.results_alone(), 4u);
  nb.sort(batch({40}), up, {});  // never handed here (a speculative copy of another node's id)
  EXPECT_EQ(up.size(), 5u);
}

TEST(Scheduler_NodeBlocks, InTheTailAResultWaitsForTheRestOfItsBlockAtMostTheTailWait) {
  using ms = std::chrono::milliseconds;
  const node_blocks::clock::time_point t0{};
  node_blocks nb(302, true);  // blocks of 4
  nb.handed({{0, 12}});
  result_batch up, out;
  std::string acc;
  nb.sort(batch({2, 0, 4, 5, 6}), up, t0);
  EXPECT_TRUE(up.empty());
  EXPECT_FALSE(nb.next_release());  // before the tail a result waits for its block as long as it takes
  EXPECT_EQ(nb.release(t0 + std::chrono::seconds(10), up), 0u);
  nb.begin_tail(t0 + ms(10));
  ASSERT_TRUE(nb.next_release());
  EXPECT_EQ(*nb.next_release(), t0 + ms(10) + node_blocks::tail_wait);  // kept before the tail: counted from it
  nb.sort(batch({8}), up, t0 + ms(30));
  EXPECT_EQ(nb.release(t0 + ms(59), up), 0u);
  nb.sort(batch({7}), up, t0 + ms(59));  // block 1 whole: still folded in the tail
  EXPECT_EQ(nb.take_whole(shape_fold(acc), out), 1u);
  EXPECT_EQ(nb.release(t0 + ms(60), up), 2u);  // block 0 waited 50 ms for 1 and 3
  EXPECT_EQ(up.ids, (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(up.nanos[0], 1000000u);
  ASSERT_TRUE(nb.next_release());
  EXPECT_EQ(*nb.next_release(), t0 + ms(80));  // block 2, kept at 30 ms
  nb.sort(batch({1, 3}), up, t0 + ms(61));     // the rest of a released block goes up on its own
  EXPECT_EQ(up.size(), 4u);
  EXPECT_EQ(nb.release(t0 + ms(80), up), 1u);
  EXPECT_EQ(up.ids.back(), 8u);
  EXPECT_FALSE(nb.next_release());
  EXPECT_EQ(nb.kept(), 0u);
  EXPECT_EQ(nb.blocks_folded(), 1u);
  EXPECT_EQ(nb.results_alone(), 5u);
}

TEST(Scheduler_NodeBlocks, ADisabledOneKeepsNothing) {
  node_blocks off(302, false);  // a job with a per-partition output
  off.handed({{0, 8}});
  result_batch up;
  off.sort(batch({0, 1, 2, 3}), up, {});
  EXPECT_EQ(up.size(), 4u);
  off.begin_tail({});
  EXPECT_FALSE(off.next_release());
}

TEST(Scheduler_NodeBlocks, OrderSortsFoldedBlocksByIndexWithTheirValuesAndTimes) {
  result_batch blocks;
  for (const std::uint64_t k : {7, 3, 9, 4}) {
    blocks.ids.push_back(k);
    blocks.nanos.push_back(k * 10);
    for (int i = 0; i < static_cast<int>(k); ++i) blocks.data.push_back(static_cast<std::byte>('a' + k));
    blocks.ends.push_back(static_cast<std::uint32_t>(blocks.data.size()));
  }
  node_blocks::order(blocks);
  ASSERT_EQ(blocks.ids, (std::vector<std::uint64_t>{3, 4, 7, 9}));
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks.nanos[i], blocks.ids[i] * 10);
    EXPECT_EQ(text(blocks.result(i)), std::string(blocks.ids[i], static_cast<char>('a' + blocks.ids[i])));
  }
  result_batch none;
  node_blocks::order(none);
  EXPECT_TRUE(none.empty());
}

}  // namespace
