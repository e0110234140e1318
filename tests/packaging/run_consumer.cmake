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
          lib/cmake/partita/partitaConfigVersion.cmake lib/cmake/partita/partitaTargets.cmake bin/partita
          bin/partita-launch share/partita/slurm/partita.sbatch share/partita/slurm/partita-sweep.sbatch)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "packaging: the install tree has no ${f}")
  endif()
endforeach()

# Only the install prefix is on the search path: the consumer must not find the build tree.
step("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SRC} -B ${cbuild} -G ${GENERATOR}
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_C_COMPILER=${C_COMPILER} -DANSCOMBE_SRC=${ANSCOMBE_SRC})
step("build the consumer" ${CMAKE_COMMAND} --build ${cbuild})
step("run the consumer under mpirun -n 2" ${MPIEXEC} ${MPIRUN_FLAGS} -n 2 ${cbuild}/consumer)
message("${step_output}")
foreach(r 0 1)
  if(NOT step_output MATCHES "partita consumer: rank ${r} of 2")
    message(FATAL_ERROR "packaging: the consumer did not report rank ${r} of 2; it printed:\n${step_output}")
  endif()
endforeach()

# The data-path example built against the install tree: an input made with the CLI, the output complete and the
# result line the one the build tree's example prints (tests/examples/anscombe.sh checks its values with h5py).
step("make an input with partita make-input" ${BUILD_DIR}/bin/partita make-input ${WORK_DIR}/in.h5 --dataset /x
     --rows 400 --cols 8 --chunk-rows 20 --seed 3)
step("run the installed-package anscombe under mpirun -n 2" ${MPIEXEC} ${MPIRUN_FLAGS} -n 2 ${cbuild}/anscombe --quiet
     --param file=${WORK_DIR}/in.h5 --param output=${WORK_DIR}/out.h5 --param partition_mib=0.01)
string(REGEX MATCH "anscombe: [^\n]*" installed "${step_output}")
if(NOT installed MATCHES "^anscombe: 3200 elements of .*, output sum [0-9.e+-]+$")
  message(FATAL_ERROR "packaging: the installed-package anscombe printed no result line:\n${step_output}")
endif()
if(EXISTS ${BUILD_DIR}/bin/example_anscombe)  # a build with PARTITA_BUILD_EXAMPLES=OFF has none to compare with
  step("run the build tree's example_anscombe" ${MPIEXEC} ${MPIRUN_FLAGS} -n 1 ${BUILD_DIR}/bin/example_anscombe --quiet
       --param file=${WORK_DIR}/in.h5 --param output=${WORK_DIR}/out1.h5 --param partition_mib=0.01)
  string(REGEX MATCH "anscombe: [^\n]*" built "${step_output}")
  string(REPLACE "out1.h5" "out.h5" built "${built}")
  if(NOT installed STREQUAL built)
    message(FATAL_ERROR "packaging: the installed-package anscombe printed\n${installed}\nthe build tree's printed\n${built}")
  endif()
endif()
message("${installed}")

# As an operator runs it: the installed job through the installed launcher (mpirun, 2 ranks), its scheduler rank
# killed once (--inject records itself in the failure history, so the relaunch runs to the end) and relaunched by
# the launcher with --restart auto; the result line is the uninterrupted run's and the output verifies.
string(JOIN " " mpirun_args ${MPIRUN_FLAGS})
step("make a larger input" ${BUILD_DIR}/bin/partita make-input ${WORK_DIR}/in2.h5 --dataset /x --rows 4000 --cols 8
     --chunk-rows 20 --seed 5)
set(job_args --quiet --param file=${WORK_DIR}/in2.h5 --param partition_mib=0.002)  # 200 partitions of one chunk
step("the uninterrupted run" ${MPIEXEC} ${MPIRUN_FLAGS} -n 2 ${cbuild}/anscombe ${job_args}
     --param output=${WORK_DIR}/ref.h5)
string(REGEX MATCH "anscombe: [^\n]*" reference "${step_output}")
step("the installed partita-launch relaunches the installed-package anscombe after a kill"
     ${prefix}/bin/partita-launch --via mpirun -n 2 --mpirun-args "${mpirun_args}" --history ${WORK_DIR}/ck/history
     --recheck-delay 0 -- ${cbuild}/anscombe ${job_args} --param output=${WORK_DIR}/out2.h5
     --checkpoint-dir ${WORK_DIR}/ck --checkpoint-every 20 --failure-history ${WORK_DIR}/ck/history
     --inject kill:scheduler:after=50)
string(REGEX MATCH "anscombe: [^\n]*" launched "${step_output}")
string(REPLACE "out2.h5" "ref.h5" launched "${launched}")
if(NOT launched STREQUAL reference OR reference STREQUAL "")
  message(FATAL_ERROR "packaging: through partita-launch the job printed\n${launched}\nwithout it\n${reference}\n${step_output}")
endif()
if(NOT step_output MATCHES "relaunch")
  message(FATAL_ERROR "packaging: the launcher did not relaunch the killed job:\n${step_output}")
endif()
step("partita verify on the relaunched job's output" ${prefix}/bin/partita verify ${WORK_DIR}/out2.h5)
message("${launched}")
