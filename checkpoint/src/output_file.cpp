#include <partita/checkpoint/output_file.hpp>

#include <fmt/format.h>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/h5_lock.hpp>

namespace partita {

std::optional<std::string> output_file_problem(const std::filesystem::path& file, const std::string& job,
                                               std::uint64_t params_hash) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec) && !ec) return std::nullopt;
  if (std::filesystem::is_directory(file, ec)) return "is a directory";
  const auto hdf5 = h5_lock();
  checkpoint_meta meta;
  try {
    detail::checkpoint_file f(file);
    meta = f.read_meta();
  } catch (...) {
    return "exists and is not a Partita output file (" + detail::problem_of_current_exception() + ")";
  }
  if (meta.job != job) return fmt::format("holds the output of another job ('{}')", meta.job);
  if (meta.params_hash != params_hash)
    return fmt::format("holds the output of job '{}' with other parameters (hash {:#018x}, this run's {:#018x})", job,
                       meta.params_hash, params_hash);
  return std::nullopt;
}

}  // namespace partita
