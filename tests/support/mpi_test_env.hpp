#pragma once
/// Access to the process's session from inside MPI tests (set up by mpi_gtest_main.cpp).

#include <partita/runtime/session.hpp>

namespace partita::testing {
/// The session the MPI test main created; valid for the whole test run.
session& test_session();
}  // namespace partita::testing
