#!/bin/sh
# Counts the letters of each query: an example of a grouped command, which
# one run serves several experiments with (a pipeline with `group = N`).
#
#   [[pipeline]]
#   name = "letters"
#   command = ["sh", "${CONFIG_DIR}/group_letters.sh"]
#   group = 96
#
# In a group, SEQSPOOL_GROUP names the manifest (a line a member:
# ID<TAB>OUTPUT_DIR<TAB>QUERY_NAME) and QUERY_FASTA holds every member's
# query, each record's id the member's experiment id. It writes letters.tsv
# ("letter<TAB>count", one line a letter) into each member's OUTPUT_DIR, and
# fails a member whose query holds an N, alone, with a file named `failed`
# there (its first line is the reason). Alone (a group of one, or a member
# run again after its group failed), it writes letters.tsv in its own
# directory and exits 1 on an N.
set -eu

fasta=${QUERY_FASTA:?group_letters: QUERY_FASTA is not set; seqspool sets it}
manifest=${SEQSPOOL_GROUP:-}
alone=
if [ -z "$manifest" ]; then
    # One experiment: a manifest of one, whose query is the only record.
    alone=$EXPERIMENT_ID
    manifest=.alone.tsv
    printf '%s\t%s\t%s\n' "$EXPERIMENT_ID" "$EXPERIMENT_DIR" "${QUERY_NAME:-}" > "$manifest"
fi

awk -v alone="$alone" '
    function finish(    out, n, i, letters, count, letter) {
        if (id == "") return
        out = dir[id]
        if (out == "") { print "group_letters: " id " is not in the manifest" > "/dev/stderr"; failures++; return }
        if (sequence ~ /N/) {
            if (alone != "") { print "the query holds an N" > "/dev/stderr"; failures++; return }
            print "the query holds an N" > (out "/failed")
            close(out "/failed")
            return
        }
        n = split(sequence, letters, "")
        for (i = 1; i <= n; i++) count[letters[i]]++
        print "letter\tcount" > (out "/letters.tsv")
        for (letter in count) print letter "\t" count[letter] > (out "/letters.tsv")
        close(out "/letters.tsv")
    }
    FNR == NR { split($0, field, "\t"); dir[field[1]] = field[2]; next }
    /^>/ { finish(); id = alone != "" ? alone : substr($1, 2); sequence = ""; next }
    { gsub(/[ \t\r]/, ""); sequence = sequence toupper($0) }
    END { finish(); exit failures > 0 }
' "$manifest" "$fasta"
