#!/usr/bin/env python3
"""Submit one sequence to a seqspool server and wait for its result.

    python3 examples/submit.py --server http://127.0.0.1:8000 my-primer ACGTACGTTGCA

Prints the experiment's id, queue position and when it should start and
finish, waits until it has finished, then prints its final state, its files
and, if the built-in analysis ran, analysis.json. Exits 0 if the experiment is
COMPLETE, 1 if it ended in any other state or could not be submitted, 2 on bad
arguments.

It does not poll: it asks `GET /experiments/{id}?wait=S`, which the server
answers as soon as the experiment has finished, or after S seconds with the
record as it is then (then it asks again).

Uses only the Python standard library, so it runs wherever python3 does.
"""

import argparse
import datetime
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FINAL_STATES = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"}

# The longest ?wait= the server grants; it answers a longer one after this.
MAX_WAIT = 300

# How long an answer may take beyond the wait asked for.
SLACK = 30


class Failure(Exception):
    """A problem worth one line on stderr and exit code 1."""


def call(server, method, path, form=None, timeout=SLACK):
    """Sends one request and returns the parsed JSON answer (or the raw text)."""
    url = server.rstrip("/") + path
    data = None
    headers = {"Accept": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
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


def local_time(text):
    """An RFC 3339 instant from the server (UTC), as a local time of day."""
    # fromisoformat() reads a trailing Z only from Python 3.11.
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
    if when.date() == datetime.date.today():
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def estimate(record):
    """When it should start and finish, in words, as the record's eta says."""
    if "eta" not in record:
        return None
    eta = record["eta"]
    if eta is None:
        return "no estimate yet"
    if eta.get("start"):
        return f"expected to start about {local_time(eta['start'])}, to finish about {local_time(eta['finish'])}"
    return f"expected to finish about {local_time(eta['finish'])}"


def run(args):
    record = call(
        args.server,
        "POST",
        "/experiments",
        {"query_name": args.name, "query_sequence": args.sequence},
    )
    experiment = record["id"]
    where = f"queue position {record['position']}" if "position" in record else record["state"]
    expected = estimate(record)
    print(f"submitted experiment {experiment}, {where}" + (f"; {expected}" if expected else ""))

    deadline = time.monotonic() + args.max_wait
    last_state = record["state"]
    while record["state"] not in FINAL_STATES:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure(
                f"experiment {experiment} is still {record['state']} after {args.max_wait} s; "
                f"it keeps its place: GET /experiments/{experiment} later"
            )
        # Answered as soon as it has finished, or after `wait` with its record as it is.
        wait = max(0.1, min(left, args.wait, MAX_WAIT))
        record = call(
            args.server,
            "GET",
            f"/experiments/{experiment}?wait={wait:.1f}",
            timeout=wait + SLACK,
        )
        if record["state"] != last_state and record["state"] not in FINAL_STATES:
            last_state = record["state"]
            expected = estimate(record)
            print(f"experiment {experiment}: {last_state}" + (f"; {expected}" if expected else ""))

    if "files" not in record:
        # The submission's answer lists no files.
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
    parser.add_argument("--wait", type=float, default=60, metavar="SECS",
                        help="longest one request waits for the end, at most %d (default: %%(default)s)" % MAX_WAIT)
    parser.add_argument("name", help="the experiment's name (query_name)")
    parser.add_argument("sequence", help="the sequence (query_sequence): letters, optionally after a >header line")
    args = parser.parse_args()
    if not args.wait > 0:
        parser.error("--wait must be more than 0 seconds")
    try:
        return run(args)
    except Failure as err:
        print(f"submit.py: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
