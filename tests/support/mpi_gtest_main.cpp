// GoogleTest main for MPI tests: one session per process, every rank runs every test, and the exit
// code is agreed across ranks (an allreduce of the failure count) so mpirun reports one verdict.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>

#include <partita/runtime/session.hpp>

#include "mpi_test_env.hpp"

namespace partita::testing {
namespace {
session* the_session = nullptr;
}
session& test_session() { return *the_session; }

/// On ranks other than 0: no progress lines, but every failed assertion, named with its rank and test.
class failure_printer : public ::testing::EmptyTestEventListener {
 public:
  explicit failure_printer(int rank) : rank_(rank) {}
  // The test's name is taken here: during OnTestPartResult GoogleTest holds the lock current_test_info() needs.
  void OnTestStart(const ::testing::TestInfo& t) override { test_ = std::string(t.test_suite_name()) + "." + t.name(); }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s failed at %s:%d\n%s\n", rank_, test_.c_str(),
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
  }

 private:
  int rank_;
  std::string test_;
};
}  // namespace partita::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  partita::session s(argc, argv);
  partita::testing::the_session = &s;
  if (s.rank().value != 0) {
    // Only rank 0 prints progress; the others print their failures only.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new partita::testing::failure_printer(s.rank().value));
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, s.comm());
  if (any_failed && s.rank().value == 0) std::fprintf(stderr, "MPI test failed on at least one rank\n");
  partita::testing::the_session = nullptr;
  return any_failed;
}
