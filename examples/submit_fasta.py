#!/usr/bin/env python3
"""Submit a FASTA file to a seqspool server and wait until its experiments finish.

    pip install requests
    python3 examples/submit_fasta.py plate.fasta
    python3 examples/submit_fasta.py --server http://lab-ws:8000 --interval 10 plate.fasta

The file is uploaded as a browser uploads it (multipart/form-data, field
"file"); each FASTA record becomes one experiment, named by its header. The
script prints the batch id and the experiment ids, polls the batch until every
experiment has finished, and prints a table of them.

Exit status: 0 if every experiment is COMPLETE, 1 if one is not, 2 if the
server refused the file (the reason is printed), 3 if waiting timed out.
"""

import argparse
import os
import sys
import time

import requests

FINISHED = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"}
# The largest page GET /experiments gives; a bigger batch is read page by page.
MAX_PAGE = 1000


def submit(server, path):
    """Uploads the FASTA file; returns (batch id or None, [experiment ids])."""
    with open(path, "rb") as fasta:
        files = {"file": (os.path.basename(path), fasta, "application/octet-stream")}
        answer = requests.post(f"{server}/experiments", files=files, timeout=60)
    if answer.status_code != 202:
        try:
            reason = answer.json()["msg"]
        except ValueError:
            reason = answer.text
        hint = ""
        if answer.status_code == 503:
            hint = f" (retry after {answer.headers.get('Retry-After', 'a few')} s)"
        print(f"refused ({answer.status_code}): {reason}{hint}", file=sys.stderr)
        sys.exit(2)
    body = answer.json()
    if "batch" in body:
        return body["batch"], [e["id"] for e in body["experiments"]]
    return None, [body["id"]]


def fetch(server, batch, ids):
    """The current records of the submitted experiments, by id."""
    if batch is None:
        answer = requests.get(f"{server}/experiments/{ids[0]}", timeout=30)
        answer.raise_for_status()
        return {ids[0]: answer.json()}
    records = {}
    params = {"batch": batch, "limit": min(len(ids), MAX_PAGE)}
    while True:
        answer = requests.get(f"{server}/experiments", params=params, timeout=30)
        answer.raise_for_status()
        page = answer.json()
        for record in page["experiments"]:
            records[record["id"]] = record
        if not page.get("next_page_token"):
            return records
        params["page_token"] = page["next_page_token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fasta", help="the FASTA file to submit (one or more records)")
    parser.add_argument("--server", default=os.environ.get("SEQSPOOL_URL", "http://127.0.0.1:8000"),
                        help="the seqspool server (default: $SEQSPOOL_URL or http://127.0.0.1:8000)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    parser.add_argument("--timeout", type=float, default=24 * 3600,
                        help="give up waiting after this many seconds (default: a day)")
    args = parser.parse_args()
    server = args.server.rstrip("/")

    batch, ids = submit(server, args.fasta)
    if batch is not None:
        print(f"batch {batch}: {len(ids)} experiments, {ids[0]} to {ids[-1]}")
    else:
        print(f"experiment {ids[0]}")
    print("ids:", " ".join(ids))

    deadline = time.monotonic() + args.timeout
    reported = None
    while True:
        records = fetch(server, batch, ids)
        done = sum(1 for r in records.values() if r["state"] in FINISHED)
        if done != reported:
            print(f"{done} of {len(ids)} finished", file=sys.stderr)
            reported = done
        if done == len(ids):
            break
        if time.monotonic() > deadline:
            print(f"timed out after {args.timeout:g} s with {len(ids) - done} still waiting or running",
                  file=sys.stderr)
            sys.exit(3)
        time.sleep(args.interval)

    width = max(len("name"), *(len(records[i]["query_name"]) for i in ids))
    print(f"{'id':<8} {'name':<{width}} state")
    for i in ids:
        record = records[i]
        line = f"{i:<8} {record['query_name']:<{width}} {record['state']}"
        if record["state"] != "COMPLETE" and record.get("error"):
            line += f"  ({record['error']})"
        print(line)
    failed = sum(1 for i in ids if records[i]["state"] != "COMPLETE")
    if failed:
        print(f"{failed} of {len(ids)} did not complete; see each experiment's stderr.txt", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
