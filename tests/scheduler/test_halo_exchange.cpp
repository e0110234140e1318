// Scheduler_HaloExchange: one rank's halo exchange over an in-memory peer_link (several "ranks" in one process,
// no MPI): halos reach the right neighbour slot whether they stay on the rank or travel, waits are bounded, and
// malformed messages are refused.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/halo_exchange.hpp>

namespace {
using namespace partita;
using namespace partita::detail;

/// Mailboxes of every fake rank: (destination, tag) -> payloads in the order sent.
using mailboxes = std::map<std::pair<int, iterative_tag>, std::deque<bytes>>;

/// peer_link of fake rank `me`: a send lands in the destination's mailbox at once.
class memory_link final : public peer_link {
 public:
  memory_link(mailboxes& boxes, int me) : boxes_(boxes), me_(me) {}
  void send(rank_t to, iterative_tag tag, bytes payload) override {
    boxes_[{to.value, tag}].push_back(std::move(payload));
    ++sent;
  }
  std::optional<bytes> poll(iterative_tag tag) override {
    auto& box = boxes_[{me_, tag}];
    if (box.empty()) return std::nullopt;
    auto b = std::move(box.front());
    box.pop_front();
    return b;
  }
  bool flush(double) override { return delivered; }
  void abandon() noexcept override { abandoned = true; }

  int sent = 0;
  bool delivered = true, abandoned = false;

 private:
  mailboxes& boxes_;
  int me_;
};

/// A ring of `n` partitions: p's neighbours are p-1 and p+1.
std::vector<std::vector<partition_id>> ring(std::uint64_t n) {
  std::vector<std::vector<partition_id>> g(n);
  for (std::uint64_t p = 0; p < n; ++p) g[p] = {partition_id{(p + n - 1) % n}, partition_id{(p + 1) % n}};
  return g;
}

/// Every owned partition's halo for neighbour q: {100 * p + q}.
halo_set halos_of(const std::vector<std::vector<partition_id>>& g, const placement& place, int rank) {
  halo_set out;
  for (auto p = place.begin(rank); p < place.end(rank); ++p) {
    out.emplace_back();
    for (auto q : g[p]) out.back().push_back({100.0 * static_cast<double>(p) + static_cast<double>(q.value)});
  }
  return out;
}

constexpr wait_limit quick{0.05, 4};
const auto never_idle = [] { return false; };

TEST(Scheduler_HaloExchange, PlansInteriorAndBoundaryPartitions) {
  const auto g = ring(8);
  halo_exchange ex(g, rank_t{1});
  ex.plan(even_placement(8, 2));  // rank 1 owns 4..7; 4 and 7 have a neighbour on rank 0
  EXPECT_EQ(ex.interior(), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ex.boundary(), (std::vector<std::uint64_t>{0, 3}));
}

TEST(Scheduler_HaloExchange, EveryHaloReachesItsNeighbourSlot) {
  const auto g = ring(8);
  const auto place = even_placement(8, 3);  // 0..2, 3..5, 6..7
  mailboxes boxes;
  std::vector<std::unique_ptr<memory_link>> links;
  std::vector<std::unique_ptr<halo_exchange>> ex;
  for (int r = 0; r < 3; ++r) {
    links.push_back(std::make_unique<memory_link>(boxes, r));
    ex.push_back(std::make_unique<halo_exchange>(g, rank_t{r}));
    ex.back()->plan(place);
  }
  for (int r = 0; r < 3; ++r) {
    auto out = halos_of(g, place, r);
    ex[static_cast<std::size_t>(r)]->post(*links[static_cast<std::size_t>(r)], out);
    EXPECT_EQ(links[static_cast<std::size_t>(r)]->sent, 2) << "one message per neighbouring rank, rank " << r;
  }
  for (int r = 0; r < 3; ++r) {
    auto& e = *ex[static_cast<std::size_t>(r)];
    e.receive(*links[static_cast<std::size_t>(r)], quick, never_idle);
    e.finish(*links[static_cast<std::size_t>(r)], quick);
    for (auto p = place.begin(r); p < place.end(r); ++p)
      for (std::size_t j = 0; j < 2; ++j) {
        const auto q = g[p][j].value;  // the halo p reads in slot j is the one q computed for p
        EXPECT_EQ(e.halo(p - place.begin(r), j),
                  (std::vector<double>{100.0 * static_cast<double>(q) + static_cast<double>(p)}))
            << "partition " << p << " slot " << j;
      }
  }
}

TEST(Scheduler_HaloExchange, WorksWhileWaitingAndTimesOutOnASilentPeer) {
  const auto g = ring(4);
  const auto place = even_placement(4, 2);
  mailboxes boxes;
  memory_link link(boxes, 0);
  halo_exchange ex(g, rank_t{0});
  ex.plan(place);
  auto out = halos_of(g, place, 0);
  ex.post(link, out);
  int idle_work = 3;
  try {
    ex.receive(link, quick, [&] { return idle_work-- > 0; });
    FAIL() << "rank 1 never sent its halos";
  } catch (const peer_silent& e) {
    EXPECT_EQ(e.step(), 4u);
    EXPECT_STREQ(e.what(),
                 "step 5: halos from 1 rank(s) did not arrive within --timeout 0.05 s (a rank is lost or hangs)");
  }
  EXPECT_LT(idle_work, 0);  // the idle work ran before the wait was counted
}

TEST(Scheduler_HaloExchange, UndeliveredSendsAreAbandonedAndReported) {
  const auto g = ring(4);
  mailboxes boxes;
  memory_link link(boxes, 0);
  link.delivered = false;
  halo_exchange ex(g, rank_t{0});
  ex.plan(even_placement(4, 2));
  try {
    ex.finish(link, quick);
    FAIL() << "the sends were never delivered";
  } catch (const peer_silent& e) {
    EXPECT_STREQ(e.what(), "step 5: sending halos: no answer within --timeout 0.05 s (a rank is lost or hangs)");
  }
  EXPECT_TRUE(link.abandoned);
}

TEST(Scheduler_HaloExchange, MalformedMessagesAreRefused) {
  const auto g = ring(4);
  const auto place = even_placement(4, 2);  // rank 0 owns 0, 1
  const auto refused = [&](bytes message) {
    mailboxes boxes;
    memory_link link(boxes, 0);
    halo_exchange ex(g, rank_t{0});
    ex.plan(place);
    boxes[{0, iterative_tag::halo}].push_back(std::move(message));
    EXPECT_THROW(ex.receive(link, quick, never_idle), partita::error);
  };
  bytes not_ours, not_a_neighbour, truncated;
  put_halo(not_ours, partition_id{3}, partition_id{2}, std::vector<double>{1});
  put_halo(not_a_neighbour, partition_id{2}, partition_id{0}, std::vector<double>{1});  // 0's neighbours: 3, 1
  put_halo(truncated, partition_id{3}, partition_id{0}, std::vector<double>{1, 2});
  truncated.pop_back();
  refused(not_ours);
  refused(not_a_neighbour);
  refused(truncated);
}

}  // namespace
