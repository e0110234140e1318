// Tests of the error hierarchy and the PARTITA_MPI checker (needs a live MPI: run under mpirun).
#include <partita/runtime/error.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <string>

#include "mpi_test_env.hpp"

namespace {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<std::size_t>(len));
}

TEST(Runtime_Error, FailingMpiCallThrowsMpiErrorWithCallAndMpiText) {
  // The session set MPI_ERRORS_RETURN on MPI_COMM_WORLD, which is where errors on MPI_COMM_NULL are raised.
  MPI_Errhandler handler = MPI_ERRHANDLER_NULL;
  ASSERT_EQ(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &handler), MPI_SUCCESS);
  ASSERT_EQ(handler, MPI_ERRORS_RETURN);
  MPI_Errhandler_free(&handler);

  int r = -1;
  try {
    PARTITA_MPI(MPI_Comm_rank(MPI_COMM_NULL, &r));
    FAIL() << "PARTITA_MPI did not throw";
  } catch (const partita::mpi_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.call(), "MPI_Comm_rank(MPI_COMM_NULL, &r)");
    EXPECT_NE(what.find("MPI_Comm_rank(MPI_COMM_NULL, &r)"), std::string::npos) << what;
    EXPECT_NE(e.code(), MPI_SUCCESS);
    const std::string text = mpi_error_string(e.code());
    ASSERT_FALSE(text.empty());
    EXPECT_NE(what.find(text), std::string::npos) << what;
    int cls = MPI_SUCCESS;
    MPI_Error_class(e.code(), &cls);
    EXPECT_EQ(cls, MPI_ERR_COMM);
  }
}

TEST(Runtime_Error, FailingCallOnSessionCommThrows) {
  auto& s = partita::testing::test_session();
  int value = 0;
  // A root outside the communicator: MPI_ERR_ROOT, returned because the session's comm returns errors.
  EXPECT_THROW(PARTITA_MPI(MPI_Bcast(&value, 1, MPI_INT, s.size() + 5, s.comm())), partita::mpi_error);
  // And the comm is still usable afterwards.
  EXPECT_NO_THROW(PARTITA_MPI(MPI_Barrier(s.comm())));
}

TEST(Runtime_Error, SuccessfulCallDoesNotThrow) {
  int r = -1;
  EXPECT_NO_THROW(PARTITA_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &r)));
  EXPECT_GE(r, 0);
}

TEST(Runtime_Error, MacroEvaluatesTheCallOnce) {
  int calls = 0;
  auto counted = [&] {
    ++calls;
    return MPI_SUCCESS;
  };
  PARTITA_MPI(counted());
  EXPECT_EQ(calls, 1);
}

TEST(Runtime_Error, HierarchyIsRootedAtPartitaError) {
  EXPECT_THROW(throw partita::usage_error("bad flag"), partita::error);
  EXPECT_THROW(throw partita::mpi_error("MPI_Send(...)", MPI_ERR_RANK), partita::error);
  EXPECT_THROW(throw partita::hdf5_error("H5Fopen(f)", "no such file"), partita::error);
  EXPECT_THROW(throw partita::checkpoint_error("a.h5", "torn"), partita::error);
  EXPECT_THROW(throw partita::kernel_error("wordcount", 3, "boom"), partita::error);
  EXPECT_THROW(throw partita::remote_failure("rank 2 failed"), partita::error);

  partita::kernel_error k("wordcount", 17, "boom");
  EXPECT_EQ(k.job(), "wordcount");
  EXPECT_EQ(k.partition(), 17u);
  const std::string kw = k.what();
  for (const char* part : {"wordcount", "17", "boom"}) EXPECT_NE(kw.find(part), std::string::npos) << kw;

  partita::hdf5_error h("H5Dread(ds)", "");
  EXPECT_NE(std::string(h.what()).find("H5Dread(ds)"), std::string::npos);
  partita::checkpoint_error c("run/ckpt_7.h5", "checksum mismatch");
  EXPECT_EQ(c.file(), "run/ckpt_7.h5");
  EXPECT_NE(std::string(c.what()).find("checksum mismatch"), std::string::npos);
}

}  // namespace
