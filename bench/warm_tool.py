#!/usr/bin/env python3
"""The tool of bench/warm.sh: LOAD seconds to get ready (2 by default), then
an instant answer (the residues of the query, into result.txt).

As a warm processor (seqspool sets SEQSPOOL_ANSWER_FD) it gets ready once
and answers every request; as a local command it gets ready for its one
experiment, in the experiment's directory.
"""

import json
import os
import sys
import time


def work(directory, query):
    with open(query) as fasta:
        residues = sum(len(line.strip()) for line in fasta if not line.startswith(">"))
    with open(os.path.join(directory, "result.txt"), "w") as out:
        out.write(f"{residues}\n")


time.sleep(float(os.environ.get("LOAD", "2")))
answer_fd = os.environ.get("SEQSPOOL_ANSWER_FD")
if answer_fd is None:
    work(".", os.environ["QUERY_FASTA"])
    sys.exit(0)
answers = os.fdopen(int(answer_fd), "w", buffering=1)
answers.write('{"ready": true}\n')
for line in sys.stdin:
    request = json.loads(line)
    work(request["dir"], request["query"])
    answers.write(json.dumps({"id": request["id"], "ok": True}) + "\n")
