// GoogleTest main for MPI tests: one session per process, every rank runs every test, and the exit
// code is agreed across ranks (an allreduce of the failure count) so mpirun reports one verdict.
#include <gtest/gtest.h>
#include <mpi.h>

#include <partita/runtime/session.hpp>

#include "mpi_test_env.hpp"

namespace partita::testing {
namespace {
session* the_session = nullptr;
}
session& test_session() { return *the_session; }
}  // namespace partita::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  partita::session s(argc, argv);
  partita::testing::the_session = &s;
  if (s.rank().value != 0) {
    // Only rank 0 prints progress; the others still print failures.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, s.comm());
  if (any_failed && s.rank().value == 0) std::fprintf(stderr, "MPI test failed on at least one rank\n");
  partita::testing::the_session = nullptr;
  return any_failed;
}
