#include <partita/scheduler/detail/metrics_text.hpp>

#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace partita::detail {

namespace {

// Label values may hold anything a job name holds: backslash, double quote and newline are escaped as the
// exposition format says.
std::string escaped(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Writes families one after another: HELP and TYPE once, then the samples, each with the job's labels.
class family_writer {
 public:
  explicit family_writer(const metrics_labels& l)
      : labels_(fmt::format("partita_job=\"{}\",model=\"{}\",params_hash=\"{}\"", escaped(l.job), escaped(l.model),
                            escaped(l.params_hash))) {}

  void family(const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  /// A sample of the family just opened; `extra` is more labels ("rank=\"3\"").
  void sample(const char* name, double value, const std::string& extra = {}) {
    // Prometheus reads Go floats: no "nan"/"inf" spelled the C way; the figures here are finite by construction,
    // and a non-finite one is written as 0 rather than make the whole file unreadable.
    if (!std::isfinite(value)) value = 0;
    fmt::format_to(std::back_inserter(out_), "{}{{{}{}{}}} {}\n", name, labels_, extra.empty() ? "" : ",", extra,
                   value);
  }
  void one(const char* name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(name, value);
  }
  /// A counter the model may not have (an empty figure writes nothing).
  void counter_if(const char* name, const char* help, const std::optional<std::uint64_t>& value) {
    if (value) one(name, "counter", help, static_cast<double>(*value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string labels_;
  std::string out_;
};

double num(std::uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string format_metrics(const metrics_labels& labels, const metrics_snapshot& s) {
  family_writer w(labels);
  w.family("partita_job_state", "gauge", "1 for the job's current state (running, completed, checkpointed, failed)");
  for (const char* st : {"running", "completed", "checkpointed", "failed"})
    w.sample("partita_job_state", s.state == st ? 1 : 0, fmt::format("state=\"{}\"", st));
  const auto unit = fmt::format("unit=\"{}\"", escaped(s.unit));
  w.family("partita_work_done", "gauge", "units of work done (partitions, or steps of an iterative job)");
  w.sample("partita_work_done", num(s.done), unit);
  w.family("partita_work_size", "gauge", "units of work in the job (partitions, or steps of an iterative job)");
  w.sample("partita_work_size", num(s.total), unit);
  w.family("partita_work_rate_per_second", "gauge", "units of work done per second in this run");
  w.sample("partita_work_rate_per_second", s.rate_per_second, unit);
  if (s.eta_seconds >= 0)
    w.one("partita_eta_seconds", "gauge", "seconds until the job is done at the current rate", s.eta_seconds);
  w.one("partita_elapsed_seconds", "gauge", "seconds since this run started", s.elapsed_seconds);
  w.one("partita_ranks", "gauge", "MPI ranks in the job", static_cast<double>(s.ranks.size()));
  w.family("partita_rank_busy_ratio", "gauge",
           "share of a rank's kernel threads' time spent in kernels over the last interval (whole run at the end)");
  for (std::size_t r = 0; r < s.ranks.size(); ++r)
    if (s.ranks[r].threads > 0)
      w.sample("partita_rank_busy_ratio", s.ranks[r].busy_fraction, fmt::format("rank=\"{}\"", r));
  w.family("partita_rank_busy_seconds_total", "counter", "kernel seconds of a rank so far, summed over its threads");
  for (std::size_t r = 0; r < s.ranks.size(); ++r)
    if (s.ranks[r].threads > 0)
      w.sample("partita_rank_busy_seconds_total", s.ranks[r].busy_seconds, fmt::format("rank=\"{}\"", r));
  w.counter_if("partita_chunks_total", "chunks of partitions handed out", s.chunks);
  w.counter_if("partita_messages_total", "work requests the scheduler answered", s.messages);
  w.one("partita_checkpoints_total", "counter", "checkpoints written", num(s.checkpoints));
  w.one("partita_checkpoint_seconds_total", "counter", "seconds spent writing checkpoints", s.checkpoint_seconds);
  w.one("partita_checkpoint_bytes_total", "counter", "bytes of checkpoints written", num(s.checkpoint_bytes));
  w.one("partita_lost_ranks_total", "counter", "ranks declared lost", num(s.lost_ranks));
  w.one("partita_failovers_total", "counter", "scheduler failovers in this run", num(s.failovers));
  w.one("partita_rollbacks_total", "counter", "in-job rollbacks to the last checkpoint", num(s.rollbacks));
  w.counter_if("partita_speculative_copies_total", "speculative copies of straggling partitions run",
               s.speculative_copies);
  w.counter_if("partita_speculative_copies_won_total", "speculative copies whose result was committed",
               s.speculative_won);
  w.counter_if("partita_taken_back_partitions_total", "queued partitions taken back from a busy rank for an idle one",
               s.taken_back);
  w.counter_if("partita_migrations_total", "partitions moved to another rank by rebalancing", s.migrations);
  w.counter_if("partita_input_bytes_total", "bytes of the declared input in the partitions done", s.input_bytes);
  w.counter_if("partita_output_bytes_total", "bytes of the declared output in the partitions done", s.output_bytes);
  w.counter_if("partita_input_read_bytes_total",
               "bytes the ranks read of the declared input, re-reads included (final write only)", s.input_read_bytes);
  w.counter_if("partita_output_written_bytes_total",
               "bytes the ranks wrote of the job's output, rewrites included (final write only)",
               s.output_written_bytes);
  w.one("partita_metrics_timestamp_seconds", "gauge", "Unix time these figures were taken", s.timestamp_seconds);
  return w.take();
}

}  // namespace partita::detail
