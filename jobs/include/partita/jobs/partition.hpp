#pragma once
/// One unit of work as a kernel sees it: its id, a cost hint and a payload.

#include <string>

#include <partita/runtime/ids.hpp>

namespace partita {

/// A partition of a map/reduce job. Value type. Ids are dense (0..N-1): the id is also the order in which
/// results are combined.
struct partition {
  partition_id id{0};
  double cost_hint = 0;  ///< relative cost estimate for the `cost` policy; 0 = unknown
  std::string payload;   ///< whatever the kernel needs (a file name, a tile, parameters)
};

}  // namespace partita
