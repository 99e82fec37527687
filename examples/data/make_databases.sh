#!/bin/sh
# Builds the BLAST databases of the examples from the FASTA files beside this
# script:
#
#   OUTDIR/reference           nucleotide, from reference.fasta          (blastn)
#   OUTDIR/reference_proteins  protein, from reference_proteins.fasta    (blastp)
#
#   sh examples/data/make_databases.sh [OUTDIR]
#
# OUTDIR defaults to examples/data/db (git-ignored), where examples/seqspool.toml
# looks. The sequence identifiers are parsed (-parse_seqids), so hits show
# `ref04` and its title, not `gnl|BL_ORD_ID|3`. Needs NCBI BLAST+'s makeblastdb
# (Debian, Ubuntu: apt-get install ncbi-blast+). Running it again rebuilds both.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/db}

if ! command -v makeblastdb >/dev/null 2>&1; then
    echo "make_databases.sh: makeblastdb is not on the PATH; install NCBI BLAST+ (Debian: apt-get install ncbi-blast+)" >&2
    exit 127
fi
mkdir -p "$out"

# makeblastdb prints a summary of each database on stdout.
makeblastdb -in "$here/reference.fasta" -dbtype nucl -parse_seqids \
    -title "seqspool example nucleotide reference (synthetic)" \
    -out "$out/reference"
makeblastdb -in "$here/reference_proteins.fasta" -dbtype prot -parse_seqids \
    -title "seqspool example protein reference (synthetic)" \
    -out "$out/reference_proteins"

echo "BLAST databases in $out: reference (nucleotide), reference_proteins (protein)"
