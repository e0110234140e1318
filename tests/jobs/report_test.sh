#!/usr/bin/env bash
# `partita report` end to end (docs/report.md): real runs under mpirun, the page rendered by Debian's headless
# Chromium, which must run its script without an error and show the plots with the right counts.
# Usage: report_test.sh CASE PATH/TO/partita [OUT.png]
#   map_reduce | iterative: run, report, render; one timeline row and load bar per rank, 30 histogram bars
#   compare: two runs side by side
#   bad_input: a truncated summary, another version's, a trace of another job: one line each, exit 2
#   screenshot OUT.png: the picture in docs/ (the README shows it), made the way the test renders
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-report.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -20 "$work/log"; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || [ "$case_name" = bad_input ] || fail "chromium is missing: apt-get install chromium (tools/bootstrap.sh test does)"
# The page's DOM after its script ran, as headless Chromium sees it.
render() {
  timeout 120 "$browser" --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$work/profile" \
    --virtual-time-budget=5000 --dump-dom "file://$1" > "$work/dom.html" 2> "$work/chromium.log" \
    || fail "chromium exited $? rendering $1: $(tail -3 "$work/chromium.log")"
}
count() { grep -o -- "$1" "$2" | wc -l; }
dom_checks() {  # $1 ranks, $2 sections
  grep -q '<html[^>]*data-script-ok="yes"' "$work/dom.html" || fail "the page's script did not finish: $(head -c 300 "$work/dom.html")"
  ! grep -q 'data-script-errors' "$work/dom.html" || fail "script errors: $(grep -o 'data-script-errors="[^"]*"' "$work/dom.html")"
  [ "$(count 'class="timeline-row"' "$work/dom.html")" = $(($1 * $2)) ] || fail "not one timeline row per rank"
  [ "$(count 'class="load-bar"' "$work/dom.html")" = $(($1 * $2)) ] || fail "not one load bar per rank"
  [ "$(count 'class="hist-bar"' "$work/dom.html")" = $((30 * $2)) ] || fail "not 30 histogram bars per run"
  [ "$(count '<section class="run"' "$work/dom.html")" = "$2" ] || fail "not $2 run sections"
  grep -q "$1 timeline rows, 30 histogram bars, $1 load bars" "$work/dom.html" || fail "the page's self-check says otherwise: $(grep -A3 self-check "$work/dom.html")"
}
run_job() {  # $1 ranks, $2 output prefix, then the job's arguments
  local np=$1 out=$2; shift 2
  $mpirun -n "$np" "$partita" "$@" --quiet --summary-json "$out.json" --trace "$out.trace" > "$work/log" 2>&1 \
    || fail "the run exited $?"
}
map_reduce_run() {
  run_job "$1" "$2" run synthetic --param partitions=400 --param median_us=3000 --param dist=lognormal --threads 2 \
    --checkpoint-dir "$work/ck$1" --checkpoint-every 150
}
one_line_exit_2() {  # the command's output in $work/log: exit 2 and one line naming $1
  local rc=$2
  [ "$rc" = 2 ] || fail "exit code $rc, expected 2: $(cat "$work/log")"
  [ "$(wc -l < "$work/log")" = 1 ] || fail "expected one line: $(cat "$work/log")"
  grep -q -- "$1" "$work/log" || fail "the line does not name $1: $(cat "$work/log")"
}

case $case_name in
map_reduce)
  map_reduce_run 3 "$work/a"
  "$partita" report "$work/a.json" --trace "$work/a.trace" -o "$work/r.html" > "$work/log" 2>&1 || fail "report exited $?"
  render "$work/r.html"
  dom_checks 3 1
  [ "$(count 'data-kind="checkpoint"' "$work/dom.html")" -ge 2 ] || fail "checkpoints are not marked"
  grep -q 'class="progress-eta"' "$work/dom.html" || fail "no predicted-ETA line"
  grep -q 'class="slowest"' "$work/dom.html" || fail "the slowest partitions are not named" ;;
iterative)
  run_job 4 "$work/a" run heat --param blocks_x=4 --param blocks_y=4 --param block=32 --param steps=200 --param refine=6 \
    --threads 1 --rebalance-every 40 --checkpoint-dir "$work/ck" --checkpoint-every 100
  "$partita" report "$work/a.json" --trace "$work/a.trace" -o "$work/r.html" > "$work/log" 2>&1 || fail "report exited $?"
  render "$work/r.html"
  dom_checks 4 1
  grep -q 'class="imbalance"' "$work/dom.html" || fail "no imbalance plot"
  migrations=$(python3 -c "import json;print(json.load(open('$work/a.json'))['migrations'])")
  [ "$migrations" -gt 0 ] || fail "the run migrated nothing: the test needs a rebalance"
  [ "$(count 'class="rebalance"' "$work/dom.html")" -ge 1 ] || fail "rebalances are not marked on the imbalance plot" ;;
compare)
  map_reduce_run 2 "$work/a"
  map_reduce_run 2 "$work/b"
  "$partita" report "$work/a.json" --trace "$work/a.trace" --compare "$work/b.json" --compare-trace "$work/b.trace" \
    -o "$work/r.html" > "$work/log" 2>&1 || fail "report exited $?"
  render "$work/r.html"
  dom_checks 2 2
  grep -q 'class="compare"' "$work/dom.html" || fail "no comparison table" ;;
bad_input)
  $mpirun -n 2 "$partita" run pi --param partitions=50 --quiet --summary-json "$work/a.json" --trace "$work/a.trace" \
    > "$work/log" 2>&1 || fail "the run exited $?"
  head -c 200 "$work/a.json" > "$work/cut.json"
  "$partita" report "$work/cut.json" -o "$work/r.html" > "$work/log" 2>&1; one_line_exit_2 "cut.json is not complete JSON" $?
  sed 's/"summary_version": 1/"summary_version": 7/' "$work/a.json" > "$work/v7.json"
  "$partita" report "$work/v7.json" -o "$work/r.html" > "$work/log" 2>&1; one_line_exit_2 "a summary of version 7" $?
  sed 's/"job": "pi"/"job": "mandelbrot"/' "$work/a.json" > "$work/other.json"
  "$partita" report "$work/other.json" --trace "$work/a.trace" -o "$work/r.html" > "$work/log" 2>&1
  one_line_exit_2 "a trace of job 'pi'" $?
  "$partita" report "$work/a.json" --trace "$work/a.json" -o "$work/r.html" > "$work/log" 2>&1
  one_line_exit_2 "not a trace of this Partita version" $?
  [ ! -e "$work/r.html" ] || fail "a page was written from bad input" ;;
screenshot)
  out=${3:?usage: report_test.sh screenshot PARTITA OUT.png}
  run_job 4 "$work/a" run synthetic --param partitions=2000 --param median_us=2000 --param dist=lognormal --threads 2 \
    --checkpoint-dir "$work/ck" --checkpoint-every 600
  "$partita" report "$work/a.json" --trace "$work/a.trace" -o "$work/r.html" > "$work/log" 2>&1 || fail "report exited $?"
  timeout 120 "$browser" --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$work/profile" \
    --hide-scrollbars --window-size=1000,1500 --screenshot="$out" "file://$work/r.html" > "$work/log" 2>&1 \
    || fail "chromium exited $?" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
