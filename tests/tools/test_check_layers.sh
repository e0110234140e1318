#!/usr/bin/env bash
# Proves that tools/check_layers.sh bites: it passes a clean fake tree and fails, naming file:line, on
# each kind of back edge planted in a temporary copy of that tree.
#   test_check_layers.sh <path to check_layers.sh>
set -uo pipefail

checker="${1:?usage: test_check_layers.sh <check_layers.sh>}"
work="$(mktemp -d "${TMPDIR:-/tmp}/partita_layers.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A tiny clean tree: every layer includes and links only layers below it; comments may mention any layer.
make_clean_tree() {
  local t="$1"
  mkdir -p "$t"/{runtime,checkpoint,scheduler,jobs}/{include/partita,src}
  mkdir -p "$t/runtime/include/partita/runtime" "$t/checkpoint/include/partita/checkpoint" \
           "$t/scheduler/include/partita/scheduler" "$t/jobs/include/partita/jobs"
  printf '#pragma once\n#include <vector>\nnamespace partita { struct session {}; }\n' \
    >"$t/runtime/include/partita/runtime/session.hpp"
  printf '#include <partita/runtime/session.hpp>\n// The scheduler (partita/scheduler/) reads this; see partita::jobs.\n' \
    >"$t/runtime/src/session.cpp"
  printf '# partita::runtime, used by partita::checkpoint and partita::jobs\npartita_layer(runtime SOURCES src/session.cpp PUBLIC_DEPS MPI::MPI_C)\n' \
    >"$t/runtime/CMakeLists.txt"
  printf '#pragma once\n#include <partita/runtime/session.hpp>\n#include "partita/runtime.hpp"\n' \
    >"$t/checkpoint/include/partita/checkpoint/writer.hpp"
  printf 'partita_layer(checkpoint SOURCES src/writer.cpp PUBLIC_DEPS partita::runtime partita_hdf5)\n' \
    >"$t/checkpoint/CMakeLists.txt"
  printf '#pragma once\n#include <partita/checkpoint/writer.hpp>\n#include <partita/runtime/session.hpp>\n' \
    >"$t/scheduler/include/partita/scheduler/policy.hpp"
  printf 'partita_layer(scheduler SOURCES src/policy.cpp PUBLIC_DEPS partita::checkpoint partita_runtime)\n' \
    >"$t/scheduler/CMakeLists.txt"
  # The two job models inside scheduler/ stand on the machinery; the umbrella header brings all three together.
  mkdir -p "$t/scheduler/map_reduce/include/partita/scheduler/map_reduce" "$t/scheduler/map_reduce/src" \
           "$t/scheduler/iterative/include/partita/scheduler/iterative" "$t/scheduler/iterative/src"
  printf '#pragma once\n#include <partita/scheduler/policy.hpp>\n' \
    >"$t/scheduler/map_reduce/include/partita/scheduler/map_reduce/dispatcher.hpp"
  printf '#include <partita/scheduler/map_reduce/dispatcher.hpp>\n' >"$t/scheduler/map_reduce/src/dispatcher.cpp"
  printf 'partita_layer(map_reduce SOURCES src/dispatcher.cpp PUBLIC_DEPS partita::job_machinery)\n' \
    >"$t/scheduler/map_reduce/CMakeLists.txt"
  printf '#pragma once\n#include <partita/scheduler/policy.hpp>\n' \
    >"$t/scheduler/iterative/include/partita/scheduler/iterative/run.hpp"
  printf '#include <partita/scheduler/iterative/run.hpp>\n' >"$t/scheduler/iterative/src/run.cpp"
  printf 'partita_layer(iterative SOURCES src/run.cpp PUBLIC_DEPS partita::job_machinery)\n' \
    >"$t/scheduler/iterative/CMakeLists.txt"
  printf '#pragma once\n#include <partita/scheduler/map_reduce/dispatcher.hpp>\n#include <partita/scheduler/iterative/run.hpp>\n' \
    >"$t/scheduler/include/partita/scheduler.hpp"
  printf 'add_subdirectory(map_reduce)\nadd_subdirectory(iterative)\ntarget_link_libraries(partita_scheduler INTERFACE partita::map_reduce partita::iterative)\n' \
    >>"$t/scheduler/CMakeLists.txt"
  printf '#pragma once\n#include <partita/scheduler/policy.hpp>\n#include <partita/scheduler/iterative/run.hpp>\n' \
    >"$t/jobs/include/partita/jobs/job.hpp"
  printf 'partita_layer(jobs SOURCES src/registry.cpp PUBLIC_DEPS partita::scheduler)\n' >"$t/jobs/CMakeLists.txt"
}

# expect_clean <tree>
expect_clean() {
  local out rc
  out="$("$checker" "$1" 2>&1)"; rc=$?
  [[ $rc -eq 0 ]] || fail "clean tree rejected (rc $rc): $out"
}

# expect_back_edge <description> <expected file:line> <command that plants the edge in $tree>
case_no=0
expect_back_edge() {
  local what="$1" where="$2" plant="$3" out rc tree
  case_no=$((case_no + 1))
  tree="$work/case$case_no"
  make_clean_tree "$tree"
  (cd "$tree" && eval "$plant")
  out="$("$checker" "$tree" 2>&1)"; rc=$?
  if [[ $rc -ne 1 ]]; then
    fail "$what: expected exit 1, got $rc; output: $out"
  elif ! grep -qF "$where" <<<"$out"; then
    fail "$what: output does not name $where: $out"
  else
    echo "ok: $what -> $(grep -F "$where" <<<"$out" | head -1)"
  fi
}

make_clean_tree "$work/clean"
expect_clean "$work/clean"

expect_back_edge "runtime header includes scheduler" "runtime/include/partita/runtime/session.hpp:4:" \
  "printf '#include <partita/scheduler/policy.hpp>\n' >>runtime/include/partita/runtime/session.hpp"
expect_back_edge "runtime source includes jobs with quotes" "runtime/src/session.cpp:3:" \
  "printf '#  include \"partita/jobs/job.hpp\"\n' >>runtime/src/session.cpp"
expect_back_edge "runtime includes the checkpoint umbrella header" "runtime/src/session.cpp:3:" \
  "printf '#include <partita/checkpoint.hpp>\n' >>runtime/src/session.cpp"
expect_back_edge "checkpoint includes scheduler" "checkpoint/include/partita/checkpoint/writer.hpp:4:" \
  "printf '#include <partita/scheduler/policy.hpp>\n' >>checkpoint/include/partita/checkpoint/writer.hpp"
expect_back_edge "checkpoint detail header includes jobs" "checkpoint/include/partita/checkpoint/detail/x.hpp:2:" \
  "mkdir -p checkpoint/include/partita/checkpoint/detail && printf '#pragma once\n#include <partita/jobs/job.hpp>\n' >checkpoint/include/partita/checkpoint/detail/x.hpp"
expect_back_edge "scheduler includes jobs" "scheduler/src/policy.cpp:1:" \
  "printf '#include <partita/jobs/job.hpp>\n' >scheduler/src/policy.cpp"
expect_back_edge "scheduler includes the umbrella" "scheduler/src/policy.cpp:1:" \
  "printf '#include <partita/partita.hpp>\n' >scheduler/src/policy.cpp"
expect_back_edge "runtime CMake links checkpoint" "runtime/CMakeLists.txt:3:" \
  "printf 'target_link_libraries(partita_runtime PRIVATE partita::checkpoint)\n' >>runtime/CMakeLists.txt"
expect_back_edge "checkpoint CMake links scheduler by target name" "checkpoint/CMakeLists.txt:2:" \
  "printf 'target_link_libraries(partita_checkpoint PUBLIC partita_scheduler)\n' >>checkpoint/CMakeLists.txt"
expect_back_edge "scheduler CMake links jobs" "scheduler/CMakeLists.txt:1:" \
  "sed -i 's/partita::checkpoint/partita::checkpoint partita::jobs/' scheduler/CMakeLists.txt"
expect_back_edge "map/reduce model includes the iterative model" "scheduler/map_reduce/src/dispatcher.cpp:2:" \
  "printf '#include <partita/scheduler/iterative/run.hpp>\n' >>scheduler/map_reduce/src/dispatcher.cpp"
expect_back_edge "iterative model header includes the map/reduce model" \
  "scheduler/iterative/include/partita/scheduler/iterative/run.hpp:3:" \
  "printf '#include \"partita/scheduler/map_reduce/dispatcher.hpp\"\n' >>scheduler/iterative/include/partita/scheduler/iterative/run.hpp"
expect_back_edge "iterative model CMake links the map/reduce model" "scheduler/iterative/CMakeLists.txt:2:" \
  "printf 'target_link_libraries(partita_iterative PRIVATE partita::map_reduce)\n' >>scheduler/iterative/CMakeLists.txt"
expect_back_edge "the machinery includes a model" "scheduler/src/policy.cpp:1:" \
  "printf '#include <partita/scheduler/map_reduce/dispatcher.hpp>\n' >scheduler/src/policy.cpp"
expect_back_edge "a machinery header includes a model" "scheduler/include/partita/scheduler/policy.hpp:4:" \
  "printf '#include <partita/scheduler/iterative/run.hpp>\n' >>scheduler/include/partita/scheduler/policy.hpp"

# Several back edges are all listed.
tree="$work/many"
make_clean_tree "$tree"
printf '#include <partita/jobs/job.hpp>\n#include <partita/scheduler/policy.hpp>\n' >"$tree/runtime/src/extra.cpp"
out="$("$checker" "$tree" 2>&1)"
n="$(grep -c '^runtime/src/extra.cpp:[12]:' <<<"$out")"
[[ "$n" -eq 2 ]] || fail "two back edges in one file: listed $n: $out"

# A root without layers is a usage error, not a vacuous pass.
mkdir -p "$work/empty"
"$checker" "$work/empty" >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] || fail "empty root: expected exit 2, got $rc"

if (( failures > 0 )); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "check_layers.sh bites: all cases behave"
