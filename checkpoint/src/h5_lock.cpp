#include <partita/checkpoint/h5_lock.hpp>

namespace partita {

std::unique_lock<std::recursive_mutex> h5_lock() {
  static std::recursive_mutex m;
  return std::unique_lock<std::recursive_mutex>(m);
}

}  // namespace partita
