// Scheduler_IterativeProtocol: the iterative run's messages (step control, halos, partition states) round-trip
// through their codecs, and malformed input is refused, without MPI.
#include <gtest/gtest.h>

#include <limits>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>

namespace {
using namespace partita;
using namespace partita::detail;

TEST(Scheduler_IterativeProtocol, StepControlRoundTrip) {
  auto c = step_control::halo_size_error(partition_id{12}, partition_id{13}, 5, 4);
  c.action = boundary_action::checkpoint_and_stop;
  c.epoch = epoch_t{7};
  c.busy_seconds = 0.125;
  std::vector<double> out{1.5};  // appended after what is already there
  put_step_control(c, out);
  ASSERT_EQ(out.size(), 1 + step_control::doubles);
  const auto back = get_step_control(std::span<const double>(out).subspan(1));
  EXPECT_EQ(back.error, step_error::halo_size);
  EXPECT_EQ(back.partition, partition_id{12});
  EXPECT_EQ(back.neighbour, partition_id{13});
  EXPECT_EQ(back.halo_values, 5u);
  EXPECT_EQ(back.halo_declared, 4u);
  EXPECT_EQ(back.action, boundary_action::checkpoint_and_stop);
  EXPECT_EQ(back.epoch, epoch_t{7});
  EXPECT_EQ(back.busy_seconds, 0.125);
}

TEST(Scheduler_IterativeProtocol, StepControlKeepsTheFormerLayout) {
  // error, a, b, c, d, control, epoch, busy: what the gather carried before the record had a type.
  std::vector<double> out;
  auto c = step_control::kernel_error(partition_id{3});
  c.action = boundary_action::checkpoint;
  c.epoch = epoch_t{2};
  put_step_control(c, out);
  EXPECT_EQ(out, (std::vector<double>{2, 3, 0, 0, 0, 1, 2, 0}));
  EXPECT_EQ(get_step_control(std::vector<double>(8, 0.0)).error, step_error::none);
}

TEST(Scheduler_IterativeProtocol, StepControlRefusesMalformedInput) {
  const auto with = [](std::size_t at, double v) {
    std::vector<double> in(step_control::doubles, 0.0);
    in[at] = v;
    return in;
  };
  EXPECT_THROW(get_step_control(with(0, 3)), partita::error);    // no such error kind
  EXPECT_THROW(get_step_control(with(5, 3)), partita::error);    // no such action
  EXPECT_THROW(get_step_control(with(1, 1.5)), partita::error);  // not a whole partition id
  EXPECT_THROW(get_step_control(with(6, -1)), partita::error);   // negative epoch
  EXPECT_THROW(get_step_control(with(2, std::numeric_limits<double>::quiet_NaN())), partita::error);
  EXPECT_THROW(get_step_control(std::vector<double>(7, 0.0)), partita::error);  // short
}

TEST(Scheduler_IterativeProtocol, HalosRoundTripInOrder) {
  bytes message;
  put_halo(message, partition_id{1}, partition_id{2}, std::vector<double>{0.5, -1.0, 3e300});
  put_halo(message, partition_id{9}, partition_id{4}, std::vector<double>{});
  std::vector<halo_entry> got;
  read_halos(message, [&](halo_entry&& h) { got.push_back(std::move(h)); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, partition_id{1});
  EXPECT_EQ(got[0].to, partition_id{2});
  EXPECT_EQ(got[0].values, (std::vector<double>{0.5, -1.0, 3e300}));
  EXPECT_EQ(got[1].from, partition_id{9});
  EXPECT_EQ(got[1].to, partition_id{4});
  EXPECT_TRUE(got[1].values.empty());
}

TEST(Scheduler_IterativeProtocol, TruncatedHalosAreRefused) {
  bytes message;
  put_halo(message, partition_id{1}, partition_id{2}, std::vector<double>{1, 2, 3});
  for (std::size_t cut = 1; cut < message.size(); ++cut) {
    const std::span<const std::byte> part(message.data(), cut);
    EXPECT_THROW(read_halos(part, [](halo_entry&&) {}), partita::error) << "cut at " << cut;
  }
}

TEST(Scheduler_IterativeProtocol, PartitionStatesRoundTripAndRefuseTruncation) {
  const std::vector<state_array> a{{"u", bytes(16, std::byte{7}), true}, {"name", bytes(3, std::byte{1}), false}};
  bytes message;
  put_partition_state(message, partition_id{5}, a);
  put_partition_state(message, partition_id{6}, {});
  std::size_t pos = 0;
  const auto first = get_partition_state(message, pos);
  const auto second = get_partition_state(message, pos);
  EXPECT_EQ(pos, message.size());
  EXPECT_EQ(first.first, partition_id{5});
  EXPECT_EQ(first.second, a);
  EXPECT_EQ(second.first, partition_id{6});
  EXPECT_TRUE(second.second.empty());
  for (std::size_t cut = 0; cut < 8; ++cut) {
    std::size_t at = 0;
    EXPECT_THROW(get_partition_state(std::span<const std::byte>(message.data(), cut), at), partita::error);
  }
}

}  // namespace
