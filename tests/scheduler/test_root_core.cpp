// Scheduler_RootCore: the root scheduler's decisions without MPI (parking requests, speculation cadence, adoption
// of orphans, commit and fold in id order) and what it starts from after a failover, driven by a fake clock.
#include <partita/scheduler/map_reduce/detail/root_core.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/detail/root_start.hpp>

#include "byte_text.hpp"
#include "chunk_ids.hpp"

namespace {

using namespace partita;
using detail::commit_outcome;
using detail::request_kind;
using detail::root_core;
using detail::scheduler_tree;
using partita::testing::ids_of;
using clk = dispatcher::clock;

/// A fake clock: `at(s)` is s seconds after an arbitrary origin.
clk::time_point at(double s) {
  return clk::time_point{} + std::chrono::hours(1) +
         std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(s));
}

using partita::testing::b;

using partita::testing::text;

/// A non-commutative fold of byte strings into `folded` ("a,b,..."): a result is one string, a value (a block's fold
/// or the accumulator) a list of them; the live accumulator is `folded` itself.
detail::fold_ops string_fold(std::string& folded) {
  auto fold = [&folded](std::span<const std::byte> r) {
    if (!folded.empty()) folded += ',';
    for (auto c : r) folded += static_cast<char>(c);
  };
  return detail::fold_ops{fold,
                          fold,
                          [&folded] { return b(folded); },
                          [&folded](std::span<const std::byte> a) {
                            folded.clear();
                            for (auto c : a) folded += static_cast<char>(c);
                          },
                          {}};
}

/// A root over `partitions` (chunks of one) on `tree`, one thread per rank; folds into `folded` ("a,b,..."). It takes
/// back no backlog unless `take_back` (then a tail round comes without speculation too).
struct root {
  std::string folded;
  root_core core;
  root(std::uint64_t partitions, scheduler_tree tree, bool speculate = false, map_reduce_state st = map_reduce_state{},
       bool take_back = false)
      : core(make(partitions, std::move(tree), speculate, std::move(st), folded, take_back)) {}

  static root_core make(std::uint64_t n, scheduler_tree tree, bool speculate, map_reduce_state st, std::string& folded,
                        bool take_back) {
    if (st.measured.empty()) st = map_reduce_state::fresh(n);
    dispatcher_options o;
    o.take_back = take_back;
    o.speculation.enabled = speculate;
    o.speculation.min_samples = 1;
    o.done = st.done;
    o.splitting = tree.node_schedulers();
    std::vector<int> threads(static_cast<std::size_t>(tree.ranks()), 1);
    dispatcher d(n, tree.root_view(threads), make_policy("dynamic", 1), o);
    return root_core(std::move(d), std::move(tree), threads, std::move(st), string_fold(folded), at(0));
  }
};

TEST(Scheduler_RootCore, ParksRequestsWhenNothingIsLeftAndServesThemInOrderOnceWorkIsBack) {
  root r(4, scheduler_tree::flat(4, rank_t{0}));
  auto& c = r.core;
  ASSERT_TRUE(c.answer(rank_t{3}, 4, at(0)));  // rank 3 holds every partition
  EXPECT_EQ(c.dispatch().unassigned(), 0u);
  EXPECT_FALSE(c.answer(rank_t{2}, 1, at(0.1)));  // parked: nothing to send to a worker
  EXPECT_FALSE(c.answer(rank_t{1}, 2, at(0.1)));
  EXPECT_FALSE(c.answer(rank_t{2}, 1, at(0.1)));  // asks again: 2 parked for rank 2
  EXPECT_TRUE(c.has_parked());
  c.begin_round(at(0.2));
  EXPECT_FALSE(c.may_hand_out());
  EXPECT_TRUE(c.take_parked().empty());  // nothing to hand out yet: they stay parked
  EXPECT_EQ(c.dispatch().lose(rank_t{3}), 4u);
  c.begin_round(at(0.3));
  ASSERT_TRUE(c.may_hand_out());
  const auto parked = c.take_parked();
  ASSERT_EQ(parked.size(), 2u);
  EXPECT_EQ(parked[0].rank, rank_t{2});  // in the order they were parked, not by rank
  EXPECT_EQ(parked[0].want, 2u);
  EXPECT_EQ(parked[1].rank, rank_t{1});
  EXPECT_EQ(parked[1].want, 2u);
  EXPECT_FALSE(c.has_parked());
  const auto a = c.answer(parked[0].rank, parked[0].want, at(0.3), request_kind::parked_again);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->answers, 2u);
  EXPECT_EQ(ids_of(a->chunks), (std::vector<std::uint64_t>{0, 1}));
}

TEST(Scheduler_RootCore, ALostRanksParkedRequestIsForgotten) {
  root r(2, scheduler_tree::flat(3, rank_t{0}));
  auto& c = r.core;
  ASSERT_TRUE(c.answer(rank_t{0}, 2, at(0)));
  EXPECT_FALSE(c.answer(rank_t{1}, 1, at(0)));
  EXPECT_FALSE(c.answer(rank_t{2}, 1, at(0)));
  c.forget(rank_t{1});
  c.dispatch().lose(rank_t{0});
  c.begin_round(at(0.1));
  const auto parked = c.take_parked();
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].rank, rank_t{2});
}

TEST(Scheduler_RootCore, ANodeSchedulerHearsOnceThatTheQueueIsEmpty) {
  // 4 ranks, 2 per node: node 1's lowest rank (2) is a node scheduler.
  root r(2, scheduler_tree::by_node(detail::nodes_every(4, 2), rank_t{0}));
  auto& c = r.core;
  ASSERT_TRUE(c.answer(rank_t{1}, 2, at(0)));
  const auto dry = c.answer(rank_t{2}, 3, at(0));
  ASSERT_TRUE(dry);  // an answer of nothing
  EXPECT_EQ(dry->answers, 0u);
  EXPECT_TRUE(dry->chunks.empty());
  EXPECT_FALSE(c.answer(rank_t{2}, 1, at(0)));  // parked already: told before
  c.dispatch().lose(rank_t{1});
  c.begin_round(at(0.1));
  auto parked = c.take_parked();
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].want, 4u);
  ASSERT_TRUE(c.answer(rank_t{2}, parked[0].want, at(0.1), request_kind::parked_again));
  // Served meanwhile: a new request that finds the queue empty is told again, once.
  const auto again = c.answer(rank_t{2}, 1, at(0.2), request_kind::fresh);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->answers, 0u);
  EXPECT_FALSE(c.answer(rank_t{2}, 1, at(0.2), request_kind::fresh));
}

TEST(Scheduler_RootCore, SpeculationRoundsOnlyWithAnEmptyQueueAndAtMostEveryInterval) {
  root r(2, scheduler_tree::flat(2, rank_t{0}), true);
  auto& c = r.core;
  EXPECT_FALSE(c.begin_round(at(1)));  // partitions left in the queue
  EXPECT_TRUE(c.may_hand_out());
  ASSERT_TRUE(c.answer(rank_t{1}, 2, at(1)));
  EXPECT_TRUE(c.begin_round(at(1)));
  EXPECT_TRUE(c.may_hand_out());
  EXPECT_FALSE(c.begin_round(at(1.005)));  // within the interval of the last look
  EXPECT_FALSE(c.may_hand_out());
  EXPECT_EQ(c.next_speculation_check(), at(1) + root_core::speculation_interval);
  EXPECT_TRUE(c.begin_round(c.next_speculation_check()));  // a wake-up at the deadline counts
  EXPECT_FALSE(c.begin_round(at(1.015)));
  EXPECT_TRUE(c.begin_round(at(1.021)));
}

TEST(Scheduler_RootCore, NoSpeculationRoundWhenSpeculationIsOff) {
  root r(2, scheduler_tree::flat(2, rank_t{0}), false);
  ASSERT_TRUE(r.core.answer(rank_t{1}, 2, at(0)));
  EXPECT_FALSE(r.core.begin_round(at(5)));
  EXPECT_FALSE(r.core.may_hand_out());
}

TEST(Scheduler_RootCore, ATailRoundTakesBackABacklogForAParkedRequestWithoutSpeculation) {
  // 12 partitions; rank 1 asked ahead, then ran its chunk, while rank 0 sits on one of six (0.1 s each): the next
  // tail round answers rank 1's parked request with the back of rank 0's queue.
  root r(12, scheduler_tree::flat(2, rank_t{0}), false, map_reduce_state{}, true);
  auto& c = r.core;
  const auto mine = c.answer(rank_t{0}, 6, at(0));
  ASSERT_TRUE(mine);
  const auto its = c.answer(rank_t{1}, 6, at(0));
  ASSERT_TRUE(its);
  ASSERT_EQ(c.dispatch().unassigned(), 0u);
  EXPECT_FALSE(c.answer(rank_t{1}, 1, at(0.01)));  // it asks ahead (prefetch) while its threads are busy: parked
  for (const auto id : ids_of(its->chunks)) c.commit(rank_t{1}, partition_id{id}, 0.1, b("x"));
  c.commit(rank_t{0}, partition_id{0}, 0.1, b("x"));
  EXPECT_TRUE(c.begin_round(at(0.06)));  // no speculation, yet a tail round
  const auto parked = c.take_parked();
  ASSERT_EQ(parked.size(), 1u);
  const auto a = c.answer(parked[0].rank, parked[0].want, at(0.06), request_kind::parked_again);
  ASSERT_TRUE(a);
  EXPECT_EQ(ids_of(a->chunks), (std::vector<std::uint64_t>{4, 5}));  // 1 runs, 2..5 wait: the back half
  const auto told = c.dispatch().take_backs();
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].holder, rank_t{0});
  EXPECT_EQ(told[0].taker, rank_t{1});
}

TEST(Scheduler_RootCore, AdoptsOnlyTheRanksOfNodeSchedulers) {
  // 6 ranks, 3 per node: ranks 1 and 2 share the root's node; rank 3 serves 4 and 5.
  root r(6, scheduler_tree::by_node(detail::nodes_every(6, 3), rank_t{0}));
  auto& c = r.core;
  EXPECT_FALSE(c.adopt(rank_t{0}));  // the root itself
  EXPECT_FALSE(c.adopt(rank_t{1}));  // a worker of the root already
  EXPECT_FALSE(c.adopt(rank_t{3}));  // a node scheduler
  auto none = [](int) { return false; };
  EXPECT_TRUE(c.adopt_orphans(none).empty());  // their node scheduler is alive
  c.dispatch().lose(rank_t{3});
  EXPECT_EQ(c.adopt_orphans([](int r) { return r == 5; }), (std::vector<int>{4}));  // 5 turned to the root itself
  EXPECT_EQ(c.adopt_orphans(none), (std::vector<int>{5}));
  EXPECT_FALSE(c.adopt(rank_t{4}));            // once
  EXPECT_TRUE(c.answer(rank_t{4}, 1, at(0)));  // a worker of the root now
}

TEST(Scheduler_RootCore, CommitsOnceAndFoldsInIdOrder) {
  root r(4, scheduler_tree::flat(2, rank_t{0}));
  auto& c = r.core;
  ASSERT_TRUE(c.answer(rank_t{1}, 4, at(0)));
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{2}, 0.1, b("c")), commit_outcome::committed);
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{3}, 0.1, b("d")), commit_outcome::committed);
  c.end_batch();
  EXPECT_EQ(c.folded(), 0u);
  EXPECT_EQ(r.folded, "");
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{0}, 0.1, b("a")), commit_outcome::committed);
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{0}, 0.2, b("A")), commit_outcome::duplicate);
  c.end_batch();
  EXPECT_EQ(text(c.value()), "a");  // blocks of one partition (4 partitions): "a" is a whole block, in the prefix
  EXPECT_FALSE(c.complete());
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{1}, 0.1, b("b")), commit_outcome::committed);
  c.end_batch();
  EXPECT_EQ(r.folded, "a,b,c,d");
  EXPECT_EQ(c.folded(), 4u);
  EXPECT_TRUE(c.complete());
  EXPECT_FLOAT_EQ(c.state().cost_of(0), 0.1f);
}

TEST(Scheduler_RootCore, AResumedStateFoldsWhatContinuesThePrefixAndCheckpointsTheRest) {
  auto st = map_reduce_state::fresh(6);
  for (std::uint64_t id : {0, 1, 3}) st.done.insert(id);
  st.held = {{0, b("a")}, {1, b("b")}, {3, b("d")}};
  root r(6, scheduler_tree::flat(2, rank_t{0}), false, st);
  auto& c = r.core;
  EXPECT_EQ(text(c.value()), "a,b");
  EXPECT_EQ(c.folded(), 2u);
  EXPECT_EQ(c.dispatch().done_count(), 3u);
  checkpoint_image img;
  img.meta.partition_count = 6;
  c.to_image(img, 1.5);
  const auto back = map_reduce_state::from_image(img, 6, "test");
  EXPECT_EQ(back.folded, 2u);
  EXPECT_EQ(back.accumulator, b("a,b"));
  EXPECT_EQ(back.done_count(), 3u);
  EXPECT_EQ(back.held, (std::map<std::uint64_t, bytes>{{3, b("d")}}));
  EXPECT_DOUBLE_EQ(back.run_seconds, 1.5);
  ASSERT_TRUE(c.answer(rank_t{1}, 3, at(0)));
  EXPECT_EQ(c.commit(rank_t{1}, partition_id{2}, 0.1, b("c")), commit_outcome::committed);
  c.end_batch();
  EXPECT_EQ(text(c.value()), "a,b,c,d");
}

result_batch batch_of(std::initializer_list<std::uint64_t> ids) {
  result_batch out;
  for (auto id : ids) {
    out.ids.push_back(id);
    out.nanos.push_back(1000000);  // 1 ms
    out.data.push_back(static_cast<std::byte>('0' + id));
    out.ends.push_back(static_cast<std::uint32_t>(out.data.size()));
  }
  return out;
}

TEST(Scheduler_RootStart, AFailoverKeepsEachReportedResultOnce) {
  auto from = map_reduce_state::fresh(8);
  from.done.insert(0);
  from.folded = 1;
  const auto own = batch_of({0, 2});
  const auto other = batch_of({2, 3});
  detail::survivor_work work;
  work.results = {&own, &other};
  failover_summary f;
  const auto st = detail::resume_state(from, 8, work, f);
  EXPECT_EQ(f.from_checkpoint, 1u);
  EXPECT_EQ(f.from_workers, 2u);  // 2 and 3; 0 is in the checkpoint, 2 came twice
  EXPECT_EQ(st.done_count(), 3u);
  EXPECT_EQ(st.held.size(), 2u);
  EXPECT_FLOAT_EQ(st.cost_of(3), 0.001f);
  const auto stray = batch_of({8});
  work.results = {&stray};
  EXPECT_THROW(detail::resume_state(from, 8, work, f), error);
}

TEST(Scheduler_RootStart, RerunCountsWhatWasHandedOutBeforeButIsNeitherDoneNorRunning) {
  dispatcher_options o;
  o.done.insert(id_range{0, 2});
  o.done.insert(6);
  dispatcher d(10, {1, 1}, make_policy("dynamic", 1), o);
  const std::vector<id_range> running{{3, 4}};
  detail::survivor_work work;
  work.running = {&running};
  EXPECT_EQ(detail::rerun_count(d, work), 3u);  // 2, 4 and 5: below 7, neither done nor running
}

}  // namespace
