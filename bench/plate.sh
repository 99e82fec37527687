#!/usr/bin/env bash
# A plate is one BLAST run (issue 21): a 96-read plate against a synthetic
# nucleotide database of about 100 MB (2 000 contigs of 50 kb), from the
# upload (one FASTA file, one POST) to the last COMPLETE, side by side in one
# run: seqspool's built-in blastn grouped (the default, --blast-group 100),
# the same server binary with --blast-group 1 (each read alone), and one
# direct `blastn` call of the same 96 queries, the floor (once as a shell
# runs it, once as seqspool's runner runs a command: a session and autogroup
# of its own at nice 19, so both sides wait the same for a loaded machine);
# then a 384-read plate grouped. Medians over RUNS runs, with min and max,
# the load average beside each run, and where the grouped 96-read run's time
# went (its records' times and its results' files' mtimes).
#
#   bash bench/plate.sh target/release/seqspool
#
# Environment: RUNS (default 5). Needs NCBI BLAST+ and python3. The database
# is built once in a temporary directory (a few seconds), and removed after.
set -euo pipefail

runs=${RUNS:-5}
(($# == 1)) || { echo "usage: bash bench/plate.sh BINARY" >&2; exit 2; }
binary=$(realpath "$1")
for tool in python3 blastn makeblastdb blast_formatter blastdbcmd; do
    command -v "$tool" >/dev/null || { echo "plate.sh: needs $tool on the PATH" >&2; exit 2; }
done

work=$(mktemp -d)
pid=
port=
experiments=
cleanup() {
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The database and the plates: fixed seeds, so every run searches the same.
python3 - "$work" <<'EOF'
import random, sys
work = sys.argv[1]
r = random.Random(21)
contigs = []
with open(f"{work}/contigs.fasta", "w") as out:
    for n in range(1, 2001):
        s = "".join(r.choice("ACGT") for _ in range(50_000))
        contigs.append(s)
        out.write(f">contig{n:04d} synthetic contig {n}\n{s}\n")
for size in (96, 384):
    r = random.Random(size)
    rows, cols = (8, 12) if size == 96 else (16, 24)
    with open(f"{work}/plate{size}.fasta", "w") as out:
        for n in range(size):
            well = f"{'ABCDEFGHIJKLMNOP'[n // cols]}{n % cols + 1:02d}"
            length = r.randint(80, 500)
            if n % 10 == 9:  # a read that matches nothing
                read = "".join(r.choice("ACGT") for _ in range(length))
            else:
                c = r.choice(contigs); start = r.randint(0, len(c) - length)
                read = "".join(r.choice("ACGT") if r.random() < 0.02 else b for b in c[start:start + length])
            out.write(f">{well} plate of {size}\n{read}\n")
EOF
mkdir -p "$work/db"
makeblastdb -in "$work/contigs.fasta" -dbtype nucl -parse_seqids -title "synthetic 100 MB" \
    -out "$work/db/contigs" >/dev/null
rm "$work/contigs.fasta"

# Starts a server on a free port with $@: sets pid and port.
start() {
    local dir=$work/run$RANDOM
    mkdir -p "$dir" && : >"$dir/log"
    experiments=$dir/experiments
    "$binary" --experiments "$dir/experiments" --bind 127.0.0.1:0 \
        --blast-databases "$work/db" --capacity 1000 "$@" >/dev/null 2>"$dir/log" &
    pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/log" | grep -o '[0-9]*$' || true)
        [[ -n $port ]] && break
        sleep 0.05
    done
    [[ -n $port ]] || { cat "$dir/log" >&2; exit 1; }
    # The pipelines' checks (blastn -version) run before the first experiment: let them.
    sleep 0.5
}

stop() {
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
}

# Uploads a plate in one POST and waits for its last COMPLETE; prints seconds,
# and appends to $work/phases the seconds from the POST to each step: upload
# answered, first member RUNNING, first member's hits.asn written (BLAST done
# and its archive read), last hits.asn (the split), last hits.tsv (the
# formatter's table split), last COMPLETE.
plate() {
    python3 - "$1" "$2" "$experiments" "$work/phases" <<'EOF'
import datetime, http.client, json, os, sys, time
port, fasta = int(sys.argv[1]), open(sys.argv[2], "rb").read()
experiments, phases = sys.argv[3], sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port)
wall = time.time()
started = time.monotonic()
conn.request("POST", "/experiments?pipeline=blastn&param.database=contigs", fasta,
             {"Content-Type": "text/x-fasta"})
answer = conn.getresponse(); body = json.loads(answer.read())
answered = time.monotonic() - started
assert answer.status == 202, body
batch, last = body["batch"], body["experiments"][-1]["id"]
# The queue runs in order: the plate is done when its last read is.
while True:
    conn.request("GET", f"/experiments/{last}")
    state = json.loads(conn.getresponse().read())["state"]
    if state not in ("QUEUED", "RUNNING"):
        break
    time.sleep(0.01)
elapsed = time.monotonic() - started
conn.request("GET", f"/batches/{batch}")
progress = json.loads(conn.getresponse().read())["progress"]
assert progress["complete"] == progress["total"], progress
print(f"{elapsed:.3f}")
def at(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - wall
records = [json.load(open(f"{experiments}/{e['id']}/experiment.json")) for e in body["experiments"]]
mtimes = lambda name: [os.stat(f"{experiments}/{e['id']}/{name}").st_mtime - wall
                       for e in body["experiments"] if os.path.exists(f"{experiments}/{e['id']}/{name}")]
steps = [answered, min(at(r["started_at"]) for r in records), min(mtimes("hits.asn")),
         max(mtimes("hits.asn")), max(mtimes("hits.tsv")), max(at(r["finished_at"]) for r in records)]
with open(phases, "a") as out:
    out.write(" ".join(f"{s:.3f}" for s in steps) + "\n")
EOF
}

# One blastn call of the 96 queries; with "runner", in a session and autogroup
# of its own at nice 19, as seqspool's runner starts a command.
direct() {
    local start end prefix=()
    [[ ${1:-} == runner ]] && prefix=(setsid -w sh -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 "$@"' sh)
    start=$(date +%s.%N)
    "${prefix[@]}" blastn -query "$work/plate96.fasta" -db "$work/db/contigs" -task megablast -evalue 1e-5 \
        -max_target_seqs 100 -dust yes -num_threads "$(nproc)" -outfmt 11 -out "$work/direct.asn"
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

load() { cut -d' ' -f1 /proc/loadavg; }

direct >/dev/null # a warm page cache for everyone
declare -A times loads
whats=(direct direct-nice19 grouped alone grouped384)
for run in $(seq 1 "$runs"); do
    loads[direct]+="$(load) "; times[direct]+="$(direct) "
    loads[direct-nice19]+="$(load) "; times[direct-nice19]+="$(direct runner) "
    loads[grouped]+="$(load) "; start; times[grouped]+="$(plate "$port" "$work/plate96.fasta") "; stop
    cat "$work/phases" >>"$work/phases.grouped96"
    loads[alone]+="$(load) "; start --blast-group 1; times[alone]+="$(plate "$port" "$work/plate96.fasta") "; stop
    loads[grouped384]+="$(load) "; start; times[grouped384]+="$(plate "$port" "$work/plate384.fasta") "; stop
    rm "$work/phases"
    line="run $run:"
    for what in "${whats[@]}"; do
        line+=" $what $(awk '{print $NF}' <<<"${times[$what]}") (load $(awk '{print $NF}' <<<"${loads[$what]}"));"
    done
    echo "$line" >&2
done
stats() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "%7.3f  %7.3f  %7.3f", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), a[1], a[NR]}'; }
printf '%-14s %7s  %7s  %7s   %s\n' what median min max 'load averages'
for what in "${whats[@]}"; do
    printf '%-14s %s   %s\n' "$what" "$(stats <<<"${times[$what]}")" "${loads[$what]}"
done
echo
echo "grouped 96, seconds from the POST (median, min, max):"
n=0
for step in answered first-running first-hits.asn last-hits.asn last-hits.tsv last-complete; do
    n=$((n + 1))
    printf '  %-15s %s\n' "$step" "$(awk -v n=$n '{print $n}' "$work/phases.grouped96" | stats)"
done
