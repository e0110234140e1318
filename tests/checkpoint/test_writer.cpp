// The writer's decisions without MPI or HDF5: the plan of the scheduler datasets, the partition list every rank
// creates, the manifest rows, the size bound, the packed manifest and the byte formatter.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <partita/checkpoint/detail/crc32.hpp>
#include <partita/checkpoint/detail/human_bytes.hpp>
#include <partita/checkpoint/detail/layout.hpp>
#include <partita/checkpoint/detail/write_plan.hpp>
#include <partita/runtime/error.hpp>

namespace {

using namespace partita;
using namespace partita::detail;

checkpoint_image small_image() {
  checkpoint_image img;
  img.meta.job = "plan";
  img.meta.model = "iterative";
  img.meta.epoch = epoch_t{7};
  img.meta.step = step_t{70};
  img.meta.rank_count = 2;
  img.meta.partition_count = 4;
  img.meta.params_hash = 0x1234;
  img.blobs["scheduler/b"] = bytes{std::byte{1}, std::byte{2}, std::byte{3}};
  img.blobs["scheduler/a"] = bytes{std::byte{9}};
  img.u64["scheduler/done_ranges"] = {0, 4};
  img.f64["scheduler/cost"] = {1.5, 2.5};
  img.partitions.push_back({partition_id{3}, step_t{70}, "state", bytes(16, std::byte{5}), element_type::f64});
  img.partitions.push_back({partition_id{1}, step_t{70}, "state", bytes(5, std::byte{6}), element_type::u8});
  return img;
}

std::string problem_of(const store_options& opt, const checkpoint_image& img) {
  try {
    (void)make_plan(opt, img);
  } catch (const error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST(Checkpoint_Writer, PlanListsBlobsThenU64ThenF64InKeyOrderWithTheirChecksums) {
  const auto img = small_image();
  const auto plan = make_plan({.dir = "ckpt", .keep = 0}, img);
  EXPECT_EQ(plan.job, "plan");
  EXPECT_EQ(plan.dir, "ckpt");
  EXPECT_EQ(plan.keep, 1);  // values below 1 count as 1
  EXPECT_EQ(plan.epoch, 7u);
  EXPECT_EQ(plan.format_version, checkpoint_format_version);
  ASSERT_EQ(plan.scheduler.size(), 4u);
  const std::vector<std::string> paths = {"/scheduler/a", "/scheduler/b", "/scheduler/done_ranges", "/scheduler/cost"};
  for (std::size_t i = 0; i < paths.size(); ++i) EXPECT_EQ(plan.scheduler[i].row.path, paths[i]);
  EXPECT_EQ(plan.scheduler[1].row.bytes, 3u);
  EXPECT_EQ(plan.scheduler[1].row.crc, crc32(img.blobs.at("scheduler/b")));
  EXPECT_EQ(plan.scheduler[1].index, 1u);
  EXPECT_EQ(plan.scheduler[2].element_kind(), dataset_kind::u64);
  EXPECT_EQ(plan.scheduler[2].row.bytes, 16u);
  EXPECT_EQ(plan.scheduler[3].element_kind(), dataset_kind::f64);
  EXPECT_EQ(plan.scheduler[3].index, 0u);  // positions count within each map
  const auto m = plan.meta();
  EXPECT_EQ(m.job, img.meta.job);
  EXPECT_EQ(m.step, img.meta.step);
  EXPECT_EQ(m.rank_count, 2);
}

TEST(Checkpoint_Writer, PlanRefusesBadMetaAndKeys) {
  auto img = small_image();
  img.meta.job = "a/b";
  EXPECT_NE(problem_of({.dir = "d"}, img).find("the job name"), std::string::npos);
  img = small_image();
  EXPECT_EQ(problem_of({}, img), "no checkpoint directory given");
  img.meta.rank_count = 0;
  EXPECT_EQ(problem_of({.dir = "d"}, img), "rank_count is 0, must be at least 1");
  img = small_image();
  img.u64["scheduler/a"] = {1};
  EXPECT_EQ(problem_of({.dir = "d"}, img), "dataset key 'scheduler/a' is used twice (blobs, u64, f64)");
  img = small_image();
  img.f64["scheduler/a/x"] = {1};
  EXPECT_EQ(problem_of({.dir = "d"}, img), "dataset key 'scheduler/a' is also the group of 'scheduler/a/x'");
  img = small_image();
  img.blobs["meta/x"] = {};
  EXPECT_NE(problem_of({.dir = "d"}, img).find("reserves"), std::string::npos);
}

TEST(Checkpoint_Writer, PartitionsOfAllRanksAreSortedByIdAndPathAndNeverShared) {
  auto img = small_image();
  const auto on0 = local_partitions(img, 0);
  ASSERT_EQ(on0.size(), 2u);
  EXPECT_EQ(on0[0].row.path, "/partitions/3/state");
  EXPECT_EQ(on0[0].element_kind(), dataset_kind::f64);
  EXPECT_EQ(on0[0].row.step, 70u);
  EXPECT_EQ(on0[0].row.crc, 0u);  // checksummed while the data goes to disk
  EXPECT_EQ(on0[1].index, 1u);

  checkpoint_image other;
  other.partitions.push_back({partition_id{2}, step_t{70}, "state", bytes(3), element_type::u8});
  other.partitions.push_back({partition_id{1}, step_t{70}, "result", bytes(2), element_type::u8});
  const auto all = sorted_partitions({on0, local_partitions(other, 1)});
  std::vector<std::string> paths;
  for (const auto& e : all) paths.push_back(e.row.path + "@" + std::to_string(e.owner));
  EXPECT_EQ(paths, (std::vector<std::string>{"/partitions/1/result@1", "/partitions/1/state@0", "/partitions/2/state@1",
                                             "/partitions/3/state@0"}));
  EXPECT_EQ(shared_partition_problem(all), std::nullopt);

  const auto twice = sorted_partitions({on0, on0});
  EXPECT_EQ(shared_partition_problem(twice), "partition dataset /partitions/1/state is held by ranks 0 and 0");

  img.partitions[0].data.resize(15);  // float64 but not a multiple of 8 bytes
  EXPECT_THROW((void)local_partitions(img, 0), error);
}

TEST(Checkpoint_Writer, ManifestRowsAreMetaThenSchedulerThenPartitions) {
  const auto img = small_image();
  const auto plan = make_plan({.dir = "d"}, img);
  const auto parts = sorted_partitions({local_partitions(img, 0)});
  const auto rows = manifest_rows(plan, parts);
  ASSERT_EQ(rows.size(), 1 + 4 + 2u);
  EXPECT_EQ(rows[0].path, "/meta");
  EXPECT_EQ(rows[0].crc, crc32(encode_meta(plan.meta())));
  EXPECT_EQ(rows[0].bytes, encode_meta(plan.meta()).size());
  EXPECT_EQ(first_partition_row(plan), 5u);
  EXPECT_EQ(rows[1].path, "/scheduler/a");
  EXPECT_EQ(rows[5].path, "/partitions/1/state");
  EXPECT_EQ(rows[6].step, 70u);
  // Data 3 + 1 + 16 + 16 + 5 + 16 bytes; 16 KiB, and 2 KiB per scheduler dataset and two per partition.
  EXPECT_EQ(file_size_bound(plan, parts), 57u + 16384 + 2048 * (4 + 2 * 2));
}

TEST(Checkpoint_Writer, PackedManifestRowsRoundTrip) {
  const std::vector<manifest_row> rows = {{"/meta", 90, 0xdeadbeef, 0}, {"/partitions/12/state", 1u << 20, 7, 33}};
  const std::size_t path_len = 21;  // the longest path and its NUL
  const auto packed = pack_manifest(rows, path_len);
  ASSERT_EQ(packed.size(), 2 * manifest_row_size(path_len));
  EXPECT_EQ(packed[5], '\0');  // paths NUL-padded
  std::uint64_t bytes = 0;
  std::memcpy(&bytes, packed.data() + manifest_row_size(path_len) + path_len, 8);
  EXPECT_EQ(bytes, 1u << 20);
  const auto back = unpack_manifest(packed, path_len);
  ASSERT_EQ(back.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].path, rows[i].path);
    EXPECT_EQ(back[i].bytes, rows[i].bytes);
    EXPECT_EQ(back[i].crc, rows[i].crc);
    EXPECT_EQ(back[i].step, rows[i].step);
  }
  EXPECT_EQ(manifest_crc(back), manifest_crc(rows));
}

TEST(Checkpoint_Writer, HumanBytesUsesOneDecimalInTheLargestUnitUpToTiB) {
  EXPECT_EQ(human_bytes(0), "0.0 B");
  EXPECT_EQ(human_bytes(1023), "1023.0 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(std::uint64_t{5} << 30), "5.0 GiB");
  EXPECT_EQ(human_bytes(std::uint64_t{2048} << 40), "2048.0 TiB");
}

TEST(Checkpoint_Writer, ElementsOfReadsLittleEndianValues) {
  const std::vector<double> v = {1.5, -2.0};
  bytes b(16);
  std::memcpy(b.data(), v.data(), 16);
  EXPECT_EQ(elements_of<double>(b), v);
  EXPECT_TRUE(elements_of<std::uint64_t>(bytes{}).empty());
}
