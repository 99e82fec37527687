#!/bin/sh
# A seqspool processing command: blastn of the experiment's query against a
# nucleotide BLAST database.
#
#   seqspool --command 'sh /path/to/examples/pipelines/blastn.sh'   (with BLAST_DB set)
#
# It runs in the experiment's directory and writes there:
#   hits.asn   the BLAST archive (ASN.1): the search itself, re-formattable later
#   hits.tsv   one line per hit, tab-separated, after a header line naming the columns
#   hits.xml   the BLAST XML report
# The search runs once; both reports are formatted from its archive, so a long
# search is never paid for twice. It exits with BLAST's own exit code.
#
# Environment:
#   BLAST_DB        required: the database, as blastn's -db takes it (an absolute
#                   path, or a name found through BLASTDB)
#   QUERY_FASTA     the query; seqspool sets it (default: query.fasta)
#   BLASTN_OPTIONS  optional extra blastn options, split on spaces, e.g.
#                   '-task blastn-short' for primers, '-num_threads 4', '-evalue 1e-10'

COLUMNS='qseqid sseqid pident length mismatch gapopen qstart qend sstart send evalue bitscore'

if [ -z "${BLAST_DB:-}" ]; then
    echo "blastn.sh: BLAST_DB is not set; set it to the BLAST database to search (built with makeblastdb)" >&2
    exit 2
fi
query=${QUERY_FASTA:-query.fasta}
# A run after an interruption must not leave the reports of the one before.
rm -f hits.asn hits.tsv hits.xml

# BLASTN_OPTIONS is split into words on purpose: it is the operator's, never a client's.
# shellcheck disable=SC2086
blastn -query "$query" -db "$BLAST_DB" -outfmt 11 -out hits.asn $BLASTN_OPTIONS
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
