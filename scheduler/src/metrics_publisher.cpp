#include <partita/scheduler/detail/metrics_publisher.hpp>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include <partita/runtime/log.hpp>

namespace partita::detail {

metrics_publisher::metrics_publisher(const output_options& o, metrics_labels labels)
    : labels_(std::move(labels)), interval_(o.metrics_interval_seconds), port_(o.metrics_port),
      address_(o.metrics_address) {
  if (o.metrics_file) file_ = std::make_unique<metrics_file>(*o.metrics_file);
  on_ = file_ || port_;
  if (on_) next_ = clock::now();  // a first write at once: a scraper sees the job from its start
}

void metrics_publisher::publish(metrics_snapshot snap, clock::time_point now) {
  if (!on_) return;
  const double dt = last_ ? seconds_d(now - *last_).count() : 0;
  last_busy_.resize(snap.ranks.size(), 0.0);
  for (std::size_t r = 0; r < snap.ranks.size(); ++r) {
    auto& rank = snap.ranks[r];
    const double delta = rank.busy_seconds - last_busy_[r];
    // Busy time is credited when a partition's result arrives, so an interval can be credited with more than it
    // lasted (a long partition that began before it): clamped to 1.
    rank.busy_fraction = rank.threads > 0 && dt > 0 ? std::clamp(delta / (rank.threads * dt), 0.0, 1.0) : 0.0;
    last_busy_[r] = rank.busy_seconds;
  }
  last_ = now;
  next_ += to_ns(interval_);
  if (next_ <= now) next_ = now + to_ns(interval_);  // late by more than an interval: start the cadence again
  write(snap);
}

void metrics_publisher::conclude(metrics_snapshot snap) {
  if (!on_) return;
  write(snap);
  next_ = clock::time_point::max();
}

void metrics_publisher::fail() noexcept {
  if (!on_ || !last_snap_ || last_snap_->state != "running") return;
  try {
    auto snap = *last_snap_;
    snap.state = "failed";
    snap.timestamp_seconds = 0;
    write(snap);
    next_ = clock::time_point::max();
  } catch (...) {  // metrics never fail a job, nor add to a failure
  }
}

void metrics_publisher::note_rollback(std::uint64_t lost_ranks) {
  ++rollbacks_;
  lost_ranks_ += lost_ranks;
}

void metrics_publisher::write(metrics_snapshot& snap) {
  snap.rollbacks = std::max(snap.rollbacks, rollbacks_);
  snap.lost_ranks = std::max(snap.lost_ranks, lost_ranks_);
  if (snap.timestamp_seconds == 0) snap.timestamp_seconds = unix_seconds_now();
  text_ = format_metrics(labels_, snap);
  last_snap_ = snap;
  if (port_) {  // started here, on the rank that writes; a port that cannot be had is reported once
    std::string problem;
    server_ = metrics_server::start(address_, *port_, problem);
    if (!server_)
      log().warn("metrics: {}; the job goes on without serving metrics (fix: choose a free --metrics-port or another "
                 "--metrics-address)",
                 problem);
    else log().info("metrics: serving http://{}:{}/metrics", address_, server_->port());
    port_.reset();
  }
  if (server_) server_->set(text_);
  if (file_ && !file_->write(text_)) file_.reset();  // reported once; the job goes on without the file
  if (!file_ && !server_) next_ = clock::time_point::max();
}

void add_final_figures(metrics_snapshot& snap, const run_report& rep) {
  snap.state = rep.status == run_status::completed ? "completed" : "checkpointed";
  snap.elapsed_seconds = rep.wall_seconds;
  snap.ranks.assign(rep.workers.size(), {});
  std::uint64_t lost = 0;
  for (std::size_t r = 0; r < rep.workers.size(); ++r) {
    const auto& w = rep.workers[r];
    auto& m = snap.ranks[r];
    m.threads = w.threads;
    m.busy_seconds = w.busy_seconds;
    const double capacity = static_cast<double>(w.threads) * rep.wall_seconds;
    m.busy_fraction = capacity > 0 ? std::clamp(w.busy_seconds / capacity, 0.0, 1.0) : 0.0;
    lost += w.lost ? 1 : 0;
  }
  snap.checkpoints = rep.checkpoints;
  snap.checkpoint_seconds = rep.checkpoint_seconds;
  snap.checkpoint_bytes = rep.checkpoint_bytes;
  if (rep.model == model_kind::map_reduce) {
    snap.chunks = rep.chunks;
    snap.messages = rep.dispatches;
    snap.speculative_copies = rep.map_reduce.speculative_copies;
    snap.speculative_won = rep.map_reduce.speculative_won;
    snap.taken_back = rep.map_reduce.taken_back;
    snap.failovers = std::max<std::uint64_t>(snap.failovers, rep.map_reduce.failovers.size());
  } else {
    snap.migrations = rep.iterative.migrations;
    snap.rollbacks = rep.iterative.rollbacks.size();
    for (const auto& rb : rep.iterative.rollbacks) lost += rb.lost_ranks.size();
  }
  snap.lost_ranks = std::max(snap.lost_ranks, lost);
  std::uint64_t read = 0, written = 0;
  for (const auto& w : rep.workers) {
    read += w.input.bytes;
    written += w.output.bytes;
  }
  if (snap.input_bytes) snap.input_read_bytes = read;
  if (snap.output_bytes) snap.output_written_bytes = written;
  if (!rep.iterative.output_file.empty()) snap.output_written_bytes = rep.iterative.output_bytes;
}

std::string hash_label(std::uint64_t hash) { return fmt::format("{:#018x}", hash); }

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace partita::detail
