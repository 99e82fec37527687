#!/usr/bin/env python3
"""A warm processor for seqspool: a k-mer index of a reference, built once.

seqspool starts it once (examples/warm/warm.toml declares the pipeline) and
hands it one experiment at a time. At start it reads the reference FASTA given
as its argument and indexes every k-mer (K, default 12) of every sequence:
that is the "model" it loads once, where a real processor would load a neural
network onto the GPU or a database into memory. The example's reference
indexes in milliseconds, so the load then waits MODEL_LOAD_SECONDS (default
2): a stand-in for the seconds a real model takes, which is what a warm
pipeline spares each experiment after the first. Set it to 0 to skip it, and
leave it out of your own processor. Then it speaks seqspool's protocol:

  - once loaded, it writes {"ready": true} on the descriptor named by
    SEQSPOOL_ANSWER_FD;
  - for each line on its standard input, a JSON request
    {"id", "dir", "query", "query_name", "pipeline", "params", "attempt"},
    it reads the query file, writes matches.tsv into the experiment's
    directory, and answers {"id": ..., "ok": true}, or {"id": ..., "ok":
    false, "error": "..."} when the query is at fault;
  - it ends when its standard input ends (or at SIGTERM).

Run as a plain local command instead (no SEQSPOOL_ANSWER_FD: the pipeline
kmer-index-cold of warm.toml), it loads, answers the one experiment it runs
in (QUERY_FASTA, PARAM_MIN_SHARED) and exits: the same work, the load paid
by every experiment.

What it prints goes to experiments/.warm/<pipeline>.log, and, while it works
on an experiment, into that experiment's stdout.txt and stderr.txt too.
Standard library only. To wrap your own model, keep main() and replace load()
and answer().
"""

import json
import os
import sys
import time

COMPLEMENT = str.maketrans("ACGTUN", "TGCAAN")


def read_fasta(path):
    """The records of a FASTA file, as (name, sequence) pairs."""
    records, name, parts = [], None, []
    with open(path) as fasta:
        for line in fasta:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(parts).upper()))
                name, parts = (line[1:].split() or ["unnamed"])[0], []
            elif line and not line.startswith(";"):
                parts.append(line)
    if name is not None:
        records.append((name, "".join(parts).upper()))
    return records


def load(reference, k):
    """The model: every k-mer of the reference, with where it occurs."""
    index = {}
    records = read_fasta(reference)
    for number, (_, sequence) in enumerate(records):
        for at in range(len(sequence) - k + 1):
            index.setdefault(sequence[at : at + k], []).append((number, at))
    # The stand-in for a real model's loading time (see the top of this file).
    time.sleep(float(os.environ.get("MODEL_LOAD_SECONDS", "2")))
    return [name for name, _ in records], index


def answer(request, names, index, k):
    """Runs one experiment: writes matches.tsv into its directory."""
    records = read_fasta(request["query"])
    if not records:
        raise ValueError("query.fasta holds no sequence")
    query = records[0][1].replace("U", "T")
    if len(query) < k:
        raise ValueError(f"the query has {len(query)} residues, fewer than k = {k}")
    least = int(request["params"].get("min_shared", "3"))
    rows = []
    for strand, sequence in (("+", query), ("-", query.translate(COMPLEMENT)[::-1])):
        # For each reference: how many query k-mers it holds, and the most
        # common offset between the two (where the query lies in it).
        shared, offsets = {}, {}
        for at in range(len(sequence) - k + 1):
            for number, where in index.get(sequence[at : at + k], ()):
                shared[number] = shared.get(number, 0) + 1
                key = (number, where - at)
                offsets[key] = offsets.get(key, 0) + 1
        for number, count in shared.items():
            if count >= least:
                offset = max((o for o in offsets if o[0] == number), key=offsets.get)[1]
                rows.append((names[number], strand, count, offset + 1))
    rows.sort(key=lambda row: (-row[2], row[0], row[1]))
    kmers = len(query) - k + 1
    with open(os.path.join(request["dir"], "matches.tsv"), "w") as out:
        out.write("reference\tstrand\tshared_kmers\tquery_kmers\tfraction\tstart\n")
        for name, strand, count, start in rows:
            out.write(f"{name}\t{strand}\t{count}\t{kmers}\t{count / kmers:.3f}\t{start}\n")
    print(f"{request['query_name']}: {len(rows)} match(es) among {len(names)} references")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: kmer_processor.py REFERENCE.fasta (run by seqspool as a warm or a local pipeline)")
    k = int(os.environ.get("K", "12"))
    started = time.monotonic()
    names, index = load(sys.argv[1], k)
    print(
        f"indexed {len(names)} sequences, {len(index)} distinct {k}-mers, "
        f"in {time.monotonic() - started:.3f} s",
        flush=True,
    )
    if "SEQSPOOL_ANSWER_FD" not in os.environ:
        # A local command: one experiment, in the directory it runs in.
        request = {
            "dir": ".",
            "query": os.environ.get("QUERY_FASTA", "query.fasta"),
            "query_name": os.environ.get("QUERY_NAME", "query"),
            "params": {"min_shared": os.environ.get("PARAM_MIN_SHARED", "3")},
        }
        try:
            answer(request, names, index, k)
        except (OSError, ValueError) as err:
            sys.exit(f"kmer_processor: {err}")
        return
    answers = os.fdopen(int(os.environ["SEQSPOOL_ANSWER_FD"]), "w", buffering=1)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer(request, names, index, k)
            said = {"id": request["id"], "ok": True}
        except (OSError, ValueError) as err:
            said = {"id": request["id"], "ok": False, "error": str(err)}
        sys.stdout.flush()
        sys.stderr.flush()
        answers.write(json.dumps(said) + "\n")


if __name__ == "__main__":
    main()
