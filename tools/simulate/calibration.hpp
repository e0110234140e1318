#pragma once
/// Message costs and scheduler service times measured on a real machine (bench_calibrate's output), read from a
/// key=value file.

#include <filesystem>
#include <string>

namespace partita::simulate {

/// Every figure in seconds or bytes per second. The defaults are the figures of the machine the model was
/// validated on (docs/design.md, "Model of large runs"); a calibration file replaces them.
struct calibration {
  double latency_s = 2e-6;     ///< one-way MPI latency of a small message between two ranks of a node
  double bandwidth_Bps = 5e9;  ///< MPI bandwidth between two ranks of a node
  double message_s = 4e-6;     ///< scheduler time per message beyond the dispatcher's own work
  double complete_s = 30e-9;   ///< dispatcher::complete() per result
  double assign_s = 200e-9;    ///< dispatcher::assign() per chunk handed out
  double result_s = 50e-9;     ///< per result carried in a message: decode and fold, beyond complete()
  double partition_s = 1e-6;   ///< a worker thread's own time per partition beyond the kernel (executor)
  std::string source = "built-in defaults";

  /// A scheduler's time to commit one result carried one by one, or one folded block: complete() plus decode and fold.
  double per_result_s() const { return complete_s + result_s; }
  /// Per-message service time of a scheduler that commits `results` results (`decoded` of them carried one by
  /// one, the rest as combined blocks) and hands out `chunks` chunks.
  double service(std::uint64_t results, std::uint64_t decoded, std::uint64_t chunks) const {
    return message_s + complete_s * static_cast<double>(results) + result_s * static_cast<double>(decoded) +
           assign_s * static_cast<double>(chunks);
  }
};

/// Reads `key=value` lines ('#' starts a comment; unknown keys are ignored so that a calibration file may carry
/// more figures). Throws partita::usage_error naming the file and the line when a value is not a positive number.
calibration read_calibration(const std::filesystem::path& file);

}  // namespace partita::simulate
