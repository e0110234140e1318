// Scheduler_HostMajority: which side of a network partition may go on with a map/reduce job (a majority of the
// job's hosts, or exactly half with rank 0's host), and the job's lease that ranks which left as a minority watch
// (MPI-free).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <partita/runtime/node_map.hpp>
#include <partita/scheduler/map_reduce/detail/host_majority.hpp>
#include <partita/scheduler/map_reduce/detail/job_lease.hpp>

namespace {

using partita::node_map;
using partita::detail::holds_host_majority;
using partita::detail::hosts_reached;

// 3 hosts x 2 ranks: ranks 0,1 on host 0, 2,3 on host 1, 4,5 on host 2.
node_map three_hosts() { return node_map::from_assignment({0, 0, 1, 1, 2, 2}, {"n1", "n2", "n3"}, {}); }

TEST(Scheduler_HostMajority, TwoOfThreeHostsGoOnOneDoesNot) {
  const auto m = three_hosts();
  EXPECT_TRUE(holds_host_majority(m, {false, false, true, true, true, true}));     // the scheduler's node cut off
  EXPECT_FALSE(holds_host_majority(m, {true, true, false, false, false, false}));  // ... and its side
  EXPECT_FALSE(holds_host_majority(m, {false, false, false, false, true, true}));  // a worker node cut off
  EXPECT_TRUE(holds_host_majority(m, {true, false, true, false, false, false}));   // one rank per host is enough
  EXPECT_EQ(hosts_reached(m, {true, true, false, false, false, true}).reached, 2);
  EXPECT_EQ(hosts_reached(m, {true, true, false, false, false, true}).hosts, 3);
}

TEST(Scheduler_HostMajority, ExactlyHalfGoesOnOnlyWithRankZerosHost) {
  const auto m = node_map::from_assignment({0, 0, 1, 1}, {"a", "b"}, {});
  EXPECT_TRUE(holds_host_majority(m, {true, true, false, false}));
  EXPECT_TRUE(holds_host_majority(m, {false, true, false, false}));  // rank 0 itself is gone, its host is not
  EXPECT_FALSE(holds_host_majority(m, {false, false, true, true}));
}

TEST(Scheduler_HostMajority, OneHostAlwaysHoldsIt) {
  // Every job on one machine (all the single-host failover tests): a lost process is never a partition.
  const auto m = node_map::from_assignment({0, 0, 0, 0}, {"only"}, {});
  EXPECT_TRUE(holds_host_majority(m, {false, false, true, true}));
  EXPECT_TRUE(holds_host_majority(m, {false, false, false, true}));
}

TEST(Scheduler_HostMajority, TwoDisjointSidesNeverBothHoldIt) {
  // Every split of 5 hosts x 2 ranks into two sides (whole hosts, some hosts on neither side: dead).
  std::vector<int> node_of;
  for (int h = 0; h < 5; ++h) node_of.insert(node_of.end(), {h, h});
  const auto m = node_map::from_assignment(node_of, {"a", "b", "c", "d", "e"}, {});
  int pow3 = 1;
  for (int i = 0; i < 5; ++i) pow3 *= 3;
  for (int code = 0; code < pow3; ++code) {
    std::vector<bool> left(10, false), right(10, false);
    for (int h = 0, c = code; h < 5; ++h, c /= 3) {
      if (c % 3 == 1) left[2 * h] = left[2 * h + 1] = true;
      if (c % 3 == 2) right[2 * h] = right[2 * h + 1] = true;
    }
    EXPECT_FALSE(holds_host_majority(m, left) && holds_host_majority(m, right)) << "split " << code;
  }
}

TEST(Scheduler_HostMajority, AMinorityWaitsForTheWordWhileTheLeaseIsRenewedThenLeavesItsOwn) {
  const auto dir = std::filesystem::temp_directory_path() / ("partita-lease-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto word = (dir / "status").string();
  ::setenv("PARTITA_STATUS_FILE", word.c_str(), 1);
  EXPECT_EQ(partita::detail::job_lease_file(), word + ".lease");

  // A renewed lease keeps the minority waiting; the majority's word ends the wait, and is not replaced.
  std::thread majority([&] {
    partita::detail::job_lease lease(2, 0.05);
    for (int i = 0; i < 30; ++i) {
      lease.renew();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ofstream(word) << "0\n";
  });
  const auto t0 = std::chrono::steady_clock::now();
  partita::detail::await_job_word(0.6);  // the lease's 1.5 s outlast the 0.6 s stale limit: it was renewed
  majority.join();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1200));
  std::string got;
  std::ifstream(word) >> got;
  EXPECT_EQ(got, "0");

  // Nobody renews the lease: the minority leaves the failure word itself.
  std::filesystem::remove(word);
  partita::detail::await_job_word(0.3);
  std::ifstream(word) >> got;
  EXPECT_EQ(got, "1");
  ::unsetenv("PARTITA_STATUS_FILE");
  std::filesystem::remove_all(dir);
}

}  // namespace
