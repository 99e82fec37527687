#!/usr/bin/env bash
# Dispatch: N experiments whose command is `true`, submitted by 4 clients at
# once, timed from the first submission to the last completion, per
# experiment; beside task-spooler (`tsp`, one job at a time) doing the same,
# side by side in one run. Every seqspool state change is recorded on disk.
#
#   bash bench/dispatch.sh target/release/seqspool [other/seqspool ...]
#
# Environment: RUNS (default 3), JOBS (default 500).
set -euo pipefail

runs=${RUNS:-3}
jobs=${JOBS:-500}
(($# > 0)) || { echo "usage: bash bench/dispatch.sh BINARY [BINARY ...]" >&2; exit 2; }
command -v python3 >/dev/null || { echo "dispatch.sh: needs python3" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Submits $jobs experiments from 4 Python threads on keep-alive connections, then
# waits until the backlog is empty; prints milliseconds per experiment.
seqspool_run() {
    python3 - "$1" "$jobs" <<'EOF'
import http.client, sys, threading, time, urllib.parse
port, jobs = int(sys.argv[1]), int(sys.argv[2])
body = urllib.parse.urlencode({"query_name": "d", "query_sequence": "ACGT"})
headers = {"Content-Type": "application/x-www-form-urlencoded"}
def client(count):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(count):
        conn.request("POST", "/experiments", body, headers)
        answer = conn.getresponse(); answer.read()
        assert answer.status == 202, answer.status
started = time.monotonic()
threads = [threading.Thread(target=client, args=(jobs // 4,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
conn = http.client.HTTPConnection("127.0.0.1", port)
while True:
    conn.request("GET", "/backlog"); text = conn.getresponse().read().decode()
    if "Currently 0 jobs" in text: break
    time.sleep(0.002)
print(f"{(time.monotonic() - started) * 1000 / (jobs // 4 * 4):.3f}")
EOF
}

# The same with task-spooler: 4 shell loops of `tsp true`, then `tsp -w` on the last.
tsp_run() {
    export TS_SOCKET="$work/tsp.$1.socket" TS_MAXFINISHED=100000 TMPDIR="$work"
    tsp -K 2>/dev/null || true
    local started ended per=$((jobs / 4))
    started=$(date +%s%N)
    for _ in 1 2 3 4; do
        (for _ in $(seq "$per"); do tsp -n true >/dev/null; done) &
    done
    wait
    tsp -w "$(tsp -l | awk 'NR > 1 { id = $1 } END { print id }' | sort -n | tail -1)" >/dev/null 2>&1 || true
    while tsp -l | awk 'NR > 1 && $2 != "finished"' | grep -q .; do sleep 0.002; done
    ended=$(date +%s%N)
    tsp -K 2>/dev/null || true
    awk -v n="$((per * 4))" -v t="$((ended - started))" 'BEGIN { printf "%.3f\n", t / 1e6 / n }'
}

port=18800
printf '%-40s %-4s %14s\n' what run ms_per_job
for run in $(seq 1 "$runs"); do
    for binary in "$@"; do
        port=$((port + 1))
        setsid "$binary" --bind "127.0.0.1:$port" --experiments "$work/$port" \
            --command true --capacity 100000 >"$work/$port.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/backlog" >/dev/null && break
            sleep 0.05
        done
        printf '%-40s %-4s %14s\n' "$binary" "$run" "$(seqspool_run "$port")"
        kill -TERM "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
    done
    if command -v tsp >/dev/null; then
        printf '%-40s %-4s %14s\n' "task-spooler $(tsp -V 2>&1 | head -1 | awk '{ print $NF }')" "$run" "$(tsp_run "$run")"
    fi
done
