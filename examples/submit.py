#!/usr/bin/env python3
"""Submit a sequence or a FASTA file to a seqspool server and wait for the end.

    python3 examples/submit.py primer-F1 ACGTACGTTGCA
    python3 examples/submit.py --fasta plate.fasta --pipeline blastn --param evalue=1e-10

The server is $SEQSPOOL_URL (or --server; default http://127.0.0.1:8000), and
the token, on a server for members, $SEQSPOOL_TOKEN (or the file --token-file
names): never an argument, which everyone on the machine can read.

Prints the experiment's id (or the batch's and each experiment's), its place
in the queue and when it should start and finish, waits until every
experiment has finished, then prints how each ended, its files and, if the
built-in analysis ran, analysis.json. Exits 0 if every experiment is
COMPLETE, 1 if one ended otherwise or the server refused (its reason is
printed), 2 on bad arguments.

It does not poll: it asks `GET /experiments/{id}?wait=S`, which the server
answers as soon as the experiment has finished, or after S seconds with the
record as it is then (then it asks again). A batch runs first in first out,
so it waits for each experiment in turn.

It uses only the Python standard library, so it runs wherever python3 does,
and its functions serve a notebook as they are:

    import sys; sys.path.insert(0, "examples")
    import submit
    lab = submit.Server()                     # $SEQSPOOL_URL, $SEQSPOOL_TOKEN
    ids = submit.submit(lab, fasta="plate.fasta", pipeline="blastn",
                        params={"evalue": "1e-10"})
    records = submit.wait(lab, ids)
    hits = lab.call("GET", f"/experiments/{ids[0]}/files/hits.tsv")
"""

import argparse
import datetime
import json
import os
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

# Where seqspool serves by default.
DEFAULT_URL = "http://127.0.0.1:8000"


class Failure(Exception):
    """A problem worth one line on stderr and exit code 1."""


class Server:
    """A seqspool server, and the token its requests carry (if any)."""

    def __init__(self, url=None, token=None):
        self.url = (url or os.environ.get("SEQSPOOL_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("SEQSPOOL_TOKEN", "").strip() or None

    def call(self, method, path, form=None, body=None, content_type=None, timeout=SLACK):
        """Sends one request and returns the parsed JSON answer (or the text)."""
        headers = {"Accept": "application/json"}
        if form is not None:
            body = urllib.parse.urlencode(form).encode("utf-8")
            content_type = "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                raw = answer.read()
                media = answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raise Failure(f"{method} {path}: {err.code}: {self.reason(err)}") from None
        except urllib.error.URLError as err:
            raise Failure(f"cannot reach seqspool at {self.url}: {err.reason}") from None
        except OSError as err:
            raise Failure(f"talking to seqspool at {self.url}: {err}") from None
        if media.startswith("application/json"):
            return json.loads(raw)
        return raw.decode("utf-8", "replace")

    def reason(self, err):
        """The server's reason for a refusal ({"msg", "field"?}), and what to do about a 401."""
        raw = err.read()
        try:
            problem = json.loads(raw)
            message = problem["msg"]
            field = problem.get("field")
            if field and field not in message:
                message += f" (field {field})"
        except (ValueError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace").strip() or err.reason
        if err.code == 401 and not self.token:
            message += ("; set SEQSPOOL_TOKEN to your token (an operator gives you one: "
                        "`seqspool user add NAME` on the server)")
        elif err.code == 401:
            message += "; check your token, or ask an operator for a new one (`seqspool user rotate NAME`)"
        return message


def submit(server, name=None, sequence=None, fasta=None, pipeline=None, params=None):
    """Submits one sequence (`name`, `sequence`) or a FASTA/FASTQ file (`fasta`,
    a path); returns the experiments' ids (several for a file of several records)."""
    settings = []
    if pipeline:
        settings.append(("pipeline", pipeline))
    for key, value in (params or {}).items():
        settings.append((f"param.{key}", value))
    if fasta is not None:
        with open(fasta, "rb") as file:
            text = file.read()
        # The query string carries the settings for any body; the file's name names the batch.
        query = urllib.parse.urlencode([("name", os.path.basename(fasta))] + settings)
        answer = server.call("POST", f"/experiments?{query}", body=text, content_type="text/x-fasta")
    else:
        answer = server.call("POST", "/experiments",
                             form=[("query_name", name), ("query_sequence", sequence)] + settings)
    if "experiments" in answer:
        return [record["id"] for record in answer["experiments"]], answer
    return [answer["id"]], answer


def wait(server, ids, longest=3600, each=60, on_change=None):
    """Waits until every experiment of `ids` has finished, at most `longest`
    seconds; returns their final records, by id. `on_change(record)` is told of
    each change of state seen on the way."""
    deadline = time.monotonic() + longest
    records = {}
    for experiment in ids:
        record, last_state = None, None
        while record is None or record["state"] not in FINAL_STATES:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(
                    f"experiment {experiment} is still {last_state} after {longest:g} s; "
                    f"it keeps its place: GET /experiments/{experiment} later"
                )
            # Answered as soon as it has finished, or after `held` with its record as it is.
            held = max(0.1, min(left, each, MAX_WAIT))
            record = server.call("GET", f"/experiments/{experiment}?wait={held:.1f}", timeout=held + SLACK)
            if record["state"] != last_state and on_change:
                on_change(record)
            last_state = record["state"]
        records[experiment] = record
    return records


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


def where(record):
    """Its place in the queue (or its state), and the estimate."""
    place = f"queue position {record['position']}" if "position" in record else record["state"]
    expected = estimate(record)
    return place + (f"; {expected}" if expected else "")


def show(server, record):
    """How one experiment ended: its state, error, files and analysis."""
    experiment = record["id"]
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
        analysis = server.call("GET", f"/experiments/{experiment}/files/analysis.json")
        print("analysis.json:")
        print(json.dumps(analysis, indent=2))


def run(args):
    token = None
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as file:
            token = file.read().strip()
    server = Server(args.server, token)
    ids, answer = submit(server, args.name, args.sequence, args.fasta, args.pipeline, dict(args.param))
    if "batch" in answer:
        print(f"submitted batch {answer['batch']}: {len(ids)} experiments, {ids[0]} to {ids[-1]}")
        print(f"experiment {ids[0]}: {where(answer['experiments'][0])}")
    else:
        print(f"submitted experiment {ids[0]}, {where(answer)}")

    def changed(record):
        if record["state"] not in FINAL_STATES:
            print(f"experiment {record['id']}: {where(record)}")

    records = wait(server, ids, args.max_wait, args.wait, changed)
    if len(ids) == 1:
        show(server, records[ids[0]])
    else:
        width = max(len("name"), *(len(records[i]["query_name"]) for i in ids))
        print(f"{'id':<8} {'name':<{width}} state")
        for i in ids:
            line = f"{i:<8} {records[i]['query_name']:<{width}} {records[i]['state']}"
            if records[i].get("error"):
                line += f"  ({records[i]['error']})"
            print(line)
    failed = [i for i in ids if records[i]["state"] != "COMPLETE"]
    if failed and len(ids) > 1:
        print(f"{len(failed)} of {len(ids)} did not complete; see each one's stderr.txt", file=sys.stderr)
    return 1 if failed else 0


def parameter(text):
    """NAME=VALUE, a parameter of the pipeline."""
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE (--param evalue=1e-10)")
    return name, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help=f"seqspool's address (default: $SEQSPOOL_URL or {DEFAULT_URL})")
    parser.add_argument("--token-file", metavar="FILE",
                        help="a file holding your token (default: the token in $SEQSPOOL_TOKEN)")
    parser.add_argument("--fasta", metavar="FILE", help="a FASTA or FASTQ file to submit instead of one sequence")
    parser.add_argument("--pipeline", metavar="NAME", help="the pipeline to run (default: the server's first)")
    parser.add_argument("--param", type=parameter, action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the pipeline; repeat it for several")
    parser.add_argument("--max-wait", type=float, default=3600, metavar="SECS",
                        help="give up waiting after this many seconds (default: %(default)s)")
    parser.add_argument("--wait", type=float, default=60, metavar="SECS",
                        help="longest one request waits for the end, at most %d (default: %%(default)s)" % MAX_WAIT)
    parser.add_argument("name", nargs="?", help="the experiment's name (query_name)")
    parser.add_argument("sequence", nargs="?",
                        help="the sequence (query_sequence): letters, optionally after a >header line")
    args = parser.parse_args()
    if (args.fasta is None) == (args.sequence is None):
        parser.error("give a NAME and a SEQUENCE, or --fasta FILE")
    if not args.wait > 0:
        parser.error("--wait must be more than 0 seconds")
    try:
        return run(args)
    except Failure as err:
        print(f"submit.py: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"submit.py: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
