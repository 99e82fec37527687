#!/usr/bin/env bash
# How the server answers beside a busy command: wrk's p99 on GET /backlog with
# nothing running, then with a command burning a core, for each binary given,
# side by side in one run. Each server is started in a session of its own
# (setsid), as a service manager starts it.
#
#   bash bench/busy.sh target/release/seqspool [other/seqspool ...]
#
# Environment: RUNS (default 3), SECS per wrk run (default 5).
set -euo pipefail

runs=${RUNS:-3}
secs=${SECS:-5}
command -v wrk >/dev/null || { echo "busy.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
(($# > 0)) || { echo "usage: bash bench/busy.sh BINARY [BINARY ...]" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# p99 and requests/s of one wrk run.
measure() {
    local out
    out=$(wrk -t2 -c16 -d"${secs}s" --latency "http://127.0.0.1:$1/backlog")
    local p99 rps
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' <<<"$out")
    echo "$p99 $rps"
}

# A duration as wrk prints it (0.85ms, 12.30ms, 1.02s, 450us) in ms.
ms() {
    awk -v d="$1" 'BEGIN {
        if (d ~ /us$/) { sub(/us$/, "", d); print d / 1000 }
        else if (d ~ /ms$/) { sub(/ms$/, "", d); print d }
        else if (d ~ /s$/) { sub(/s$/, "", d); print d * 1000 }
    }'
}

port=18700
printf '%-40s %-4s %12s %12s %12s %10s\n' binary run idle_p99_ms busy_p99_ms busy/idle idle_rps
for run in $(seq 1 "$runs"); do
    for binary in "$@"; do
        port=$((port + 1))
        dir="$work/$port"
        # The command of every experiment burns a core until it is stopped.
        setsid "$binary" --bind "127.0.0.1:$port" --experiments "$dir" \
            --command "${BURN:-while :; do :; done}" --shutdown-grace 1 \
            >"$work/$port.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/backlog" >/dev/null && break
            sleep 0.05
        done
        read -r idle idle_rps < <(measure "$port")
        id=$(curl -sf "http://127.0.0.1:$port/experiments" -d query_name=burn -d query_sequence=ACGT |
            sed 's/.*"id":"\([0-9]*\)".*/\1/')
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/experiments/$id" | grep -q '"state":"RUNNING"' && break
            sleep 0.05
        done
        sleep 1
        read -r busy _ < <(measure "$port")
        curl -sf -X DELETE "http://127.0.0.1:$port/experiments/$id" >/dev/null || true
        i=$(ms "$idle")
        b=$(ms "$busy")
        printf '%-40s %-4s %12s %12s %12.2f %10s\n' "$binary" "$run" "$i" "$b" \
            "$(awk -v b="$b" -v i="$i" 'BEGIN { print b / i }')" "$idle_rps"
        kill -TERM "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
    done
done
