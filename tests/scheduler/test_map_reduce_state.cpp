// Scheduler_MapReduceState: the map/reduce checkpoint state round-trips through an image, and a damaged image is
// refused with an error that names the file and the problem (no MPI, no HDF5).
#include <partita/scheduler/map_reduce/state.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include <partita/runtime/error.hpp>

namespace {

using partita::bytes;
using partita::checkpoint_error;
using partita::checkpoint_image;
using partita::map_reduce_state;

bytes b(const char* s) {
  bytes out;
  for (const char* c = s; *c; ++c) out.push_back(static_cast<std::byte>(*c));
  return out;
}

map_reduce_state sample() {
  auto s = map_reduce_state::fresh(10);
  s.accumulator = b("acc");
  s.folded = 3;
  for (std::uint64_t id : {0, 1, 2, 5, 7, 8}) s.done.insert(id);
  s.held = {{5, b("five")}, {7, b("")}, {8, b("eight!")}};
  s.measured[0] = 0.5f;
  s.measured[7] = 1.25f;
  s.run_seconds = 42.5;
  return s;
}

checkpoint_image image_of(const map_reduce_state& s, std::uint64_t n = 10) {
  checkpoint_image img;
  img.meta.partition_count = n;
  s.to_image(img);
  return img;
}

TEST(Scheduler_MapReduceState, RoundTrip) {
  const auto s = sample();
  const auto r = map_reduce_state::from_image(image_of(s), 10, "f.h5");
  EXPECT_EQ(r.accumulator, s.accumulator);
  EXPECT_EQ(r.folded, 3u);
  EXPECT_EQ(r.done, s.done);
  EXPECT_EQ(r.held, s.held);
  EXPECT_EQ(r.done_count(), 6u);
  EXPECT_EQ(r.measured_count(), 2u);
  EXPECT_FLOAT_EQ(r.measured[7], 1.25f);
  EXPECT_TRUE(std::isnan(r.measured[1]));
  EXPECT_DOUBLE_EQ(r.run_seconds, 42.5);
}

TEST(Scheduler_MapReduceState, OutputBlockChecksumsRoundTripAndAreChecked) {
  auto s = sample();
  EXPECT_FALSE(image_of(s).u64.count("scheduler/block_crc32"));  // a job without an output stores none
  EXPECT_TRUE(map_reduce_state::from_image(image_of(s), 10, "f.h5").block_crc.empty());
  s.block_crc = {0xdeadbeef, 1, 2, 0, 0, 0xffffffff, 0, 7, 8, 0};
  auto img = image_of(s);
  EXPECT_EQ(map_reduce_state::from_image(img, 10, "f.h5").block_crc, s.block_crc);
  img.u64["scheduler/block_crc32"].pop_back();
  EXPECT_THROW(map_reduce_state::from_image(img, 10, "f.h5"), checkpoint_error);
  img = image_of(s);
  img.u64["scheduler/block_crc32"][3] = std::uint64_t{1} << 32;
  EXPECT_THROW(map_reduce_state::from_image(img, 10, "f.h5"), checkpoint_error);
}

TEST(Scheduler_MapReduceState, DoneSetIsStoredAsRanges) {
  const auto img = image_of(sample());
  EXPECT_EQ(img.u64.at("scheduler/done_ranges"), (std::vector<std::uint64_t>{0, 3, 5, 6, 7, 9}));
}

TEST(Scheduler_MapReduceState, FreshStateRoundTrips) {
  const auto r = map_reduce_state::from_image(image_of(map_reduce_state::fresh(4), 4), 4, "f.h5");
  EXPECT_EQ(r.done_count(), 0u);
  EXPECT_TRUE(r.held.empty());
}

// Each damage must be refused naming the file and what is wrong.
void expect_refused(const checkpoint_image& img, const std::string& needle, std::uint64_t n = 10) {
  try {
    (void)map_reduce_state::from_image(img, n, "damaged.h5");
    ADD_FAILURE() << "accepted an image with " << needle;
  } catch (const checkpoint_error& e) {
    EXPECT_EQ(e.file(), "damaged.h5");
    EXPECT_NE(e.problem().find(needle), std::string::npos) << e.what();
  }
}

TEST(Scheduler_MapReduceState, DamageIsRefused) {
  auto img = image_of(sample());
  expect_refused(img, "partitions", 11);  // another partition count

  img = image_of(sample());
  img.blobs.erase("scheduler/accumulator");
  expect_refused(img, "missing or malformed");

  img = image_of(sample());
  img.u64["scheduler/folded_prefix"] = {11};
  expect_refused(img, "past the last partition");

  img = image_of(sample());
  img.u64["scheduler/done_ranges"] = {0, 3, 5, 12};
  expect_refused(img, "outside");

  img = image_of(sample());
  img.u64["scheduler/done_ranges"] = {0, 2, 5, 6, 7, 9};  // 2 folded but not done
  expect_refused(img, "folded but not marked done");

  img = image_of(sample());
  img.u64["scheduler/held_ends"].back() = 1000;  // past the packed results
  expect_refused(img, "out of bounds");

  img = image_of(sample());
  img.u64["scheduler/held_ids"][0] = 6;  // not done
  expect_refused(img, "stray result");

  img = image_of(sample());
  img.u64["scheduler/held_ids"][1] = 5;  // the same id twice
  expect_refused(img, "stray result");

  img = image_of(sample());
  img.u64["scheduler/held_ids"].pop_back();
  expect_refused(img, "disagree");

  img = image_of(sample());
  auto& ids = img.u64["scheduler/held_ids"];
  auto& ends = img.u64["scheduler/held_ends"];
  ids.erase(ids.begin());
  ends.erase(ends.begin());
  expect_refused(img, "result is missing");
}

// A job of 10^9 partitions: the state is a cost sample and a few done ranges, in memory and in the checkpoint.
TEST(Scheduler_MapReduceState, HugeJobsKeepACostSampleAndRanges) {
  const std::uint64_t n = 1'000'000'000;
  auto s = map_reduce_state::fresh(n);
  EXPECT_GT(s.cost_stride, 1u);
  EXPECT_LE(s.measured.size(), map_reduce_state::cost_sample_limit);
  s.done.insert(partita::id_range{0, 600'000'000});
  s.folded = 600'000'000;
  s.note_cost(0, 2.0f);
  s.note_cost(s.cost_stride, 3.0f);
  s.note_cost(s.cost_stride + 1, 4.0f);  // not in the sample
  const auto img = image_of(s, n);
  EXPECT_EQ(img.u64.at("scheduler/done_ranges").size(), 2u);
  EXPECT_LE(img.f64.at("scheduler/cost").size(), map_reduce_state::cost_sample_limit) << "the checkpoint stays small";
  const auto r = map_reduce_state::from_image(img, n, "f.h5");
  EXPECT_EQ(r.done_count(), 600'000'000u);
  EXPECT_EQ(r.cost_stride, s.cost_stride);
  EXPECT_EQ(r.measured_count(), 2u);
  EXPECT_FLOAT_EQ(r.cost_of(s.cost_stride), 3.0f);
  EXPECT_TRUE(std::isnan(r.cost_of(s.cost_stride + 1)));
}

TEST(Scheduler_MapReduceState, SmallJobsKeepEveryCost) {
  auto s = map_reduce_state::fresh(1000);
  EXPECT_EQ(s.cost_stride, 1u);
  s.note_cost(999, 1.5f);
  EXPECT_FLOAT_EQ(s.cost_of(999), 1.5f);
  // An older checkpoint without the stride key: one cost per partition.
  auto img = image_of(s, 1000);
  img.u64.erase("scheduler/cost_stride");
  EXPECT_FLOAT_EQ(map_reduce_state::from_image(img, 1000, "f.h5").cost_of(999), 1.5f);
}

}  // namespace
