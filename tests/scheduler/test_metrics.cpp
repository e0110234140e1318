// Scheduler_Metrics: the Prometheus text of a job's live figures, the atomic file it goes to, and the publisher's
// cadence, busy fractions and last writes (docs/metrics.md). No MPI.
#include <gtest/gtest.h>
#include <httplib.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <partita/scheduler/detail/metrics_file.hpp>
#include <partita/scheduler/detail/metrics_publisher.hpp>
#include <partita/scheduler/detail/metrics_text.hpp>

namespace {

namespace fs = std::filesystem;
using namespace partita::detail;

const metrics_labels labels{"pi", "map_reduce", "0x00000000deadbeef"};

metrics_snapshot two_ranks() {
  metrics_snapshot s;
  s.done = 30;
  s.total = 100;
  s.rate_per_second = 15;
  s.eta_seconds = 70.0 / 15;
  s.elapsed_seconds = 2;
  s.ranks = {{0, 0, 0}, {4, 6, 0.75}};
  s.chunks = 12;
  s.messages = 7;
  s.checkpoints = 2;
  s.checkpoint_seconds = 0.25;
  s.checkpoint_bytes = 4096;
  s.speculative_copies = 3;
  s.speculative_won = 1;
  s.taken_back = 5;
  s.timestamp_seconds = 1.7e9;
  return s;
}

// The sample line of `name` with `extra` labels, or "" if none.
std::string sample(const std::string& text, const std::string& name, const std::string& extra = {}) {
  std::istringstream in(text);
  const std::string head = name + "{partita_job=\"pi\",model=\"map_reduce\",params_hash=\"0x00000000deadbeef\"" +
                           (extra.empty() ? "" : "," + extra) + "} ";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(head, 0) == 0) return line.substr(head.size());
  return "";
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("partita-metrics-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(Scheduler_Metrics, TextHasHelpTypeAndTheFiguresWithTheJobsLabels) {
  const auto text = format_metrics(labels, two_ranks());
  EXPECT_NE(text.find("# HELP partita_work_done "), std::string::npos);
  EXPECT_NE(text.find("# TYPE partita_work_done gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE partita_checkpoints_total counter\n"), std::string::npos);
  EXPECT_EQ(sample(text, "partita_work_done", "unit=\"partitions\""), "30");
  EXPECT_EQ(sample(text, "partita_work_size", "unit=\"partitions\""), "100");
  EXPECT_EQ(sample(text, "partita_work_rate_per_second", "unit=\"partitions\""), "15");
  EXPECT_EQ(sample(text, "partita_job_state", "state=\"running\""), "1");
  EXPECT_EQ(sample(text, "partita_job_state", "state=\"completed\""), "0");
  EXPECT_EQ(sample(text, "partita_ranks"), "2");
  EXPECT_EQ(sample(text, "partita_chunks_total"), "12");
  EXPECT_EQ(sample(text, "partita_messages_total"), "7");
  EXPECT_EQ(sample(text, "partita_checkpoints_total"), "2");
  EXPECT_EQ(sample(text, "partita_checkpoint_seconds_total"), "0.25");
  EXPECT_EQ(sample(text, "partita_checkpoint_bytes_total"), "4096");
  EXPECT_EQ(sample(text, "partita_speculative_copies_total"), "3");
  EXPECT_EQ(sample(text, "partita_speculative_copies_won_total"), "1");
  EXPECT_EQ(sample(text, "partita_taken_back_partitions_total"), "5");
  EXPECT_EQ(sample(text, "partita_lost_ranks_total"), "0");
  EXPECT_EQ(sample(text, "partita_failovers_total"), "0");
  EXPECT_EQ(sample(text, "partita_rollbacks_total"), "0");
  EXPECT_EQ(std::stod(sample(text, "partita_eta_seconds")), 70.0 / 15);
  // A rank without kernel threads (a dedicated scheduler) has no busy figures.
  EXPECT_EQ(sample(text, "partita_rank_busy_ratio", "rank=\"0\""), "");
  EXPECT_EQ(sample(text, "partita_rank_busy_ratio", "rank=\"1\""), "0.75");
  EXPECT_EQ(sample(text, "partita_rank_busy_seconds_total", "rank=\"1\""), "6");
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find("# EOF"), std::string::npos);  // Prometheus text, not the OpenMetrics content type
}

TEST(Scheduler_Metrics, FiguresAModelDoesNotHaveAreLeftOut) {
  metrics_snapshot s;  // an iterative job: no chunks, no speculation; unknown ETA
  s.unit = "steps";
  s.migrations = 5;
  const auto text = format_metrics(labels, s);
  EXPECT_EQ(text.find("partita_chunks_total"), std::string::npos);
  EXPECT_EQ(text.find("partita_messages_total"), std::string::npos);
  EXPECT_EQ(text.find("partita_speculative"), std::string::npos);
  EXPECT_EQ(text.find("partita_eta_seconds"), std::string::npos);
  EXPECT_EQ(sample(text, "partita_migrations_total"), "5");
  EXPECT_EQ(sample(text, "partita_work_done", "unit=\"steps\""), "0");
}

TEST(Scheduler_Metrics, LabelValuesAreEscapedAndNonFiniteFiguresDoNotBreakTheText) {
  metrics_snapshot s;
  s.rate_per_second = std::numeric_limits<double>::quiet_NaN();
  s.elapsed_seconds = std::numeric_limits<double>::infinity();
  const auto text = format_metrics({"a\"b\\c\nd", "map_reduce", "0x1"}, s);
  EXPECT_NE(text.find("partita_job=\"a\\\"b\\\\c\\nd\""), std::string::npos);
  EXPECT_EQ(text.find("nan"), std::string::npos);
  EXPECT_EQ(text.find("inf"), std::string::npos);
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    EXPECT_FALSE(text.substr(at, nl - at).empty()) << "no empty lines";
}

TEST(Scheduler_Metrics, FileIsReplacedWholeAndNoTemporaryIsLeft) {
  const auto dir = fresh_dir("file");
  metrics_file f(dir / "job.prom");
  ASSERT_TRUE(f.write("first 1\n"));
  EXPECT_EQ(read(dir / "job.prom"), "first 1\n");
  ASSERT_TRUE(f.write("second 2\n"));
  EXPECT_EQ(read(dir / "job.prom"), "second 2\n");
  EXPECT_FALSE(fs::exists(dir / "job.prom.tmp"));
  EXPECT_FALSE(f.broken());
  fs::remove_all(dir);
}

TEST(Scheduler_Metrics, AnUnwritableFolderBreaksTheFileOnceAndForAll) {
  metrics_file f("/proc/partita-no-such-folder/job.prom");
  EXPECT_FALSE(f.write("x 1\n"));
  EXPECT_TRUE(f.broken());
  EXPECT_FALSE(f.write("x 2\n"));  // skipped: reported once, the job goes on without metrics
  EXPECT_FALSE(fs::exists("/proc/partita-no-such-folder/job.prom"));
}

TEST(Scheduler_Metrics, PublisherIsOffWithoutAFile) {
  metrics_publisher p(partita::output_options{}, labels);
  EXPECT_FALSE(p.enabled());
  EXPECT_FALSE(p.due(clock::now() + std::chrono::hours(1000)));
  p.publish(two_ranks());
  p.conclude(two_ranks());
  p.fail();
  EXPECT_EQ(p.text(), "");
}

TEST(Scheduler_Metrics, PublisherWritesAtOnceThenEveryIntervalWithBusyOverTheInterval) {
  const auto dir = fresh_dir("publisher");
  partita::output_options o;
  o.metrics_file = dir / "job.prom";
  o.metrics_interval_seconds = 2;
  metrics_publisher p(o, labels);
  const auto t0 = clock::now();
  ASSERT_TRUE(p.due(t0));
  auto s = two_ranks();
  s.ranks[1].busy_seconds = 1;
  p.publish(s, t0);
  EXPECT_FALSE(p.due(t0 + std::chrono::milliseconds(1999)));
  EXPECT_TRUE(p.due(t0 + std::chrono::seconds(2)));
  // 4 threads busy 6 of their 8 seconds over the last 2 s.
  s.ranks[1].busy_seconds = 7;
  p.publish(s, t0 + std::chrono::seconds(2));
  const auto text = read(*o.metrics_file);
  EXPECT_EQ(text, p.text());
  EXPECT_EQ(sample(text, "partita_rank_busy_ratio", "rank=\"1\""), "0.75");
  EXPECT_EQ(sample(text, "partita_rank_busy_seconds_total", "rank=\"1\""), "7");
  // Credited more than the interval lasted (results of long partitions arriving): clamped to 1.
  s.ranks[1].busy_seconds = 100;
  p.publish(s, t0 + std::chrono::seconds(4));
  EXPECT_EQ(sample(p.text(), "partita_rank_busy_ratio", "rank=\"1\""), "1");
  // The cadence keeps its deadlines: due again at t0 + 6 s.
  EXPECT_FALSE(p.due(t0 + std::chrono::milliseconds(5999)));
  EXPECT_TRUE(p.due(t0 + std::chrono::seconds(6)));
  fs::remove_all(dir);
}

TEST(Scheduler_Metrics, FailRewritesARunningJobAsFailedButNeverAFinishedOne) {
  const auto dir = fresh_dir("fail");
  partita::output_options o;
  o.metrics_file = dir / "job.prom";
  {
    metrics_publisher p(o, labels);
    p.publish(two_ranks());
    p.fail();
    EXPECT_EQ(sample(read(*o.metrics_file), "partita_job_state", "state=\"failed\""), "1");
    EXPECT_EQ(sample(read(*o.metrics_file), "partita_work_done", "unit=\"partitions\""), "30");
    EXPECT_FALSE(p.due(clock::now() + std::chrono::hours(1)));
  }
  {
    metrics_publisher p(o, labels);
    auto s = two_ranks();
    s.state = "completed";
    p.conclude(s);
    p.fail();
    EXPECT_EQ(sample(read(*o.metrics_file), "partita_job_state", "state=\"completed\""), "1");
  }
  fs::remove_all(dir);
}

TEST(Scheduler_Metrics, FinalFiguresComeFromTheSummary) {
  partita::run_report rep;
  rep.status = partita::run_status::checkpointed;
  rep.wall_seconds = 10;
  rep.workers.resize(2);
  rep.workers[0].threads = 2;
  rep.workers[0].busy_seconds = 5;
  rep.workers[1].threads = 2;
  rep.workers[1].busy_seconds = 20;
  rep.workers[1].lost = true;
  rep.checkpoints = 3;
  rep.chunks = 9;
  rep.dispatches = 4;
  rep.map_reduce.speculative_copies = 2;
  metrics_snapshot s;
  add_final_figures(s, rep);
  EXPECT_EQ(s.state, "checkpointed");
  EXPECT_DOUBLE_EQ(s.ranks[0].busy_fraction, 0.25);
  EXPECT_DOUBLE_EQ(s.ranks[1].busy_fraction, 1.0);
  EXPECT_EQ(s.lost_ranks, 1u);
  EXPECT_EQ(s.checkpoints, 3u);
  EXPECT_EQ(s.chunks, 9u);
  EXPECT_EQ(s.messages, 4u);
  EXPECT_EQ(s.speculative_copies, 2u);
  EXPECT_FALSE(s.migrations);

  partita::run_report it;
  it.model = partita::model_kind::iterative;
  it.iterative.migrations = 6;
  it.iterative.rollbacks.resize(1);
  it.iterative.rollbacks[0].lost_ranks = {2, 3};
  metrics_snapshot t;
  add_final_figures(t, it);
  EXPECT_EQ(t.state, "completed");
  EXPECT_EQ(t.migrations, 6u);
  EXPECT_EQ(t.rollbacks, 1u);
  EXPECT_EQ(t.lost_ranks, 2u);
  EXPECT_FALSE(t.chunks);
  EXPECT_FALSE(t.input_read_bytes);  // no data path, no --output: no byte figures
  EXPECT_FALSE(t.output_written_bytes);
}

TEST(Scheduler_Metrics, BytesOfTheDataPathAreWrittenWhenTheJobHasOne) {
  metrics_snapshot s;
  EXPECT_EQ(format_metrics(labels, s).find("partita_input_"), std::string::npos);  // a job without a data path
  EXPECT_EQ(format_metrics(labels, s).find("partita_output_"), std::string::npos);
  s.input_bytes = 4096;
  s.output_bytes = 2048;
  auto text = format_metrics(labels, s);
  EXPECT_EQ(sample(text, "partita_input_bytes_total"), "4096");
  EXPECT_EQ(sample(text, "partita_output_bytes_total"), "2048");
  EXPECT_EQ(text.find("partita_input_read_bytes_total"), std::string::npos);  // the ranks' figures come at the end

  // The final write adds what the ranks read and wrote (a speculative twin's second read included).
  partita::run_report rep;
  rep.workers.resize(2);
  rep.workers[0].input.bytes = 3000;
  rep.workers[1].input.bytes = 2096;
  rep.workers[0].output.bytes = 2048;
  add_final_figures(s, rep);
  text = format_metrics(labels, s);
  EXPECT_EQ(sample(text, "partita_input_read_bytes_total"), "5096");
  EXPECT_EQ(sample(text, "partita_output_written_bytes_total"), "2048");

  partita::run_report it;  // an iterative job's --output file
  it.model = partita::model_kind::iterative;
  it.iterative.output_file = "/tmp/out.h5";
  it.iterative.output_bytes = 777;
  metrics_snapshot t;
  add_final_figures(t, it);
  EXPECT_EQ(sample(format_metrics(labels, t), "partita_output_written_bytes_total"), "777");
  EXPECT_FALSE(t.input_read_bytes);
}

TEST(Scheduler_Metrics, PortServesTheSameTextOverHttpFromTheFirstWrite) {
  partita::output_options o;
  o.metrics_port = 0;  // any free port
  metrics_publisher p(o, labels);
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.serving_port(), 0);  // nothing listens before the first write (only the rank that writes listens)
  p.publish(two_ranks());
  ASSERT_GT(p.serving_port(), 0);
  httplib::Client client("127.0.0.1", p.serving_port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, p.text());
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  auto s = two_ranks();
  s.state = "completed";
  p.conclude(s);
  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(sample(res->body, "partita_job_state", "state=\"completed\""), "1");
}

TEST(Scheduler_Metrics, APortInUseIsReportedAndTheJobGoesOn) {
  partita::output_options o;
  o.metrics_port = 0;
  metrics_publisher first(o, labels);
  first.publish(two_ranks());
  ASSERT_GT(first.serving_port(), 0);
  o.metrics_port = first.serving_port();
  metrics_publisher second(o, labels);
  second.publish(two_ranks());  // logs one line, throws nothing
  EXPECT_EQ(second.serving_port(), 0);
  EXPECT_FALSE(second.due(clock::now() + std::chrono::hours(1)));
}

TEST(Scheduler_Metrics, HashLabelIsTheCheckpointsSpelling) { EXPECT_EQ(hash_label(0xdeadbeef), "0x00000000deadbeef"); }

}  // namespace
