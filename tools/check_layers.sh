#!/usr/bin/env bash
# Fails (exit 1, one "file:line: ..." per offence) when a layer depends on a layer above it.
#
#   tools/check_layers.sh [ROOT]     ROOT defaults to the repository this script lives in
#
# Direction: jobs -> scheduler -> checkpoint -> runtime. A layer may include and link only layers below it:
#   - runtime/     must not include partita/{checkpoint,scheduler,jobs}/ (nor their umbrella headers)
#   - checkpoint/  must not include partita/{scheduler,jobs}/
#   - scheduler/   must not include partita/jobs/
# and a layer's CMake files must not link partita::<higher> / partita_<higher> (nor the umbrella partita::partita).
# Inside scheduler/, the two job models stand side by side on the job machinery:
#   - scheduler/map_reduce/  must not include partita/scheduler/iterative/ nor link partita::iterative
#   - scheduler/iterative/   must not include partita/scheduler/map_reduce/ nor link partita::map_reduce
#   - the machinery (the rest of scheduler/) uses neither model; only the layer's umbrella header
#     (scheduler/include/partita/scheduler.hpp) and scheduler/CMakeLists.txt bring the three together.
# Exit codes: 0 clean, 1 back edges found, 2 bad usage (e.g. ROOT holds none of the layers).
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
if [[ ! -d "$root" ]]; then
  echo "check_layers: '$root' is not a directory" >&2
  exit 2
fi
root="$(cd "$root" && pwd)"

layers=(runtime checkpoint scheduler jobs)   # lowest first
found_layers=0
offences=0
checked=0

# Prints "file:line: message" for each match of an extended regex in a list of files (comments stripped
# first when strip_cmake_comments=1). Adds the number of matches to $offences. One awk for all the files.
report() {  # report <message> <regex> <strip_cmake_comments> files...
  local message="$1" regex="$2" strip="$3"
  shift 3
  local out n
  out=$(awk -v re="$regex" -v strip="$strip" -v msg="$message" -v root="$root/" '
    { text = $0; if (strip == 1) sub(/#.*$/, "", text) }
    text ~ re {
      file = FILENAME; if (index(file, root) == 1) file = substr(file, length(root) + 1)
      sub(/^[[:space:]]*/, "", text)
      print file ":" FNR ": " msg ": " text
    }' "$@")
  [[ -z "$out" ]] && return 0
  echo "$out"
  n=$(wc -l <<<"$out")
  offences=$((offences + n))
}

for i in "${!layers[@]}"; do
  layer="${layers[$i]}"
  dir="$root/$layer"
  [[ -d "$dir" ]] || continue
  found_layers=$((found_layers + 1))
  above=("${layers[@]:$((i + 1))}")
  (( ${#above[@]} > 0 )) || continue
  alt="$(IFS='|'; echo "${above[*]}")"
  # The umbrella (partita/partita.hpp, partita::partita) sits above jobs: no layer below jobs may use it.

  mapfile -d '' sources < <(find "$dir" -type f \( -name '*.hpp' -o -name '*.h' -o -name '*.hh' -o -name '*.hxx' \
                                 -o -name '*.ipp' -o -name '*.inl' -o -name '*.tpp' -o -name '*.cpp' -o -name '*.cc' \
                                 -o -name '*.cxx' -o -name '*.c' \) -print0 | sort -z)
  mapfile -d '' cmakes < <(find "$dir" -type f \( -name 'CMakeLists.txt' -o -name '*.cmake' \) -print0 | sort -z)
  checked=$((checked + ${#sources[@]} + ${#cmakes[@]}))

  if (( ${#sources[@]} > 0 )); then
    report "$layer includes a layer above it" \
      "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]partita/(($alt)(/|\.hpp[>\"])|partita\.hpp[>\"])" 0 "${sources[@]}"
  fi
  if (( ${#cmakes[@]} > 0 )); then
    report "$layer links a layer above it" \
      "(partita::($alt|partita)|partita_($alt))([^A-Za-z0-9_]|$)" 1 "${cmakes[@]}"
  fi
done

# The job models inside scheduler/: neither uses the other, the machinery uses neither.
# check_family <dir> <label> <forbidden model>... (dir relative to scheduler/; "" is the machinery)
check_family() {
  local sub="$1" label="$2"
  shift 2
  local dir="$root/scheduler${sub:+/$sub}" alt prune=()
  [[ -d "$dir" ]] || return 0
  alt="$(IFS='|'; echo "$*")"
  [[ -z "$sub" ]] && prune=(-path "$root/scheduler/map_reduce" -prune -o -path "$root/scheduler/iterative" -prune -o)
  mapfile -d '' fsources < <(find "$dir" "${prune[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) \
                                  ! -path "$root/scheduler/include/partita/scheduler.hpp" -print0 | sort -z)
  mapfile -d '' fcmakes < <(find "$dir" "${prune[@]}" -type f \( -name 'CMakeLists.txt' -o -name '*.cmake' \) \
                                 ! -path "$root/scheduler/CMakeLists.txt" -print0 | sort -z)
  if (( ${#fsources[@]} > 0 )); then
    report "$label includes a job model it must not use" \
      "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]partita/scheduler/($alt)/" 0 "${fsources[@]}"
  fi
  if (( ${#fcmakes[@]} > 0 )); then
    report "$label links a job model it must not use" "(partita::|partita_)($alt)([^A-Za-z0-9_]|$)" 1 "${fcmakes[@]}"
  fi
}
if [[ -d "$root/scheduler" ]]; then
  check_family map_reduce "the map/reduce model" iterative
  check_family iterative "the iterative model" map_reduce
  check_family "" "the job machinery" map_reduce iterative
fi

if (( found_layers == 0 )); then
  echo "check_layers: none of ${layers[*]} found under '$root'; is that the repository root?" >&2
  exit 2
fi
if (( offences > 0 )); then
  echo "check_layers: $offences back edge(s); dependencies must point jobs -> scheduler -> checkpoint -> runtime" >&2
  exit 1
fi
echo "check_layers: OK ($found_layers layers, $checked files; jobs -> scheduler -> checkpoint -> runtime;" \
     "scheduler's models use the machinery, not each other)"
