#pragma once
/// Where a map/reduce output file keeps its record (block_output.hpp): written by block_output.cpp, read by
/// output_check.cpp (partita verify and inspect).

namespace partita::detail {

inline constexpr const char* output_committed_path = "/partita/committed";  ///< uint8 [partitions]
inline constexpr const char* output_crc_path = "/partita/block_crc32";      ///< uint32 [partitions]

}  // namespace partita::detail
