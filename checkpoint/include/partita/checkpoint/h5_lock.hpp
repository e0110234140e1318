#pragma once
/// One lock for every HDF5 call of a process. Debian's HDF5 is built without its thread-safety option: two threads
/// of one rank must never be inside HDF5 at once (docs/design.md, "Data in, data out"). The checkpoint writer and
/// reader hold it for a whole checkpoint; the data path's reader thread holds it for one block.
#include <mutex>

namespace partita {

/// Takes the process's HDF5 lock (recursive: a holder may call code that takes it again).
[[nodiscard]] std::unique_lock<std::recursive_mutex> h5_lock();

}  // namespace partita
