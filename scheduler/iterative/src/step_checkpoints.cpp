#include <partita/scheduler/iterative/detail/step_checkpoints.hpp>

#include <fmt/format.h>

#include <partita/scheduler/detail/timing.hpp>

namespace partita::detail {

void step_checkpoints::decide(step_control& control, std::uint64_t next_step) {
  std::string why = driver_.stop_signal();
  bool stop = !why.empty();
  if (!stop && driver_.enabled() && driver_.out_of_time()) {
    why = "the wall time runs out";
    stop = true;
  }
  if (!stop) why = driver_.due_now(next_step);
  if (!why.empty()) {
    control.action = stop ? boundary_action::checkpoint_and_stop : boundary_action::checkpoint;
    control.epoch = driver_.next_epoch();
    reason_ = why;
  }
}

void step_checkpoints::write(MPI_Comm comm, checkpoint_image& image, std::uint64_t state_bytes,
                             const step_control& control, std::uint64_t steps, stall_watchdog& watchdog) {
  int ranks = 1;
  PARTITA_MPI(MPI_Comm_size(comm, &ranks));
  // A collective write with a dead peer never returns; a large one on a slow file system takes its time. The
  // watchdog allows the job's whole state (about this rank's times the ranks) at 20 MB/s, and ten times what the
  // last write here took, on top of its limit for a write.
  const double allowance = static_cast<double>(state_bytes) * ranks / 20e6 + 10 * last_write_seconds_;
  watchdog.pet_write("writing a checkpoint (collective)", allowance);
  const bool stop = control.action == boundary_action::checkpoint_and_stop;
  const auto need = stop ? checkpoint_need::required : checkpoint_need::optional;
  struct timed {  // however the write ends
    double& out;
    clock::time_point t = clock::now();
    ~timed() { out = since(t); }
  } note_time{last_write_seconds_};
  driver_.write_collective(comm, image, control.epoch, reason_.empty() ? "every N steps" : reason_, need, steps,
                           fmt::format("step {}", steps));
  if (!stop) reason_.clear();
}

}  // namespace partita::detail
