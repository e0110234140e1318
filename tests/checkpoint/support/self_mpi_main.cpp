// GoogleTest main for checkpoint unit tests that write with MPI_COMM_SELF: a partita::session starts MPI as a
// singleton (no mpirun needed), without signal handlers, for the whole run.
#include <gtest/gtest.h>

#include <partita/runtime/session.hpp>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  partita::session_options opts;
  opts.catch_signals = false;
  partita::session s(argc, argv, opts);
  return RUN_ALL_TESTS();
}
