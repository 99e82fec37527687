#!/usr/bin/env bash
# A warm pipeline beside the same tool run per experiment: bench/warm_tool.py
# takes LOAD seconds to get ready (a model to load) and then answers at once.
# JOBS experiments go to a warm pipeline (one start, then JOBS answers) and
# as many to a local one (JOBS starts), each on a fresh server, timed from
# the first submission to the last completion. The warm figure includes its
# processor's start: nothing is preloaded. The two alternate, run after run,
# so a change in the machine's load falls on both; the table at the end
# gives the median of the runs, with the fastest and the slowest.
#
#   cargo build --release && bash bench/warm.sh target/release/seqspool
#
# Environment: RUNS (default 5), JOBS (default 20), LOAD (default 2).
set -euo pipefail

runs=${RUNS:-5}
jobs=${JOBS:-20}
load=${LOAD:-2}
(($# == 1)) || { echo "usage: bash bench/warm.sh BINARY" >&2; exit 2; }
binary=$(realpath "$1")
command -v python3 >/dev/null || { echo "warm.sh: needs python3" >&2; exit 2; }
tool=$(realpath "$(dirname "$0")/warm_tool.py")

work=$(mktemp -d)
pid=
cleanup() {
    [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/bench.toml" <<TOML
[[pipeline]]
name = "warm"
executor = "warm"
command = ["python3", "$tool"]
env = { LOAD = "$load" }

[[pipeline]]
name = "local"
command = ["python3", "$tool"]
env = { LOAD = "$load" }
TOML

# Submits $jobs experiments to pipeline $2 of the server on port $1, waits
# until the backlog is empty, and prints the seconds it took.
timed() {
    python3 - "$1" "$2" "$jobs" <<'PY'
import http.client, json, sys, time
port, pipeline, jobs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
started = time.monotonic()
for n in range(jobs):
    body = json.dumps({"query_name": f"q{n}", "query_sequence": "ACGTACGTACGT", "pipeline": pipeline})
    conn.request("POST", "/experiments", body, {"Content-Type": "application/json"})
    answer = conn.getresponse(); answer.read()
    assert answer.status == 202, answer.status
while True:
    conn.request("GET", "/backlog"); text = conn.getresponse().read().decode()
    if "Currently 0 jobs" in text: break
    time.sleep(0.01)
elapsed = time.monotonic() - started
conn.request("GET", f"/experiments?state=COMPLETE&limit={jobs}")
done = len(json.loads(conn.getresponse().read())["experiments"])
assert done == jobs, f"{done} of {jobs} complete"
print(f"{elapsed:.2f}")
PY
}

port=18900
echo "$(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); LOAD=$load s, JOBS=$jobs"
printf '%-6s %-4s %5s %9s %17s\n' what run jobs seconds per_experiment
for run in $(seq 1 "$runs"); do
    for pipeline in warm local; do
        port=$((port + 1))
        setsid "$binary" --bind "127.0.0.1:$port" --experiments "$work/$port" \
            --config "$work/bench.toml" >"$work/$port.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/backlog" >/dev/null && break
            sleep 0.05
        done
        seconds=$(timed "$port" "$pipeline")
        kill -TERM "$pid"; wait "$pid" || true; pid=
        starts=$(grep -c "started its warm processor" "$work/$port.log" || true)
        awk -v w="$pipeline" -v r="$run" -v n="$jobs" -v s="$seconds" -v st="$starts" \
            'BEGIN { printf "%-6s %-4s %5d %9.2f %15.3f s%s\n", w, r, n, s, s / n, (w == "warm" ? "  (" st " processor start)" : "") }'
        echo "$pipeline $seconds" >>"$work/seconds"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# The median of each, the fastest and the slowest run, side by side.
python3 - "$work/seconds" "$jobs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    what, seconds = line.split()
    runs.setdefault(what, []).append(float(seconds))
jobs = int(sys.argv[2])
print(f"| {jobs} experiments | runs | median | min | max | per experiment (median) |")
print("| --- | --- | --- | --- | --- | --- |")
for what, label in (("warm", "warm (one processor)"), ("local", "local (one process each)")):
    s = runs[what]
    m = statistics.median(s)
    print(f"| {label} | {len(s)} | {m:.2f} s | {min(s):.2f} s | {max(s):.2f} s | {m / jobs:.3f} s |")
print(f"| local / warm | | {statistics.median(runs['local']) / statistics.median(runs['warm']):.1f}x | | | |")
PY
