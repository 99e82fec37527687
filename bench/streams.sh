#!/usr/bin/env bash
# GET /backlog beside idle event streams: wrk's latency on 127.0.0.1 with no
# stream open, then with STREAMS `GET /events` streams open and idle (each
# has read its head and first line, then reads nothing), alternating, RUNS
# times each; then the medians. Also the server's resident memory each way.
# It fails if a stream is not served or a GET /backlog not answered 2xx.
#
#   bash bench/streams.sh target/release/seqspool
#
# Environment: RUNS (default 5), SECS per wrk run (default 10), STREAMS
# (default 1000), CONNECTIONS of wrk (default 1: a lone client's latency;
# 16 loads the server as B1 does).
set -euo pipefail

runs=${RUNS:-5}
secs=${SECS:-10}
streams=${STREAMS:-1000}
connections=${CONNECTIONS:-1}
command -v wrk >/dev/null || { echo "streams.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "streams.sh: needs python3" >&2; exit 2; }
(($# == 1)) || { echo "usage: bash bench/streams.sh BINARY" >&2; exit 2; }
binary=$1

work=$(mktemp -d)
server=""
holder=""
cleanup() {
    [[ -n $holder ]] && kill "$holder" 2>/dev/null || true
    [[ -n $server ]] && kill -TERM "$server" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# One client holds every stream: past the limits a busy lab needs, so room
# for them (and open files for them, in the server and the holder).
ulimit -n "$(ulimit -Hn)"
port=18790
setsid "$binary" --bind "127.0.0.1:$port" --experiments "$work/experiments" \
    --max-connections $((streams * 2)) --max-streams $((streams * 3 / 2)) \
    --max-streams-per-client $((streams * 3 / 2)) >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/backlog" >/dev/null && break
    sleep 0.05
done
curl -sf "http://127.0.0.1:$port/backlog" >/dev/null || {
    echo "streams.sh: the server did not start; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
}

# Opens the streams, says "open" once each has its head and first line, and
# holds them, reading nothing more, until it is killed.
cat >"$work/hold.py" <<'EOF'
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    held.append(s)
for s in held:
    head = b""
    while b"retry:" not in head:
        chunk = s.recv(4096)
        assert chunk, f"a stream was closed: {head[:80]!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
print("open", flush=True)
time.sleep(1e6)
EOF

# p50, p99 (in ms) and requests/s of one wrk run; fails unless every
# request was answered, with a 2xx.
measure() {
    local out
    out=$(wrk -t1 -c"$connections" -d"${secs}s" --latency "http://127.0.0.1:$port/backlog")
    if grep -Eq 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
        printf 'streams.sh: GET /backlog was not always answered 2xx:\n%s\n' "$out" >&2
        return 1
    fi
    awk '
        function ms(d) {
            if (d ~ /us$/) { sub(/us$/, "", d); return d / 1000 }
            if (d ~ /ms$/) { sub(/ms$/, "", d); return d }
            if (d ~ /s$/) { sub(/s$/, "", d); return d * 1000 }
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        END { printf "%.3f %.3f %.0f\n", p50, p99, rps }
    ' <<<"$out"
}

rss() {
    awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$server/status"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

printf '%-4s %-8s %10s %10s %10s %8s\n' run streams p50_ms p99_ms req/s rss_MB
: >"$work/results"
for run in $(seq 1 "$runs"); do
    figures=$(measure)
    read -r p50 p99 rps <<<"$figures"
    printf '%-4s %-8s %10s %10s %10s %8s\n' "$run" 0 "$p50" "$p99" "$rps" "$(rss)"
    echo "0 $p50 $p99 $rps $(rss)" >>"$work/results"

    coproc HOLD { exec python3 "$work/hold.py" "$port" "$streams"; }
    holder=$HOLD_PID
    read -r said <&"${HOLD[0]}"
    [[ $said == open ]] || { echo "streams.sh: the streams did not open" >&2; exit 1; }
    figures=$(measure)
    read -r p50 p99 rps <<<"$figures"
    printf '%-4s %-8s %10s %10s %10s %8s\n' "$run" "$streams" "$p50" "$p99" "$rps" "$(rss)"
    echo "$streams $p50 $p99 $rps $(rss)" >>"$work/results"
    kill "$holder"
    wait "$holder" 2>/dev/null || true
    holder=""
done

echo
printf '%-8s %10s %10s %10s %8s   (medians of %s runs of %s s, wrk -t1 -c%s)\n' \
    streams p50_ms p99_ms req/s rss_MB "$runs" "$secs" "$connections"
for n in 0 "$streams"; do
    printf '%-8s' "$n"
    for column in 2 3 4 5; do
        printf ' %10s' "$(awk -v n="$n" -v c="$column" '$1 == n { print $c }' "$work/results" | median)"
    done
    echo
done
