#!/bin/sh
# A seqspool pipeline: blastn of the experiment's query against a nucleotide
# BLAST database. examples/seqspool.toml declares it; it also works as a plain
# processing command:
#
#   seqspool --command 'sh /path/to/examples/pipelines/blastn.sh'   (with BLAST_DB set)
#
# It runs in the experiment's directory and writes there:
#   hits.asn   the BLAST archive (ASN.1): the search itself, re-formattable later
#   hits.tsv   one line per hit, tab-separated, after a header line naming the
#              columns: the standard 12 of -outfmt 6, then stitle (the hit's title)
#   hits.xml   the BLAST XML report (-outfmt 5)
# The search runs once; both reports are formatted from its archive, so a long
# search is never paid for twice. It exits with BLAST's own exit code.
#
# Environment:
#   BLAST_DB        required: the database, as blastn's -db takes it (an absolute
#                   path, or a name found through BLASTDB)
#   QUERY_FASTA     the query; seqspool sets it (default: query.fasta)
#   PARAM_EVALUE    optional: -evalue, e.g. 1e-5
#   PARAM_MAX_HITS  optional: -max_target_seqs, e.g. 50
#   PARAM_WORD_SIZE optional: -word_size
#   PARAM_REWARD, PARAM_PENALTY  optional: -reward, -penalty (a pair BLAST supports, e.g. 1 and -2)
#   PARAM_GAPCOSTS  optional: "OPEN EXTEND", e.g. "5 2": -gapopen, -gapextend
#   PARAM_FILTER    optional: true or false: -dust yes or no (low-complexity filtering)
#   PARAM_QUERY_FROM, PARAM_QUERY_TO  optional: search only that part of the query (-query_loc)
#   PARAM_TASK      optional: -task: megablast, blastn, blastn-short or dc-megablast
#   BLASTN_OPTIONS  optional extra blastn options, split on spaces, e.g.
#                   '-num_threads 4'; the operator's, never a client's
# seqspool checks the PARAM_ values against the pipeline's declaration before
# an experiment is accepted; they are quoted here all the same.

COLUMNS='qseqid sseqid pident length mismatch gapopen qstart qend sstart send evalue bitscore stitle'

if [ -z "${BLAST_DB:-}" ]; then
    echo "blastn.sh: BLAST_DB is not set; set it to the BLAST database to search (built with makeblastdb)" >&2
    exit 2
fi
query=${QUERY_FASTA:-query.fasta}
# A run after an interruption must not leave the reports of the one before.
rm -f hits.asn hits.tsv hits.xml

# The command line, each parameter one quoted word of it.
set -- -query "$query" -db "$BLAST_DB" -outfmt 11 -out hits.asn
if [ -n "${PARAM_TASK:-}" ]; then set -- "$@" -task "$PARAM_TASK"; fi
if [ -n "${PARAM_EVALUE:-}" ]; then set -- "$@" -evalue "$PARAM_EVALUE"; fi
if [ -n "${PARAM_MAX_HITS:-}" ]; then set -- "$@" -max_target_seqs "$PARAM_MAX_HITS"; fi
if [ -n "${PARAM_WORD_SIZE:-}" ]; then set -- "$@" -word_size "$PARAM_WORD_SIZE"; fi
if [ -n "${PARAM_REWARD:-}" ]; then set -- "$@" -reward "$PARAM_REWARD"; fi
if [ -n "${PARAM_PENALTY:-}" ]; then set -- "$@" -penalty "$PARAM_PENALTY"; fi
if [ -n "${PARAM_FILTER:-}" ]; then
    if [ "$PARAM_FILTER" = true ]; then set -- "$@" -dust yes; else set -- "$@" -dust no; fi
fi
if [ -n "${PARAM_GAPCOSTS:-}" ]; then
    # Two numbers, as the pipeline's pattern checked: the opening cost, then the extension's.
    set -- "$@" -gapopen "${PARAM_GAPCOSTS%% *}" -gapextend "${PARAM_GAPCOSTS##* }"
fi
if [ -n "${PARAM_QUERY_FROM:-}" ] || [ -n "${PARAM_QUERY_TO:-}" ]; then
    # A range past the query's end stops at its end.
    set -- "$@" -query_loc "${PARAM_QUERY_FROM:-1}-${PARAM_QUERY_TO:-1000000000}"
fi

# BLASTN_OPTIONS is split into words on purpose: it is the operator's, never a client's.
# shellcheck disable=SC2086
blastn "$@" $BLASTN_OPTIONS
status=$?
if [ "$status" -ne 0 ]; then
    echo "blastn.sh: blastn exited with code $status" >&2
    exit "$status"
fi

printf '%s\n' "$COLUMNS" | tr ' ' '\t' > hits.tsv || exit 1
blast_formatter -archive hits.asn -outfmt "6 $COLUMNS" >> hits.tsv
status=$?
if [ "$status" -ne 0 ]; then
    echo "blastn.sh: blast_formatter (tabular) exited with code $status" >&2
    exit "$status"
fi

blast_formatter -archive hits.asn -outfmt 5 -out hits.xml
status=$?
if [ "$status" -ne 0 ]; then
    echo "blastn.sh: blast_formatter (XML) exited with code $status" >&2
fi
exit "$status"
