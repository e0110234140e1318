#include <partita/scheduler/detail/checkpoint_driver.hpp>

#include <fmt/format.h>

#include <partita/checkpoint/restart.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/signals.hpp>

namespace partita::detail {

std::optional<restart_point> find_restart(const checkpoint_options& c, const checkpoint_expectation& expect) {
  if (!c.restart) return std::nullopt;
  if (*c.restart != "auto") return restart_point{*c.restart, read_checkpoint(*c.restart, expect)};
  auto choice = select_restart(*c.checkpoint_dir, expect);  // logs what it passed over, or "starting fresh"
  if (!choice.file) return std::nullopt;
  return restart_point{*choice.file, std::move(*choice.image)};
}

checkpoint_driver::checkpoint_driver(const session& s, const checkpoint_options& config, const job_setup& setup,
                                     std::string job, double earlier_run_seconds, std::uint64_t progress_at_restore,
                                     checkpoint_role role)
    : role_(role), config_(config), setup_(setup), job_(std::move(job)), earlier_run_seconds_(earlier_run_seconds),
      schedule_(role == checkpoint_role::decides ? make_triggers(s) : checkpoint_triggers{}, setup.t0),
      progress_at_last_(progress_at_restore) {
  schedule_.resume_from(progress_at_restore);
  if (role_ == checkpoint_role::decides && config_.checkpoint_dir) {
    const auto newest = newest_epoch(*config_.checkpoint_dir, job_);
    next_epoch_ = newest ? newest->value + 1 : 1;
  }
}

checkpoint_triggers checkpoint_driver::make_triggers(const session& s) const {
  if (!config_.checkpoint_dir) return checkpoint_triggers{};
  checkpoint_triggers t;
  t.every_partitions = config_.checkpoint_every_partitions;
  t.every_seconds = config_.checkpoint_every_seconds;
  t.young_daly = config_.checkpoint_interval_auto;
  if (config_.walltime_seconds) t.seconds_left = *config_.walltime_seconds;
  else if (auto left = s.env().seconds_left()) t.seconds_left = *left;
  std::string source = " (from --mtti)";
  if (config_.mtti_seconds > 0) {
    t.mtti_seconds = config_.mtti_seconds;
  } else {
    t.mtti_seconds = 24 * 3600.0;
    source = " (assumed: no --mtti, and no interrupts in a failure history)";
    const double exposure = earlier_run_seconds_;
    const auto interrupts = count_interrupts(setup_.history);
    if (interrupts > 0 && exposure > 0) {
      t.mtti_seconds = exposure / static_cast<double>(interrupts);
      source = fmt::format(" (from the failure history: {} interrupt{} over {} s of this job's run time)", interrupts,
                           interrupts == 1 ? "" : "s", seconds_text(exposure));
    } else if (interrupts > 0) {
      source = fmt::format(" (assumed: the failure history has {} interrupt{} but no checkpoint tells this "
                           "job's run time yet)",
                           interrupts, interrupts == 1 ? "" : "s");
    }
  }
  if (t.young_daly)
    log().info("checkpoints at the Young/Daly interval: mean time to interrupt {} s{}, wall time {}",
               seconds_text(t.mtti_seconds), source,
               t.seconds_left ? fmt::format("{:.0f} s left", *t.seconds_left) : std::string("unlimited"));
  return t;
}

std::string checkpoint_driver::stop_signal() {
  const auto sig = pending_signal();
  if (sig == stop_signal::none) return "";
  const std::string name = sig == stop_signal::usr1 ? "SIGUSR1" : sig == stop_signal::usr2 ? "SIGUSR2" : "SIGTERM";
  if (!enabled()) {
    if (sig != stop_signal::term) {
      log().warn("{} received but there is no --checkpoint-dir: nothing to save, going on", name);
      clear_pending_signal();
      return "";
    }
    throw error("terminated by SIGTERM; nothing was saved (run with --checkpoint-dir to checkpoint on signals)");
  }
  clear_pending_signal();
  return name + " received";
}

std::string checkpoint_driver::due(std::uint64_t progress, clock::time_point now) {
  if (!enabled()) return "";
  if (now - last_check_ < std::chrono::milliseconds(20)) return "";
  last_check_ = now;
  return schedule_.due(progress, now);
}

std::string checkpoint_driver::due_now(std::uint64_t progress) {
  if (!enabled()) return "";
  last_check_ = clock::now();
  return schedule_.due(progress, last_check_);
}

bool checkpoint_driver::out_of_time() const { return schedule_.out_of_time(clock::now()); }

double checkpoint_driver::run_seconds() const { return earlier_run_seconds_ + since(setup_.t0); }

std::optional<commit_result> checkpoint_driver::write(MPI_Comm comm, checkpoint_image& img, const std::string& why,
                                                      checkpoint_need need, std::uint64_t progress,
                                                      const std::string& progress_text) {
  img.meta.job = job_;
  img.meta.epoch = epoch_t{next_epoch_};
  img.meta.rank_count = static_cast<int>(setup_.threads.size());
  const auto start = clock::now();
  try {
    const auto r = write_checkpoint(comm, store_options{*config_.checkpoint_dir, config_.keep}, img);
    ++next_epoch_;
    ++stats_.count;
    stats_.seconds += r.seconds;
    stats_.bytes += r.bytes;
    progress_at_last_ = progress;
    events_.push_back({"checkpoint", seconds_d(start - setup_.t0).count(), r.seconds,
                       fmt::format("checkpoint {} ({}): {}, {} bytes", r.file.filename().string(), why, progress_text,
                                   r.bytes)});
    log().info("checkpoint {} ({}): {}, {} bytes in {:.3f} s", r.file.string(), why, progress_text, r.bytes, r.seconds);
    if (auto line = schedule_.taken(r.seconds, progress, clock::now()); !line.empty()) log().info("{}", line);
    return r;
  } catch (const checkpoint_error& e) {
    if (need == checkpoint_need::required) throw;
    log().error("{}; the job goes on and tries again at the next checkpoint", e.what());
    schedule_.taken(since(start), progress, clock::now());
    return std::nullopt;
  }
}

std::optional<commit_result> checkpoint_driver::write_collective(MPI_Comm comm, checkpoint_image& img, epoch_t epoch,
                                                                 const std::string& why, checkpoint_need need,
                                                                 std::uint64_t progress,
                                                                 const std::string& progress_text) {
  if (role_ == checkpoint_role::decides) {
    if (epoch.value != next_epoch_)
      throw error(fmt::format("internal: a collective checkpoint numbered {} where {} is due", epoch.value,
                              next_epoch_));
    return write(comm, img, why, need, progress, progress_text);
  }
  img.meta.job = job_;
  img.meta.epoch = epoch;
  img.meta.rank_count = static_cast<int>(setup_.threads.size());
  try {
    return write_checkpoint(comm, store_options{*config_.checkpoint_dir, config_.keep}, img);
  } catch (const checkpoint_error& e) {
    if (need == checkpoint_need::required) throw remote_failure(e.what());  // the deciding rank reports it
    return std::nullopt;
  }
}

}  // namespace partita::detail
