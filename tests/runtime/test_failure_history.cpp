// Unit tests of the failure history: reading (timed, untimed and hand-written lines), appending, the
// suspect hosts the election avoids, and counting interrupts for the mean time to interrupt.
#include <partita/runtime/failure_history.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <partita/runtime/error.hpp>

namespace {

using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

// ---- failure history ---------------------------------------------------------------------------

class Runtime_FailureHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("partita_history_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write_history(const std::string& text) const {
    const auto file = dir_ / "history";
    std::ofstream(file) << text;
    return file;
  }
  std::filesystem::path dir_;
};

TEST_F(Runtime_FailureHistory, MissingFileIsEmpty) {
  EXPECT_TRUE(partita::read_failure_history(dir_ / "no_such_file").empty());
}

TEST_F(Runtime_FailureHistory, ReadSkipsCommentsAndBlanks) {
  const auto file = write_history("# failure history of job 42\n"
                                  "\n"
                                  "   \n"
                                  "nodeA  # rank 3 died\n"
                                  "  nodeB\textra words\n"
                                  "   # indented comment\n"
                                  "nodeA\n"
                                  "nodeC");  // no final newline
  EXPECT_EQ(partita::read_failure_history(file), (std::set<std::string>{"nodeA", "nodeB", "nodeC"}));
}

TEST_F(Runtime_FailureHistory, AppendThenRead) {
  const auto file = dir_ / "sub_history";
  partita::append_failure_history(file, "nodeA", "rank 2 lost at step 10");
  partita::append_failure_history(file, "nodeB", "rank 5 lost");
  EXPECT_EQ(partita::read_failure_history(file), (std::set<std::string>{"nodeA", "nodeB"}));
  partita::append_failure_history(file, "nodeA", "again");
  EXPECT_EQ(partita::read_failure_history(file).size(), 2u);
}

TEST_F(Runtime_FailureHistory, ReasonWithNewlineDoesNotAddAHost) {
  const auto file = dir_ / "history";
  partita::append_failure_history(file, "nodeA", "rank 1 died:\nsegfault in kernel\r\nnodeZ");
  EXPECT_EQ(partita::read_failure_history(file), std::set<std::string>{"nodeA"});
}

TEST_F(Runtime_FailureHistory, AppendToUnwritablePlaceIsError) {
  EXPECT_THROW(partita::append_failure_history(dir_ / "no_dir" / "history", "nodeA", "x"), partita::error);
}

TEST_F(Runtime_FailureHistory, AppendedEventsAreTimed) {
  const auto file = dir_ / "history";
  const auto t = *partita::parse_utc("2026-11-25T10:04:11Z");
  partita::append_failure_history(file, "node17", "Slurm job 42 attempt 2: node state DOWN", t);
  partita::append_failure_history(file, "", "attempt 3 failed with exit code 137", t + 3600s);
  const auto events = partita::read_failure_events(file);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].host, "node17");
  ASSERT_TRUE(events[0].when.has_value());
  EXPECT_EQ(*events[0].when, t);
  EXPECT_EQ(events[0].reason, "Slurm job 42 attempt 2: node state DOWN");
  EXPECT_EQ(events[1].host, "-");
  EXPECT_EQ(*events[1].when, t + 3600s);
  // "-" is an interrupt, not a host to avoid.
  EXPECT_EQ(partita::read_failure_history(file), std::set<std::string>{"node17"});
}

TEST_F(Runtime_FailureHistory, HandWrittenAndOldLinesStayValid) {
  const auto file = write_history(
      "node09  # marked by hand: bad memory\n"
      "node10  2026-11-25 12:00:00  # the launcher's old format: time in words, not a timestamp\n"
      "node11  2026-11-25T12:00:00Z\n"
      "node12  2026-13-25T12:00:00Z  # not a date: an untimed event\n");
  const auto events = partita::read_failure_events(file);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_FALSE(events[0].when);
  EXPECT_EQ(events[0].reason, "marked by hand: bad memory");
  EXPECT_FALSE(events[1].when);
  EXPECT_TRUE(events[2].when);
  EXPECT_EQ(events[2].reason, "");
  EXPECT_FALSE(events[3].when);
  EXPECT_EQ(partita::count_interrupts(events), 1u);
  EXPECT_EQ(partita::read_failure_history(file).size(), 4u);
}

TEST(Runtime_FailureTime, RoundTripAndRejects) {
  const auto t = sys::from_time_t(1795600000);
  EXPECT_EQ(partita::format_utc(t), "2026-11-25T09:46:40Z");
  EXPECT_EQ(partita::parse_utc(partita::format_utc(t)), t);
  EXPECT_EQ(partita::parse_utc("1970-01-01T00:00:00Z"), sys::from_time_t(0));
  for (const char* bad :
       {"", "2026-11-25", "2026-11-25T10:04:11", "2026-11-25 10:04:11Z", "2026-00-25T10:04:11Z", "2026-11-25T24:04:11Z",
        "2026-11-25T10:60:11Z", "2O26-11-25T10:04:11Z", "2026-11-25T10:04:11Z0"})
    EXPECT_FALSE(partita::parse_utc(bad)) << bad;
}

TEST(Runtime_FailureTime, InterruptsGroupEventsOfOneFailure) {
  const auto t = sys::from_time_t(1795600000);
  std::vector<partita::failure_event> events{{"n1", t, ""},
                                             {"n2", t + 5s, ""},               // one failure that took two nodes
                                             {"n3", std::nullopt, "by hand"},  // untimed: never an interrupt
                                             {"-", t + 600s, ""},              // a crash ten minutes later
                                             {"n4", t + 659s, ""},    // within a minute of it: the same interrupt
                                             {"n5", t + 7200s, ""}};  // out of order in the file would not matter
  EXPECT_EQ(partita::count_interrupts(events), 3u);
  EXPECT_EQ(partita::count_interrupts(events, 1s), 5u);
  EXPECT_EQ(partita::count_interrupts({}), 0u);
  std::swap(events.front(), events.back());
  EXPECT_EQ(partita::count_interrupts(events), 3u);
}

}  // namespace
