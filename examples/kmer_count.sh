#!/bin/sh
# Counts the k-mers of an experiment's query: a real processing command for
# seqspool that needs nothing but a POSIX shell, awk and sort.
#
#   seqspool --command "sh /absolute/path/to/examples/kmer_count.sh"
#
# seqspool runs it in the experiment's directory with QUERY_FASTA naming the
# query (one FASTA record). It writes kmers.tsv there: a header line
# "kmer<TAB>count", then every k-mer of the sequence with its count, most
# frequent first, ties in alphabetical order. k is PARAM_K (the `k` parameter of
# the kmer pipeline in examples/seqspool.toml), else K, else 3.
set -eu

k=${PARAM_K:-${K:-3}}
case $k in
    '' | *[!0-9]* | 0*)
        echo "kmer_count: k (PARAM_K or K) must be a whole number of at least 1, not '$k'" >&2
        exit 2
        ;;
esac
fasta=${QUERY_FASTA:?kmer_count: QUERY_FASTA is not set; seqspool sets it to the query file}

# awk joins the sequence lines (header lines skipped), counts every window of
# k letters into a scratch file and prints the summary; sort then orders the
# counts, since POSIX awk cannot sort.
awk -v k="$k" -v out=kmers.unsorted '
    /^>/ { next }
    { gsub(/[ \t\r]/, ""); sequence = sequence toupper($0) }
    END {
        n = length(sequence)
        if (n < k) {
            printf "kmer_count: the sequence has %d residues, fewer than k = %d\n", n, k > "/dev/stderr"
            exit 3
        }
        for (i = 1; i <= n - k + 1; i++) count[substr(sequence, i, k)]++
        distinct = 0
        for (kmer in count) {
            printf "%s\t%d\n", kmer, count[kmer] > out
            distinct++
        }
        printf "%d residues, %d %d-mers, %d distinct\n", n, n - k + 1, k, distinct
    }
' "$fasta"

tab=$(printf '\t')
{
    printf 'kmer\tcount\n'
    LC_ALL=C sort -t "$tab" -k2,2nr -k1,1 kmers.unsorted
} >kmers.tsv
rm -f kmers.unsorted
