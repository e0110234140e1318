# Helpers that register tests the same way everywhere.
#
# partita_add_unit_test(NAME n SOURCES ... [LIBS ...] [TIMEOUT s])
#   An in-process GoogleTest binary (gtest_main), label "unit".
# partita_add_mpi_test(NAME n SOURCES ... [LIBS ...] [RANKS 1 2 3 4] [TIMEOUT s] [ARGS ...])
#   A GoogleTest binary with Partita's MPI main (session up, verdict agreed across ranks), registered
#   once per rank count as n_np<R> under mpirun, label "mpi".
set(PARTITA_MPIRUN_FLAGS --oversubscribe --mca mpi_yield_when_idle 1 --mca btl self,vader,tcp --bind-to none
    CACHE STRING "Flags for mpirun in tests")
execute_process(COMMAND id -u OUTPUT_VARIABLE _partita_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_partita_uid STREQUAL "0")
  list(APPEND PARTITA_MPIRUN_FLAGS --allow-run-as-root)
endif()
set(PARTITA_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT PARTITA_MPIEXEC)
  set(PARTITA_MPIEXEC mpirun)
endif()
# The same as one string, for shell-script tests (passed through the environment as PARTITA_MPIRUN).
string(JOIN " " PARTITA_MPIRUN_COMMAND ${PARTITA_MPIEXEC} ${PARTITA_MPIRUN_FLAGS})

# `cmake --build <dir> --target partita_unit_tests` builds just the unit tests (the sanitizer build in
# tools/bootstrap.sh uses it, so it does not compile the MPI tests it will not run).
if(NOT TARGET partita_unit_tests)
  add_custom_target(partita_unit_tests)
endif()

function(partita_add_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest_main partita_warnings)
  add_dependencies(partita_unit_tests ${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS unit)
endfunction()

function(partita_add_mpi_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;RANKS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_RANKS)
    set(T_RANKS 1 2 3 4)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} partita_mpi_gtest_main partita_warnings)
  foreach(np ${T_RANKS})
    add_test(NAME ${T_NAME}_np${np}
             COMMAND ${PARTITA_MPIEXEC} ${PARTITA_MPIRUN_FLAGS} -n ${np} $<TARGET_FILE:${T_NAME}> ${T_ARGS})
    set_tests_properties(${T_NAME}_np${np} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS mpi PROCESSORS 2
                         ENVIRONMENT "OMPI_MCA_rmaps_base_oversubscribe=1")
  endforeach()
endfunction()
