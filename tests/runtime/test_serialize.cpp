// Unit tests of serialize/deserialize: round trips of plain and Boost-serializable values, strong ids,
// and malformed bytes reported as partita::error.
#include <partita/runtime/serialize.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <partita/runtime/ids.hpp>

namespace {

struct plain_point {
  double x;
  std::int32_t id;
  char label[6];
  friend bool operator==(const plain_point&, const plain_point&) = default;
};
static_assert(partita::detail::is_plain_v<plain_point>);

// Not trivially copyable, so it goes through Boost.Serialization via its serialize member.
struct work_item {
  partita::partition_id partition{0};
  std::string name;
  std::vector<double> weights;
  std::pair<int, std::string> tag;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& partition& name& weights& tag;
  }
  friend bool operator==(const work_item&, const work_item&) = default;
};
static_assert(!partita::detail::is_plain_v<work_item>);

// Strong ids are distinct types: swapping them must not compile.
static_assert(!std::is_convertible_v<partita::rank_t, partita::partition_id>);
static_assert(!std::is_convertible_v<int, partita::rank_t>);
static_assert(!std::is_convertible_v<partita::step_t, partita::epoch_t>);

template <class T>
T round_trip(const T& value) {
  return partita::deserialize<T>(partita::serialize(value));
}

TEST(Runtime_Serialize, PlainStructIsCopiedAsIs) {
  plain_point p{3.25, -7, "abcde"};
  auto b = partita::serialize(p);
  EXPECT_EQ(b.size(), sizeof(plain_point));
  EXPECT_EQ(round_trip(p), p);
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-1.5), -1.5);
}

TEST(Runtime_Serialize, String) {
  EXPECT_EQ(round_trip(std::string()), "");
  EXPECT_EQ(round_trip(std::string("hello, partita")), "hello, partita");
  std::string binary("a\0b\xff", 4);
  EXPECT_EQ(round_trip(binary), binary);
  std::string big(1 << 20, 'q');
  big[12345] = 'z';
  EXPECT_EQ(round_trip(big), big);
}

TEST(Runtime_Serialize, Vector) {
  EXPECT_EQ(round_trip(std::vector<int>{}), std::vector<int>{});
  std::vector<double> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5 * static_cast<double>(i);
  EXPECT_EQ(round_trip(v), v);
  std::vector<std::string> words{"", "one", std::string(300, 'x')};
  EXPECT_EQ(round_trip(words), words);
}

TEST(Runtime_Serialize, BoostSerializableStruct) {
  work_item w{partita::partition_id{77}, "bucket-3", {1.0, 2.5, -3.0}, {9, "nine"}};
  EXPECT_EQ(round_trip(w), w);
  EXPECT_EQ(round_trip(work_item{}), work_item{});
  std::vector<work_item> many(5, w);
  many[3].name = "other";
  EXPECT_EQ(round_trip(many), many);
}

TEST(Runtime_Serialize, StrongIds) {
  EXPECT_EQ(round_trip(partita::rank_t{13}), partita::rank_t{13});
  EXPECT_EQ(round_trip(partita::partition_id{1ull << 40}), partita::partition_id{1ull << 40});
  EXPECT_EQ(round_trip(partita::step_t{5}), partita::step_t{5});
  EXPECT_EQ(round_trip(partita::epoch_t{6}), partita::epoch_t{6});
  std::vector<partita::partition_id> ids{partita::partition_id{3}, partita::partition_id{1}};
  EXPECT_EQ(round_trip(ids), ids);
}

TEST(Runtime_Serialize, SerializeIntoAppends) {
  partita::bytes out{std::byte{0xAB}};
  partita::serialize_into(out, std::int32_t{1});
  EXPECT_EQ(out.size(), 1 + sizeof(std::int32_t));
  EXPECT_EQ(out[0], std::byte{0xAB});
}

TEST(Runtime_Serialize, WrongSizeForPlainTypeIsError) {
  auto b = partita::serialize(std::int64_t{5});
  EXPECT_THROW((void)partita::deserialize<std::int32_t>(b), partita::error);
  EXPECT_THROW((void)partita::deserialize<plain_point>(partita::bytes{}), partita::error);
}

TEST(Runtime_Serialize, MalformedBytesAreErrorNotCrash) {
  auto good = partita::serialize(std::string("a string long enough to cut"));
  partita::bytes truncated(good.begin(), good.end() - 5);
  EXPECT_THROW((void)partita::deserialize<std::string>(truncated), partita::error);
  EXPECT_THROW((void)partita::deserialize<std::string>(partita::bytes{}), partita::error);

  // A length prefix of all ones: must be refused, not allocated.
  partita::bytes ones(16, std::byte{0xFF});
  EXPECT_THROW((void)partita::deserialize<std::string>(ones), partita::error);
  EXPECT_THROW((void)partita::deserialize<std::vector<std::string>>(ones), partita::error);

  auto item = partita::serialize(work_item{partita::partition_id{1}, "n", {1.0, 2.0}, {1, "x"}});
  for (std::size_t cut = 0; cut < item.size(); ++cut) {
    partita::bytes prefix(item.begin(), item.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW((void)partita::deserialize<work_item>(prefix), partita::error) << "cut at " << cut;
  }
}

}  // namespace
