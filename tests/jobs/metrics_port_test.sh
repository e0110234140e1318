#!/usr/bin/env bash
# --metrics-port through the partita CLI, read by a real consumer (docs/metrics.md): Debian's Prometheus server,
# started here on loopback with a scrape config pointing at the job's port, must return the job's total through
# its HTTP query API while the job runs; then it is stopped.
# Usage: metrics_port_test.sh CASE PATH/TO/partita
#   scrape: the value read back through Prometheus's query API
#   port_taken: a port that is in use gives one line and the job goes on (exit 0)
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-metrics-port.XXXXXX)
prom_pid=""; job_pid=""; holder_pid=""
cleanup() {
  for p in $prom_pid $job_pid $holder_pid; do kill "$p" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -20 "$work/log"; exit 1; }
command -v prometheus > /dev/null || fail "prometheus is missing: apt-get install prometheus (tools/bootstrap.sh test does)"
# Prometheus's answer to a query: the first value, or "" (python3 reads the API: no curl needed).
query() {
  python3 - "$1" << 'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        res = json.load(r)["data"]["result"]
    print(res[0]["value"][1] if res else "", res[0]["metric"].get("job", "") if res else "")
except Exception:
    print("")
PY
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

case $case_name in
scrape)
  port=$(free_port)
  prom_port=$(free_port)
  # A job that runs ~20 s: long enough for Prometheus to start and scrape it a few times (every second).
  $mpirun -n 2 "$partita" run synthetic --param partitions=4000 --param median_us=10000 --threads 2 --quiet \
    --metrics-port "$port" --metrics-interval 0.5 > "$work/log" 2>&1 &
  job_pid=$!
  cat > "$work/prometheus.yml" << YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: partita
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
  prom_pid=$!
  got=""; label=""
  for _ in $(seq 150); do
    read -r got label <<< "$(query "http://127.0.0.1:$prom_port/api/v1/query?query=partita_work_size")"
    [ -n "$got" ] && break
    kill -0 $job_pid 2> /dev/null || break
    sleep 0.2
  done
  [ "$got" = 4000 ] || fail "Prometheus did not read partita_work_size 4000 from the job (got '$got'): $(tail -5 "$work/prometheus.log")"
  # The job's own labels came through too.
  read -r got label <<< "$(query "http://127.0.0.1:$prom_port/api/v1/query?query=partita_work_size%7Bpartita_job%3D%22synthetic%22%7D")"
  [ "$got" = 4000 ] || fail "no series with the job's name as a label in what Prometheus stored"
  kill $prom_pid; wait $prom_pid 2> /dev/null; prom_pid=""
  wait $job_pid || fail "the job exited $?"
  job_pid="" ;;
port_taken)
  port=$(free_port)
  python3 -c "import socket,time;s=socket.socket();s.bind(('127.0.0.1',$port));s.listen();time.sleep(60)" &
  holder_pid=$!
  sleep 0.5
  $mpirun -n 2 "$partita" run pi --param partitions=64 --quiet --metrics-port "$port" > "$work/log" 2>&1 \
    || fail "exited $? with the metrics port taken"
  n=$(grep -c "metrics:" "$work/log" || true)
  [ "$n" = 1 ] || fail "expected one line about the port, got $n"
  grep -q "127.0.0.1:$port" "$work/log" || fail "the line does not name the address" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
