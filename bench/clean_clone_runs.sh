#!/usr/bin/env bash
# Runs CI's command (`.ci/run`, i.e. `make test`) again and again, each time from a fresh clone with a new
# virtualenv, in STREAMS parallel streams (2 loads a 2-core machine the way a busy laptop is loaded) of RUNS runs
# each. One summary line block per run in OUT/summary.txt; a failing run keeps its clone and its log.
#   bench/clean_clone_runs.sh                      # 2 streams x 10 runs of HEAD
#   STREAMS=1 RUNS=5 COMMIT=abc123 bench/clean_clone_runs.sh
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
COMMIT=${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD)}
STREAMS=${STREAMS:-2}
RUNS=${RUNS:-10}
OUT=${OUT:-$(mktemp -d /tmp/clean-clone-runs.XXXX)}
mkdir -p "$OUT"
echo "runs of $COMMIT: $STREAMS streams x $RUNS; summary in $OUT/summary.txt"

stream() {
  local name=$1
  for n in $(seq 1 "$RUNS"); do
    local dir=$OUT/$name-$n log=$OUT/run-$name-$n.log
    git clone -q "$REPO" "$dir" && git -C "$dir" checkout -q "$COMMIT" || { echo "=== run $name-$n: clone failed" >>"$OUT/summary.txt"; continue; }
    local start=$SECONDS
    (cd "$dir" && CI=true bash .ci/run) >"$log" 2>&1
    local rc=$?
    {
      echo "=== run $name-$n rc=$rc wall=$((SECONDS - start))s end=$(date +%H:%M:%S) load=$(cut -d' ' -f1-3 /proc/loadavg)"
      grep -E '^(lint|sandbox|client|notebooks|browser|tests:)' "$log"
    } >>"$OUT/summary.txt"
    if [ $rc = 0 ]; then rm -rf "$dir" "$log"; fi
  done
}

for s in $(seq 1 "$STREAMS"); do stream "s$s" & done
wait
passed=$(grep -c 'rc=0 ' "$OUT/summary.txt")
total=$(grep -c '^=== run' "$OUT/summary.txt")
echo "$passed of $total runs passed; wall times (s): $(grep -o 'wall=[0-9]*' "$OUT/summary.txt" | cut -d= -f2 | sort -n | tr '\n' ' ')"
[ "$passed" = "$total" ]
