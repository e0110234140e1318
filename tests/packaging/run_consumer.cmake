# Driven by the packaging_consumer test (cmake -P). Every step must succeed or the test fails with the
# step's output. Inputs: BUILD_DIR WORK_DIR CONSUMER_SRC CXX_COMPILER C_COMPILER GENERATOR MPIEXEC MPIRUN_FLAGS.
set(prefix ${WORK_DIR}/prefix)
set(cbuild ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packaging: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "packaging: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("cmake --install into ${prefix}" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/partita/runtime/session.hpp lib/cmake/partita/partitaConfig.cmake
          lib/cmake/partita/partitaConfigVersion.cmake lib/cmake/partita/partitaTargets.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "packaging: the install tree has no ${f}")
  endif()
endforeach()

# Only the install prefix is on the search path: the consumer must not find the build tree.
step("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SRC} -B ${cbuild} -G ${GENERATOR}
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_C_COMPILER=${C_COMPILER})
step("build the consumer" ${CMAKE_COMMAND} --build ${cbuild})
step("run the consumer under mpirun -n 2" ${MPIEXEC} ${MPIRUN_FLAGS} -n 2 ${cbuild}/consumer)
message("${step_output}")
foreach(r 0 1)
  if(NOT step_output MATCHES "partita consumer: rank ${r} of 2")
    message(FATAL_ERROR "packaging: the consumer did not report rank ${r} of 2; it printed:\n${step_output}")
  endif()
endforeach()
