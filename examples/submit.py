#!/usr/bin/env python3
"""Submit one sequence to a seqspool server and wait for its result.

    python3 examples/submit.py --server http://127.0.0.1:8000 my-primer ACGTACGTTGCA

Prints the experiment's id and queue position, polls it every second until it
has finished, then prints its final state, its files and, if the built-in
analysis ran, analysis.json. Exits 0 if the experiment is COMPLETE, 1 if it
ended in any other state or could not be submitted, 2 on bad arguments.

Uses only the Python standard library, so it runs wherever python3 does.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FINAL_STATES = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"}


class Failure(Exception):
    """A problem worth one line on stderr and exit code 1."""


def call(server, method, path, form=None):
    """Sends one request and returns the parsed JSON answer (or the raw text)."""
    url = server.rstrip("/") + path
    data = None
    headers = {"Accept": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            content_type = answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        # seqspool explains every refusal as {"msg", "status_code", "field"?}.
        body = err.read()
        try:
            problem = json.loads(body)
            message = problem["msg"]
            field = problem.get("field")
            if field and field not in message:
                message += f" (field {field})"
        except (ValueError, KeyError, TypeError):
            message = body.decode("utf-8", "replace").strip() or err.reason
        raise Failure(f"{method} {path}: {err.code}: {message}") from None
    except urllib.error.URLError as err:
        raise Failure(f"cannot reach seqspool at {server}: {err.reason}") from None
    except OSError as err:
        raise Failure(f"talking to seqspool at {server}: {err}") from None
    if content_type.startswith("application/json"):
        return json.loads(body)
    return body.decode("utf-8", "replace")


def run(args):
    record = call(
        args.server,
        "POST",
        "/experiments",
        {"query_name": args.name, "query_sequence": args.sequence},
    )
    experiment = record["id"]
    where = f"queue position {record['position']}" if "position" in record else record["state"]
    print(f"submitted experiment {experiment}, {where}")

    deadline = time.monotonic() + args.max_wait
    last_state = record["state"]
    while record["state"] not in FINAL_STATES:
        if time.monotonic() >= deadline:
            raise Failure(
                f"experiment {experiment} is still {record['state']} after {args.max_wait} s; "
                f"it keeps its place: GET /experiments/{experiment} later"
            )
        time.sleep(args.interval)
        record = call(args.server, "GET", f"/experiments/{experiment}")
        if record["state"] != last_state and record["state"] not in FINAL_STATES:
            last_state = record["state"]
            print(f"experiment {experiment}: {last_state}")

    if "files" not in record:
        # It finished before the first poll: the submission's answer lists no files.
        record = call(args.server, "GET", f"/experiments/{experiment}")
    print(f"experiment {experiment} finished: {record['state']}")
    if record.get("exit_code") is not None:
        print(f"exit code: {record['exit_code']}")
    if record.get("error"):
        print(f"error: {record['error']}")
    files = record.get("files", [])
    print("files:")
    for entry in files:
        print(f"  {entry['name']:<20} {entry['size']:>10} bytes")
    if any(entry["name"] == "analysis.json" for entry in files):
        analysis = call(args.server, "GET", f"/experiments/{experiment}/files/analysis.json")
        print("analysis.json:")
        print(json.dumps(analysis, indent=2))
    return 0 if record["state"] == "COMPLETE" else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000", help="seqspool's address (default: %(default)s)")
    parser.add_argument("--max-wait", type=float, default=3600, metavar="SECS",
                        help="give up waiting after this many seconds (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECS",
                        help="seconds between two polls (default: %(default)s)")
    parser.add_argument("name", help="the experiment's name (query_name)")
    parser.add_argument("sequence", help="the sequence (query_sequence): letters, optionally after a >header line")
    args = parser.parse_args()
    try:
        return run(args)
    except Failure as err:
        print(f"submit.py: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
