// MPI tests of the session: what the test main's session set up, and adopting an MPI that is already up.
#include <partita/runtime/session.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <partita/runtime/error.hpp>

#include "mpi_test_env.hpp"

namespace {

TEST(Runtime_Session, OwnsMpiAndADuplicateCommunicator) {
  const auto& s = partita::testing::test_session();
  EXPECT_TRUE(s.owns_mpi());
  ASSERT_NE(s.comm(), MPI_COMM_NULL);
  int cmp = MPI_UNEQUAL;
  MPI_Comm_compare(s.comm(), MPI_COMM_WORLD, &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);  // same ranks, distinct context: library traffic cannot meet user traffic
  int rank = -1, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(s.rank().value, rank);
  EXPECT_EQ(s.size(), size);
  EXPECT_GE(static_cast<int>(s.provided()), static_cast<int>(partita::thread_level::funneled));
}

TEST(Runtime_Session, ErrorsReturnOnBothCommunicators) {
  const auto& s = partita::testing::test_session();
  for (MPI_Comm c : {s.comm(), MPI_COMM_WORLD}) {
    MPI_Errhandler h = MPI_ERRHANDLER_NULL;
    ASSERT_EQ(MPI_Comm_get_errhandler(c, &h), MPI_SUCCESS);
    EXPECT_EQ(h, MPI_ERRORS_RETURN);
    MPI_Errhandler_free(&h);
  }
}

TEST(Runtime_Session, LaunchEnvironmentMatchesMpi) {
  // mpirun (Open MPI) sets OMPI_COMM_WORLD_*; the session read them before MPI_Init.
  const auto& s = partita::testing::test_session();
  if (s.env().kind == partita::launcher::none) GTEST_SKIP() << "not started by a known launcher";
  EXPECT_EQ(s.env().world_size, s.size());
  EXPECT_EQ(s.env().world_rank, s.rank().value);
  EXPECT_GE(s.env().cpus_per_rank, 1);
}

TEST(Runtime_Session, SecondSessionAdoptsMpiAndLeavesItRunning) {
  const auto& outer = partita::testing::test_session();
  {
    partita::session inner(partita::session_options{partita::thread_level::single, false});
    EXPECT_FALSE(inner.owns_mpi());
    EXPECT_EQ(inner.rank(), outer.rank());
    EXPECT_EQ(inner.size(), outer.size());
    EXPECT_NE(inner.comm(), outer.comm());
    int cmp = MPI_UNEQUAL;
    MPI_Comm_compare(inner.comm(), outer.comm(), &cmp);
    EXPECT_EQ(cmp, MPI_CONGRUENT);
  }
  int finalized = 1;
  MPI_Finalized(&finalized);
  EXPECT_EQ(finalized, 0) << "an adopting session finalised MPI";
  EXPECT_EQ(MPI_Barrier(outer.comm()), MPI_SUCCESS);
}

TEST(Runtime_Session, FirstRankMarksTheJobStartedInTheNamedFile) {
  // slurm/partita-launch.sh tells a run that failed to start from one that failed while running by this file.
  const auto& outer = partita::testing::test_session();
  long base = static_cast<long>(::getpid());
  ASSERT_EQ(MPI_Bcast(&base, 1, MPI_LONG, 0, outer.comm()), MPI_SUCCESS);
  // A name per rank, so that a rank other than the first writing would show.
  const auto file = std::filesystem::temp_directory_path() /
                    ("partita-started-test." + std::to_string(base) + "." + std::to_string(outer.rank().value));
  std::filesystem::remove(file);
  ::setenv("PARTITA_STARTED_FILE", file.c_str(), 1);
  { partita::session inner(partita::session_options{partita::thread_level::single, false}); }
  ::unsetenv("PARTITA_STARTED_FILE");
  EXPECT_EQ(std::filesystem::exists(file), outer.rank().value == 0);
  std::filesystem::remove(file);
  EXPECT_EQ(MPI_Barrier(outer.comm()), MPI_SUCCESS);
}

TEST(Runtime_Session, AdoptingWithTooLittleThreadSupportThrows) {
  const auto& outer = partita::testing::test_session();
  if (outer.provided() == partita::thread_level::multiple) GTEST_SKIP() << "MPI gave MPI_THREAD_MULTIPLE";
  // Every rank sees the same provided level and throws before any collective, so none hangs.
  EXPECT_THROW(partita::session(partita::session_options{partita::thread_level::multiple, false}), partita::error);
  EXPECT_EQ(MPI_Barrier(outer.comm()), MPI_SUCCESS);
}

}  // namespace
