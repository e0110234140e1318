#pragma once
/// One partition's block of a declared input dataset, as read by its rank (docs/design.md, "Map/reduce data path").

#include <cstdint>
#include <vector>

#include <partita/checkpoint/data_type.hpp>
#include <partita/runtime/block_bytes.hpp>
#include <partita/runtime/serialize.hpp>

namespace partita {

/// Rows [first_row, first_row + shape[0]) of a dataset, row-major, in the native layout of `type`, in a page-aligned
/// buffer (an output block may be written from it with O_DIRECT). Value type.
struct input_block {
  data_type type = data_type::float64;
  std::uint64_t first_row = 0;
  std::vector<std::uint64_t> shape;  ///< the block's shape: its rows first, then the dataset's other axes
  block_bytes data;
};

/// What a rank's reader did: bytes and blocks read, seconds inside the reads, blocks ready before their kernel
/// asked (read-ahead hits). Plain data.
struct input_stats {
  std::uint64_t bytes = 0;
  std::uint64_t partitions = 0;
  double seconds = 0;
  std::uint64_t hits = 0;
};

/// What a rank wrote of a declared per-partition output: bytes and blocks written (a speculative twin's block
/// counts on the rank that wrote it), seconds inside the writes (pwrite and fdatasync), and how many of the bytes went
/// to the disk with O_DIRECT (the others through the page cache). Plain data.
struct output_stats {
  std::uint64_t bytes = 0;
  std::uint64_t partitions = 0;
  double seconds = 0;
  std::uint64_t direct_bytes = 0;
};

}  // namespace partita
