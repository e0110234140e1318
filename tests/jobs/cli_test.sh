#!/usr/bin/env bash
# End-to-end tests of the partita CLI under real mpirun. Usage: cli_test.sh CASE PATH/TO/partita
# PARTITA_MPIRUN holds the mpirun command with its flags (set by CMake).
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; exit 1; }
count() { grep -c -- "$1" "$2" || true; }
run_np() { local np=$1; shift; $mpirun -n "$np" "$partita" "$@"; }

# The slow-rank cases: with "${args[@]}", a reference run (plus $3) and two runs with rank 2 8x slower, with $1
# (traced) and with $2; all three must give the same result, and their workers' rows must add up to the 200
# partitions.
slow_rank_trio() {
  run_np 3 "${args[@]}" ${3:-} --summary-json "$work/ref.json" || fail "reference exited $?"
  run_np 3 "${args[@]}" --param slow_rank=2 --param slow_factor=8 "$1" --summary-json "$work/on.json" \
    --trace "$work/t.json" || fail "run with $1 exited $?"
  run_np 3 "${args[@]}" --param slow_rank=2 --param slow_factor=8 "$2" --summary-json "$work/off.json" \
    || fail "run with $2 exited $?"
  python3 - "$work/ref.json" "$work/on.json" "$work/off.json" <<'PY' || fail "results or partition counts"
import json, sys
ref, on, off = (json.load(open(f)) for f in sys.argv[1:])
for got in (on, off):
    assert got["result"] == ref["result"], (got["result"], ref["result"])
    assert sum(w["partitions"] for w in got["workers"]) == 200, got["workers"]
PY
}

case $case_name in
list_jobs)
  "$partita" jobs > "$work/out" || fail "partita jobs exited $?"
  for j in pi mandelbrot wordcount synthetic; do grep -q "^$j " "$work/out" || fail "job $j not listed"; done
  grep -q -- "--param partitions=" "$work/out" || fail "parameters not listed" ;;
help_exits_zero)
  "$partita" --help > "$work/out" 2>&1 || fail "--help exited non-zero"
  "$partita" run --help > "$work/out" 2>&1 || fail "run --help exited non-zero"
  grep -q -- "--policy" "$work/out" || fail "run --help does not show --policy" ;;
bad_flag_once)
  run_np 4 run pi --polcy static > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  n=$(count "partita: error" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times: $(cat "$work/out")" ;;
unknown_job_once)
  run_np 3 run pie > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  n=$(count "unknown job 'pie'" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times"
  grep -q "pi, mandelbrot, wordcount, synthetic" "$work/out" || fail "does not list the jobs" ;;
bad_param_once)
  run_np 4 run synthetic --param partitions=many > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  n=$(count "partitions=many" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times: $(cat "$work/out")"
  run_np 2 run pi --inject kill:rank=x > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "bad --inject: exit code $rc"
  grep -q "kill:rank=R:after=K" "$work/out" || fail "bad --inject: no hint of the right form"
  run_np 2 run pi --walltime soon > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "bad --walltime: exit code $rc"
  grep -q "'soon' is not a time: seconds (3600) or with a unit (90s, 30m, 2h)" "$work/out" \
    || fail "bad --walltime: no hint of the right form: $(cat "$work/out")"
  run_np 2 run pi --walltime 1.5m --quiet > "$work/out" 2>&1 || fail "--walltime 1.5m refused: $(cat "$work/out")"
  run_np 2 run synthetic --param partition=5 > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "unknown parameter: exit code $rc"
  grep -q "its parameters are: partitions" "$work/out" || fail "unknown parameter: no list of valid ones" ;;
scheduler_rank_out_of_range)
  timeout 60 $mpirun -n 3 "$partita" run pi --scheduler-rank 7 > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2 (124 means it hung)"
  n=$(count "out of range" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times" ;;
kernel_failure_once)
  timeout 120 $mpirun -n 3 "$partita" run synthetic --param partitions=300 --param median_us=100 \
    --param fail_at=77 --quiet > "$work/out" 2>&1; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "exit code $rc (0: not failed, 124: hung)"
  n=$(count "failed: the kernel threw on partition 77: synthetic failure injected at partition 77" "$work/out")
  [ "$n" -eq 1 ] || fail "error printed $n times: $(cat "$work/out")" ;;
same_result_any_rank_count)
  # The promise: the printed result is the same for 1..4 ranks and every policy.
  ref=""
  for np in 1 2 3 4; do
    for policy in static adaptive cost; do
      run_np $np run synthetic --policy $policy --param partitions=500 --param median_us=50 --param dist=bimodal \
        --quiet --summary-json "$work/s.json" || fail "np=$np policy=$policy exited $?"
      res=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$work/s.json")
      [ -n "$ref" ] || ref=$res
      [ "$res" = "$ref" ] || fail "np=$np policy=$policy gave '$res', expected '$ref'"
    done
    run_np $np run pi --param samples=200000 --param partitions=37 --quiet --summary-json "$work/p.json" || fail "pi np=$np"
    r=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$work/p.json")
    [ -n "${pref:-}" ] || pref=$r
    [ "$r" = "$pref" ] || fail "pi np=$np gave '$r', expected '$pref'"
  done ;;
summary_and_trace)
  run_np 2 run synthetic --param partitions=200 --param median_us=100 --summary-json "$work/s.json" \
    --trace "$work/t.json" > "$work/out" 2>&1 || fail "exited $?"
  grep -q "imbalance" "$work/out" || fail "no summary text"
  python3 - "$work/s.json" "$work/t.json" <<'PY' || fail "JSON structure"
import json, sys
s = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
assert s["status"] == "completed" and s["partitions"] == 200, s
assert len(s["workers"]) == 2 and all("busy_seconds" in w and "idle_seconds" in w for w in s["workers"])
assert s["result"].startswith("checksum"), s["result"]
slices = [e for e in t["traceEvents"] if e.get("cat") == "partition"]
assert len({e["args"]["id"] for e in slices}) == 200, len(slices)
assert any(e.get("cat") == "scheduler" for e in t["traceEvents"])
PY
  ;;
mandelbrot_image)
  run_np 3 run mandelbrot --param width=120 --param height=90 --param max_iter=200 --param output="$work/m.pgm" \
    --quiet --summary-json "$work/s.json" || fail "exited $?"
  head -c 2 "$work/m.pgm" | grep -q P5 || fail "not a PGM"
  size=$(stat -c %s "$work/m.pgm"); [ "$size" -ge $((120*90)) ] || fail "image too small: $size bytes"
  run_np 1 run mandelbrot --param width=120 --param height=90 --param max_iter=200 --param output="$work/m1.pgm" --quiet \
    || fail "1 rank exited $?"
  cmp -s "$work/m.pgm" "$work/m1.pgm" || fail "image differs between 3 ranks and 1 rank" ;;
wordcount_folder)
  mkdir -p "$work/docs/sub"
  printf 'the cat and the hat\n' > "$work/docs/a.txt"
  printf 'The end. THE END\n' > "$work/docs/sub/b.txt"
  printf 'cat\n' > "$work/docs/c.txt"
  run_np 2 run wordcount --param dir="$work/docs" --param top=2 --summary-json "$work/s.json" --quiet || fail "exited $?"
  res=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$work/s.json")
  case "$res" in "10 words (5 distinct) in 3 files"*"top: the=4, cat=2"*) ;; *) fail "result '$res'" ;; esac ;;
wordcount_lists)
  # The same files named by a list file or a glob, one per partition or grouped by size: the same counts; no input
  # or a missing listed file is one line, exit 2.
  mkdir -p "$work/docs"
  for i in 1 2 3 4 5 6 7 8; do printf 'word%s the cat %s\n' $i "$(head -c $((i * 300)) /dev/zero | tr '\0' 'x')" > "$work/docs/f$i.txt"; done
  printf '%s\n' "$work"/docs/f*.txt > "$work/list"
  run_np 2 run wordcount --param dir="$work/docs" --summary-json "$work/s.json" --quiet || fail "dir exited $?"
  want=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$work/s.json")
  for src in "list=$work/list" "glob=$work/docs/f*.txt"; do
    for g in 0 0.001; do
      run_np 3 run wordcount --param "$src" --param group_mib=$g --summary-json "$work/s.json" --quiet \
        || fail "$src group_mib=$g exited $?"
      got=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(d['result'])" "$work/s.json")
      [ "$got" = "$want" ] || fail "$src group_mib=$g: '$got', not '$want'"
      n=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['partitions'])" "$work/s.json")
      if [ $g = 0 ]; then [ "$n" = 8 ] || fail "$n partitions for 8 files"; else [ "$n" -lt 8 ] || fail "not grouped"; fi
    done
  done
  run_np 2 run wordcount > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] && [ "$(count "wordcount needs one of" "$work/out")" -eq 1 ] || fail "no input: exit $rc"
  echo "$work/nope.txt" >> "$work/list"
  run_np 2 run wordcount --param list="$work/list" > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] && [ "$(count "is not a readable file" "$work/out")" -eq 1 ] || fail "missing listed file: exit $rc" ;;
progress_lines)
  # Not a terminal (a Slurm output file): plain log lines every --progress-interval seconds.
  run_np 2 run synthetic --param partitions=600 --param median_us=2000 --progress-interval 0.2 --quiet=false \
    > "$work/out" 2>&1 || fail "exited $?"
  n=$(grep -c "progress: [0-9]*/600 partitions ([0-9.]*%), [0-9.]*/s, ETA [0-9:]*" "$work/out" || true)
  [ "$n" -ge 2 ] || fail "expected periodic progress log lines, got $n: $(head -5 "$work/out")"
  # On a terminal (a pty through script(1)): one live line redrawn with a carriage return.
  command -v script > /dev/null || fail "script(1) from util-linux is needed for the terminal case"
  if ! script -qec true /dev/null > /dev/null 2>&1; then
    echo "note [$case_name]: no pseudo-terminal here (no /dev/pts, e.g. a chroot): terminal case not run"
    echo "PASS [$case_name] (log lines only)"; exit 0
  fi
  script -qec "$mpirun -n 2 $partita run synthetic --param partitions=600 --param median_us=2000" "$work/tty" \
    > /dev/null 2>&1 || fail "terminal run exited $?"
  grep -a -q $'\r\[partita\] [0-9]*/600 partitions' "$work/tty" || fail "no live progress line on a terminal"
  grep -a -q "progress: " "$work/tty" && fail "log-style progress lines on a terminal"
  ;;
worker_killed_in_job)
  # A worker rank is SIGKILLed after 100 partitions. Under mpirun --enable-recovery the survivors keep
  # running; the scheduler declares the silent rank lost, re-runs its partitions, and the job ends in the
  # same mpirun with exactly the uninterrupted result.
  args=(run synthetic --param partitions=1500 --param median_us=400 --quiet)
  run_np 3 "${args[@]}" --summary-json "$work/ref.json" || fail "reference exited $?"
  timeout 150 $mpirun --enable-recovery -n 3 "$partita" "${args[@]}" --inject kill:rank=2:after=100 \
    --timeout 3 --heartbeat 0.5 --failure-history "$work/history" --summary-json "$work/s.json" > "$work/out" 2>&1; rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc (124: hung): $(tail -5 "$work/out")"
  grep -q "worker rank 2 silent for 3 s: declared lost" "$work/out" || fail "the loss was not detected"
  # The loss is an interrupt in the failure history: this host, a UTC time, the rank and the job.
  grep -Eq "^$(hostname)  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  # rank 2 of job 'synthetic' lost" "$work/history" \
    || fail "the loss is not in the failure history: $(cat "$work/history" 2>&1)"
  python3 - "$work/ref.json" "$work/s.json" <<'PY' || fail "results differ or the loss is not in the summary"
import json, sys
ref, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["result"] == ref["result"], (got["result"], ref["result"])
assert [w["lost"] for w in got["workers"]] == [False, False, True], got["workers"]
assert sum(w["partitions"] for w in got["workers"]) == 1500
PY
  ;;
recovery_failure_exits_nonzero)
  # Under mpirun --enable-recovery Open MPI 4.1 exits 0 whatever the ranks' exit codes; a job that cannot be
  # recovered in the run must still end non-zero there (docs/design.md, "Exit status"), and the job's own word
  # in $PARTITA_STATUS_FILE says how it ended: a failure leaves its code there too (before MPI_Finalize, which may
  # wait forever for a lost node), so that the launcher can end an mpirun that never exits; never 0 or 75.
  rec() { timeout 120 $mpirun --enable-recovery -x PARTITA_STATUS_FILE -n 3 "$partita" "$@"; }
  export PARTITA_STATUS_FILE=$work/status
  # 1. A kernel that throws: the job fails, the error is printed once, mpirun exits non-zero.
  rec run synthetic --param partitions=300 --param median_us=100 --param fail_at=77 --quiet > "$work/out" 2>&1; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "kernel failure: mpirun exit code $rc (0: reported as success, 124: hung)"
  n=$(count "synthetic failure injected at partition 77" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times"
  [ "$(cat "$work/status" 2>/dev/null)" = 1 ] || fail "a failed job's word is '$(cat "$work/status" 2>&1)', expected 1"
  rm -f "$work/status"
  # 2. The scheduler rank killed with no failover: every worker gives up, mpirun exits non-zero, bounded.
  rec run synthetic --param partitions=600 --param median_us=8000 --inject kill:scheduler:after=250 --no-failover \
    --timeout 3 --heartbeat 0.5 --failure-history "$work/history" > "$work/out" 2>&1; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "lost scheduler: mpirun exit code $rc (0: reported as success, 124: hung)"
  grep -q "lost contact with the scheduler" "$work/out" || fail "the workers did not notice: $(tail -5 "$work/out")"
  [ "$(cat "$work/status" 2>/dev/null)" = 1 ] || fail "a failed job's word is '$(cat "$work/status" 2>&1)', expected 1"
  rm -f "$work/status"
  # 3. A job stopped by SIGUSR1 checkpoints and exits 75: non-zero through mpirun, 75 in the job's word.
  $mpirun --enable-recovery -x PARTITA_STATUS_FILE -n 3 "$partita" run synthetic --param partitions=20000 \
    --param median_us=2000 --checkpoint-dir "$work/ck" --quiet > "$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [ "$(pgrep -P $pid | wc -l)" -ge 3 ] && break; sleep 0.05; done
  sleep 2
  kill -USR1 $pid || fail "mpirun ended before the signal: $(tail -3 "$work/out")"
  wait $pid; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "checkpointed job: mpirun exit code $rc (0: reported as success)"
  [ "$(cat "$work/status" 2>/dev/null)" = 75 ] || fail "the job's word is '$(cat "$work/status" 2>&1)', expected 75"
  # 4. A job that completes: exit 0 and the word 0.
  rm -f "$work/status"
  rec run synthetic --param partitions=300 --param median_us=100 --quiet > "$work/out" 2>&1 || fail "completed job exited $?"
  [ "$(cat "$work/status" 2>/dev/null)" = 0 ] || fail "the job's word is '$(cat "$work/status" 2>&1)', expected 0" ;;
late_sigusr1_exit_zero)
  # A stop signal that reaches the ranks while a finished job shuts down (summary printed, end-of-job checkpoint
  # committed) changes nothing: exit 0, every time. SIGUSR1 goes to every rank, again and again, from the moment
  # "completed in" appears (read through a pipe, so without delay) until mpirun has exited.
  total=0
  for trial in 1 2 3 4 5 6; do
    rm -rf "$work/ck"
    mkfifo "$work/pipe.$trial"
    $mpirun -n 3 "$partita" run synthetic --param partitions=300 --param median_us=200 --checkpoint-dir "$work/ck" \
      > "$work/pipe.$trial" 2>&1 &
    pid=$!
    exec 3< "$work/pipe.$trial"
    while IFS= read -r line <&3; do
      echo "$line" >> "$work/out.$trial"
      case $line in *"completed in"*) break ;; esac
    done
    cat <&3 >> "$work/out.$trial" &
    drain=$!
    sent=0
    while kill -0 $pid 2>/dev/null; do
      for child in $(pgrep -P $pid); do kill -USR1 "$child" 2>/dev/null && sent=$((sent + 1)); done
    done
    wait $pid; rc=$?
    wait $drain; exec 3<&-
    [ $rc -eq 0 ] || fail "trial $trial: exit code $rc after $sent late SIGUSR1s: $(tail -5 "$work/out.$trial")"
    grep -q "completed in" "$work/out.$trial" || fail "trial $trial: the job did not complete"
    echo "trial $trial: $sent late SIGUSR1s, exit 0"
    total=$((total + sent))
  done
  [ $total -ge 6 ] || fail "only $total late signals reached the ranks: the test did not test anything" ;;
take_back_slow_rank)
  # Rank 2 runs 8x slower. Once the queue is dry, idle ranks take back the back of what waits on it (it skips
  # those), with speculation off so that only take-back can shorten the tail; the result is bitwise the same.
  args=(run synthetic --param partitions=200 --param median_us=20000 --param dist=uniform --threads 2
        --scheduler-rank 0 --no-speculate --quiet)
  slow_rank_trio --take-back --no-take-back
  python3 - "$work/on.json" "$work/off.json" "$work/t.json" "$work/ref.json" <<'PY' || fail "take-backs"
import json, sys
on, off, trace, ref = (json.load(open(f)) for f in sys.argv[1:])
t_on, t_off = on["take_back"], off["take_back"]
assert t_on["count"] > 0 and t_on["partitions"] >= t_on["count"], t_on
assert t_off == {"count": 0, "partitions": 0}, t_off
# Per rank: the takers' counts add up to the job's, and the slow rank took nothing back.
assert sum(w["taken_back"] for w in on["workers"]) == t_on["partitions"], on["workers"]
assert on["workers"][2]["taken_back"] == 0 and all(w["taken_back"] == 0 for w in off["workers"]), on["workers"]
names = [e["name"] for e in trace["traceEvents"] if e.get("cat") == "scheduler"]
taken = [n for n in names if n.startswith("take-back of")]
assert len(taken) == t_on["count"] and any("from rank 2 by" in n for n in taken), names
# 8x slower rank: its last chunks held the job up to about twice as long without take-back (sleeping kernels:
# the ratio holds on a loaded machine).
assert on["wall_seconds"] < 0.85 * off["wall_seconds"], (on["wall_seconds"], off["wall_seconds"])
print("take-back: %d partitions in %d take-backs; wall %.2f s with, %.2f s without, %.2f s no slowdown"
      % (t_on["partitions"], t_on["count"], on["wall_seconds"], off["wall_seconds"], ref["wall_seconds"]))
PY
  ;;
speculation_slow_rank)
  # Rank 2 runs 8x slower (a degraded node). With speculation idle ranks run copies of its overdue partitions
  # and the first result is committed; either way the result is bitwise that of a run without slowdown.
  args=(run synthetic --param partitions=200 --param median_us=20000 --param dist=uniform --threads 2
        --scheduler-rank 0 --quiet)
  slow_rank_trio --speculate --no-speculate --no-speculate
  python3 - "$work/on.json" "$work/off.json" "$work/t.json" "$work/ref.json" <<'PY' || fail "speculation counts"
import json, sys
on, off, trace, ref = (json.load(open(f)) for f in sys.argv[1:])
s_on, s_off = on["speculation"], off["speculation"]
assert s_on["enabled"] and s_on["copies"] > 0 and 0 <= s_on["won"] <= s_on["copies"], s_on
assert sum(w["copies"] for w in on["workers"]) == s_on["copies"], on["workers"]
assert not s_off["enabled"] and s_off["copies"] == 0 and s_off["won"] == 0, s_off
names = [e["name"] for e in trace["traceEvents"] if e.get("cat") == "scheduler"]
copies = [n for n in names if n.startswith("speculative copy of partition") and "(held by rank" in n]
assert len(copies) == s_on["copies"] and any("(held by rank 2)" in n for n in copies), names
print("speculation: %d copies, %d won; wall %.2f s with, %.2f s without, %.2f s no slowdown"
      % (s_on["copies"], s_on["won"], on["wall_seconds"], off["wall_seconds"], ref["wall_seconds"]))
PY
  ;;
huge_partition_count)
  # 10^12 empty partitions for a bounded time: the scheduler's memory follows the work outstanding, not the
  # partition count (it used to be ~45 bytes per partition, std::bad_alloc here); the checkpoint stays small too.
  python3 - "$partita" "$work" <<'PY' || fail "huge partition count"
import glob, json, os, resource, subprocess, sys
partita, work = sys.argv[1], sys.argv[2]
cmd = [partita, "run", "synthetic", "--param", "median_us=0", "--param", "hint=false",
       "--param", "partitions=1000000000000", "--walltime", "6", "--checkpoint-dir", work + "/ck", "--quiet",
       "--summary-json", work + "/s.json"]
rc = subprocess.run(cmd, timeout=120).returncode
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
s = json.load(open(work + "/s.json"))
done = s["partitions_run"]
files = [f for f in glob.glob(work + "/ck/**", recursive=True) if os.path.isfile(f)]
ck_mb = max(os.path.getsize(f) for f in files) / 2**20
print("huge job: exit %d, %d partitions done in %.1f s, max RSS %.0f MB, largest checkpoint file %.1f MB"
      % (rc, done, s["wall_seconds"], rss_mb, ck_mb))
assert rc == 75 and s["status"] == "checkpointed", (rc, s["status"])
assert done > 100000, done
assert rss_mb < 200, "scheduler RSS %.0f MB" % rss_mb
assert ck_mb < 64, "checkpoint %.1f MB" % ck_mb
PY
  ;;
cost_policy_bound)
  # A job the cost policy cannot order in bounded memory is refused up front, in one line that says what to do.
  "$partita" run synthetic --policy cost --param partitions=1000000000000 --param median_us=0 > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2: $(cat "$work/out")"
  n=$(count "use --policy adaptive" "$work/out"); [ "$n" -eq 1 ] || fail "error printed $n times: $(cat "$work/out")"
  grep -q "bad_alloc" "$work/out" && fail "std::bad_alloc: $(cat "$work/out")" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
