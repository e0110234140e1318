// The smallest Partita program: start a session and say which rank this is.
#include <partita/runtime/session.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  partita::session s(argc, argv);
  std::printf("partita consumer: rank %d of %d\n", s.rank().value, s.size());
  return 0;
}
