# Sourced by the CLI fault tests: find the process of one MPI rank under a launcher, to SIGSTOP or SIGKILL it.
# Needs $partita (the binary the ranks run).

# Every process below pid $1 (the launcher may fork helpers between itself and the ranks).
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }

# The pid of world rank $1 under the launcher with pid $2 (waits up to 15 s for it to start); fails if none.
rank_pid() {
  local p
  for _ in $(seq 150); do
    for p in $(descendants "$2"); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$(basename "$partita" | cut -c1-15)" ] || continue
      tr '\0' '\n' 2>/dev/null < "/proc/$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
