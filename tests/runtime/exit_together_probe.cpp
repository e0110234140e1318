// Probe for partita::exit_together: every rank hits a "usage error" before MPI starts.
//   exit_together_probe slow-first   rank 0 reaches the error 500 ms after the others
//   exit_together_probe one-missing  the last rank never calls it (it sleeps); the others leave anyway
#include <chrono>
#include <cstring>
#include <thread>

#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/session.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const char* mode = argc > 1 ? argv[1] : "slow-first";
  const auto env = partita::read_launch_env();
  const int rank = env.world_rank.value_or(0);
  const int size = env.world_size.value_or(1);
  if (std::strcmp(mode, "slow-first") == 0) {
    if (rank == 0) std::this_thread::sleep_for(500ms);
    partita::exit_together(2, "probe: error: the message of the first rank");
  }
  if (rank == size - 1 && size > 1) {
    std::this_thread::sleep_for(60s);  // a rank that disagrees; mpirun kills it when the others leave
    return 0;
  }
  partita::exit_together(2, "probe: error: the message of the first rank", 1500ms);
}
