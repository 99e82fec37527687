#!/usr/bin/env python3
"""Writes reference.fasta: the small, made-up nucleotide database of the examples.

The sequences are random (a fixed seed, so the file is the same on every run),
each with its own GC content, 1-3 kb long: enough for makeblastdb and blastn to
behave as on a real database, and small enough to ship. None of them is a real
organism's sequence. Run it from anywhere: python3 examples/data/make_reference.py
"""

import os
import random

SEED = 20240604
# Name, description and GC content of each sequence.
RECORDS = [
    ("ref01", "synthetic plasmid backbone fragment", 0.52),
    ("ref02", "synthetic 16S-like ribosomal RNA gene", 0.55),
    ("ref03", "synthetic GFP-like reporter cassette", 0.47),
    ("ref04", "synthetic chitinase-like coding sequence", 0.50),
    ("ref05", "synthetic promoter and 5' UTR region", 0.41),
    ("ref06", "synthetic transposase-like open reading frame", 0.45),
    ("ref07", "synthetic AT-rich intergenic region", 0.31),
    ("ref08", "synthetic GC-rich actinobacterial-like gene", 0.69),
]
WIDTH = 70


def main():
    rng = random.Random(SEED)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.fasta")
    with open(out, "w", newline="\n") as fasta:
        for name, description, gc in RECORDS:
            length = rng.randint(1000, 3000)
            weights = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
            sequence = "".join(rng.choices("ACGT", weights=weights, k=length))
            fasta.write(f">{name} {description}, made up for seqspool ({length} bp)\n")
            for start in range(0, length, WIDTH):
                fasta.write(sequence[start:start + WIDTH] + "\n")


if __name__ == "__main__":
    main()
