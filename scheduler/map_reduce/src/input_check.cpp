#include <partita/scheduler/map_reduce/detail/input_check.hpp>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <partita/checkpoint/h5_lock.hpp>
#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/restart.hpp>
#include <partita/runtime/error.hpp>
#include <partita/scheduler/map_reduce/state.hpp>

namespace partita::detail {

void refuse_changed_input(const map_job_model& job, const run_config& config) {
  const auto& items = job.params().items();
  const bool has_input = std::any_of(items.begin(), items.end(),
                                     [](const auto& kv) { return kv.first.ends_with(".identity"); });
  if (!has_input || !config.restart) return;
  std::filesystem::path file;
  if (*config.restart != "auto") {
    file = *config.restart;
  } else {
    if (!config.checkpoint_dir) return;
    const auto newest = newest_epoch(*config.checkpoint_dir, job.name());
    if (!newest) return;
    file = *config.checkpoint_dir / fmt::format("{}.{}.h5", job.name(), newest->value);
  }
  std::string what;
  try {
    const auto hdf5 = h5_lock();
    const auto image = read_checkpoint_any_parameters(file, {job.name(), 0, map_reduce_state::model});
    const auto it = image.blobs.find(map_reduce_state::params_key);
    if (it == image.blobs.end()) return;
    what = changed_identities(std::string(reinterpret_cast<const char*>(it->second.data()), it->second.size()),
                              job.params());
  } catch (const error&) {
    return;  // unreadable: the restart itself says why (or passes over it)
  }
  if (what.empty()) return;
  throw usage_error(fmt::format("job '{}': its input changed since checkpoint {} ({}); restart with the input it was "
                                "made from, or start afresh (another --checkpoint-dir, or no --restart)",
                                job.name(), file.string(), what));
}

}  // namespace partita::detail
