#!/usr/bin/env bash
# Partita set-up in one command: install the Debian packages that are missing, configure and build,
# then either run the demo job under mpirun or run the whole test suite (plus an ASan+UBSan build of
# the unit tests, and the fuzzers for a bounded time). Idempotent: when everything is installed and built,
# it goes straight to the run.
#
#   tools/bootstrap.sh demo    packages, build the CLI in build/, then: mpirun -n 4 build/bin/partita run pi
#   tools/bootstrap.sh test    packages, build in build/, ctest (two tests at a time per two cores), with the
#                              ASan+UBSan build in build-asan/ and the libFuzzer build (clang) in build-fuzz/
#                              beside it at nice 19; then ctest -L unit there, each fuzz target for 60 s
#
# Environment (all optional): PARTITA_BUILD_DIR (default build), PARTITA_ASAN_DIR (default build-asan),
# PARTITA_FUZZ_DIR (default build-fuzz), PARTITA_FUZZ_SECONDS (default 60; 0 skips fuzzing),
# PARTITA_JOBS (parallel build jobs, default 2). Exits non-zero on the first thing that goes wrong.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: tools/bootstrap.sh demo|test"
}

mode=${1:-}
case "$mode" in
  demo|test) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${PARTITA_BUILD_DIR:-build}
asan=${PARTITA_ASAN_DIR:-build-asan}
fuzz=${PARTITA_FUZZ_DIR:-build-fuzz}
fuzz_seconds=${PARTITA_FUZZ_SECONDS:-60}
jobs=${PARTITA_JOBS:-2}
t0=$SECONDS

step() { printf '\n== [%s +%ss] %s\n' "$mode" "$((SECONDS - t0))" "$*"; }
die() { printf '\nbootstrap %s FAILED: %s\n' "$mode" "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------
# 1. Debian packages. dpkg-query first, so a machine that has everything never touches apt.
packages=(
  g++ make cmake git                                   # toolchain
  libopenmpi-dev openmpi-bin                           # MPI
  libhdf5-openmpi-dev hdf5-tools                       # parallel HDF5, h5dump
  libtbb-dev libboost-serialization-dev                # workers, message payloads
  libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libcpp-httplib-dev pkg-config                        # --metrics-port: the HTTP server (docs/metrics.md)
  googletest libgtest-dev                              # tests
)
if [ "$mode" = test ]; then
  packages+=(python3)                                  # test scripts read the summary JSON with it
  packages+=(clang-format)                             # tests/tools/check_format.sh: the tree as .clang-format says
  packages+=(clang libclang-rt-dev)                    # the fuzzers: clang and its libFuzzer/ASan runtimes
  packages+=(libsimgrid-dev pkg-config)              # tools/simulate: the model of large runs (its plot script
                                                       # also wants python3-matplotlib; not needed by the tests)
fi
if [ "$mode" = test ]; then
  packages+=(prometheus)                               # promtool checks the --metrics-file text (docs/metrics.md)
  packages+=(chromium)                                 # headless: renders partita report pages (docs/report.md)
  packages+=(python3-h5py python3-numpy)               # tests/jobs/iterative_output_test.sh reads --output files
fi
if [ "$mode" = test ] && [ -f tests/slurm/CMakeLists.txt ]; then
  packages+=(slurm-wlm munge procps)                   # the one-node Slurm test (label "slurm"; pgrep)
fi
if [ "$mode" = test ] && [ -f tests/minicluster/CMakeLists.txt ]; then
  packages+=(iproute2 util-linux mount)                # tools/minicluster: ip, tc, unshare, nsenter (label "minicluster")
fi

step "checking ${#packages[@]} Debian packages"
command -v dpkg-query >/dev/null || die "this script needs Debian or Ubuntu (dpkg/apt); install these by hand: ${packages[*]}"
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all installed"
else
  echo "missing: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    die "not root and no sudo; as root run: apt-get install --no-install-recommends ${missing[*]}"
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]}"
fi

# Open MPI refuses to start as root unless told that is intended (containers, CI runners, chroots).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Small machines: allow more ranks than cores, and let idle ranks yield the CPU instead of spinning.
mpirun_flags=(--oversubscribe --mca mpi_yield_when_idle 1)

# ---------------------------------------------------------------------------------------------------
# 2. Configure and build (re-running is cheap: cmake and make only redo what changed).
step "configure $build/"
options=()
[ "$mode" = test ] && options+=(-DPARTITA_BUILD_SIMULATOR=ON)  # tools/simulate and its smoke test
cmake -S . -B "$build" "${options[@]}" || die "cmake configure of $build/"
if [ "$mode" = demo ] && grep -qw partita_cli <<<"$(cmake --build "$build" --target help 2>/dev/null)"; then
  # The demo needs only the CLI (and the four layers under it); `test` builds the rest later.
  step "build the partita CLI in $build/ with -j$jobs"
  cmake --build "$build" -j"$jobs" --target partita_cli || die "build of partita_cli in $build/"
else
  step "build $build/ with -j$jobs"
  cmake --build "$build" -j"$jobs" || die "build of $build/"
fi

# ---------------------------------------------------------------------------------------------------
# 3a. Demo: one real job under mpirun.
if [ "$mode" = demo ]; then
  cli=$build/bin/partita
  if [ ! -x "$cli" ]; then
    die "$cli does not exist: the build has no partita CLI yet (CMake target partita_cli, jobs/cli/).
The set-up itself worked; the demo job cannot run until the CLI is part of the build."
  fi
  step "demo: mpirun -n 4 $cli run pi"
  mpirun "${mpirun_flags[@]}" -n 4 "$cli" run pi || die "the demo job exited with status $?"
  step "demo done in $((SECONDS - t0))s"
  echo "Next: $cli jobs (the built-in jobs), $cli run --help, or tools/bootstrap.sh test"
  exit 0
fi

# ---------------------------------------------------------------------------------------------------
# 3b. Tests: the whole suite, then the unit tests again under ASan+UBSan.
passed=0 failed=0 skipped=0
# ctest's summary line: "93% tests passed, 2 tests failed out of 30". Adds its counts to the totals.
count() {
  local line total fail skip
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1 || true)
  if [ -z "$line" ]; then
    return 1
  fi
  fail=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
  total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
  skip=$(grep -c '(Skipped)$' "$1" || true)   # ctest counts a skipped test as not failed
  passed=$((passed + total - fail - skip)); failed=$((failed + fail)); skipped=$((skipped + skip))
}
log=$(mktemp) side_log=$(mktemp)
side_pid=
trap 'rm -f "$log" "$side_log"; [ -z "$side_pid" ] || kill -- -"$side_pid" 2>/dev/null || true' EXIT

# The sanitizer and fuzzer builds only compile: they run beside the suite at nice 19, on the CPU the suite leaves
# idle (its tests mostly wait on heartbeats, timeouts and sleeping partitions: 64 % of 2 cores with two tests at a
# time, docs/benchmarks.md "Build and test suite times"); the scheduler hands a test's processes the CPU first.
side_builds() {
  step "configure $asan/ (ASan+UBSan, tests only), beside the suite at nice 19"
  # Debug (-O0): compiles much faster than an optimised sanitizer build; the unit tests are small.
  cmake -S . -B "$asan" -DPARTITA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DPARTITA_BUILD_EXAMPLES=OFF -DPARTITA_BUILD_BENCH=OFF || die "cmake configure of $asan/"
  step "build the unit tests in $asan/ with -j$jobs"
  cmake --build "$asan" -j"$jobs" --target partita_unit_tests || die "build of $asan/"
  if [ "$fuzz_seconds" != 0 ]; then
    step "configure $fuzz/ (clang, libFuzzer + ASan + UBSan, fuzz targets only)"
    cmake -S . -B "$fuzz" -DPARTITA_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARTITA_BUILD_TESTS=OFF -DPARTITA_BUILD_EXAMPLES=OFF \
      -DPARTITA_BUILD_BENCH=OFF || die "cmake configure of $fuzz/"
    step "build the fuzzers in $fuzz/ with -j$jobs"
    cmake --build "$fuzz" -j"$jobs" --target partita_fuzzers || die "build of the fuzzers in $fuzz/"
  fi
}
set -m  # the side builds get a process group of their own, so the EXIT trap can stop all of them
nice -n 19 bash -c "$(declare -f step die side_builds); $(declare -p mode asan fuzz jobs fuzz_seconds)
  SECONDS=$((SECONDS - t0)) t0=0; side_builds" \
  >"$side_log" 2>&1 &
side_pid=$!
set +m

# Two tests at a time per two cores: most MPI and fault tests ask ctest for 2 processors, and one of them alone
# leaves a core idle most of the time (the suite took 18.9 min one test at a time, 11.6 min two at a time).
step "ctest: the whole suite ($build/), $((2 * jobs)) processor slots"
set +e
ctest --test-dir "$build" --output-on-failure -j"$((2 * jobs))" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
count "$log" || die "ctest in $build/ printed no summary (exit $rc); no tests registered?"
suite_rc=$rc

step "waiting for the sanitizer and fuzzer builds"
set +e
wait "$side_pid"
side_rc=$?
side_pid=
set -e
cat "$side_log"
[ "$side_rc" -eq 0 ] || die "the sanitizer or fuzzer build failed (its output is just above)"

step "ctest -L unit under ASan+UBSan ($asan/)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# Full stacks for leaks, so the suppressions of Open MPI's start-up allocations match and nothing else.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tools/lsan-suppressions.txt:fast_unwind_on_malloc=0:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
ctest --test-dir "$asan" -L unit --output-on-failure -j"$jobs" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
count "$log" || die "ctest -L unit in $asan/ printed no summary (exit $rc); no unit tests registered?"
asan_rc=$rc

# 4. Coverage-guided fuzzing (tests/fuzz): a clang build of the fuzz targets only (runtime and checkpoint
# layers instrumented, built above), then every target for $fuzz_seconds s, side by side. Seeds come from build/.
fuzz_rc=0
if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz every target for ${fuzz_seconds}s (tests/fuzz/run_fuzzers.sh)"
  PARTITA_MPIRUN="mpirun ${mpirun_flags[*]}" \
    bash tests/fuzz/run_fuzzers.sh --seconds "$fuzz_seconds" --fuzz-build "$fuzz" --build "$build" || fuzz_rc=$?
  if [ "$fuzz_rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

step "done in $((SECONDS - t0))s"
[ "$skipped" -eq 0 ] || echo "($skipped skipped: see 'The following tests did not run' above)"
echo "$passed passed, $failed failed"
if [ "$suite_rc" -ne 0 ] || [ "$asan_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
  exit 1
fi
