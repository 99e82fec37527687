#!/usr/bin/env python3
"""Writes the small, made-up reference databases of the examples.

reference.fasta           eight nucleotide sequences, ref01 to ref08, 1-3 kb each
reference_proteins.fasta  eight protein sequences, prot01 to prot08

The nucleotide sequences are random (a fixed seed, so the files are the same on
every run), each with its own GC content. Four of them carry an open reading
frame (with a ribosome binding site before it) whose translation is one of the
proteins: a query cut from one finds the other with blastx or tblastn, and the
built-in analysis finds the frame as the longest. prot05 is a paralog of
prot01 (about 75% identical), so a search for either finds both. None of these
sequences is a real organism's; the titles only look like NCBI's.

Enough for makeblastdb, blastn and blastp to behave as on a real database, and
small enough to ship. Run it from anywhere (Python 3.6+, standard library only):

    python3 examples/data/make_reference.py

then build the BLAST databases with examples/data/make_databases.sh.
"""

import os
import random

SEED = 20240604
# Identifier, title and GC content of each nucleotide sequence. The sequences
# are drawn first, in this order, from the one seed: the records without an
# open reading frame are the same, base for base, as before the proteins.
NUCLEOTIDES = [
    ("ref01", "Synthetic construct plasmid pSSP1 backbone fragment", 0.52),
    ("ref02", "Synthetic construct 16S-like ribosomal RNA gene, partial sequence", 0.55),
    ("ref03", "Synthetic construct GFP-like reporter (gfpS) cassette, complete cds", 0.47),
    ("ref04", "Synthetic construct chitinase (chiS) gene, complete cds", 0.50),
    ("ref05", "Synthetic construct promoter and 5' UTR region", 0.41),
    ("ref06", "Synthetic construct insertion sequence ISSsp1 transposase (tnpS) gene, complete cds", 0.45),
    ("ref07", "Synthetic construct AT-rich intergenic region", 0.31),
    ("ref08", "Synthetic construct GC-rich actinobacterial-like serine protease (sprS) gene, complete cds", 0.69),
]
# Identifier, title, and length in residues (the stop codon not counted) of
# each protein; the open reading frames place some of them in the nucleotide
# sequences, and PARALOG derives one from another.
PROTEINS = [
    ("prot01", "chitinase ChiS [synthetic construct]", 420),
    ("prot02", "GFP-like fluorescent reporter protein GfpS [synthetic construct]", 239),
    ("prot03", "IS element transposase TnpS [synthetic construct]", 402),
    ("prot04", "secreted serine protease SprS [synthetic construct]", 350),
    ("prot05", "chitinase ChiT, ChiS paralog [synthetic construct]", 420),
    ("prot06", "class A beta-lactamase-like protein BlaS [synthetic construct]", 286),
    ("prot07", "lysozyme-like protein LysS [synthetic construct]", 164),
    ("prot08", "thioredoxin-like protein TrxS [synthetic construct]", 108),
]
# Protein encoded by which nucleotide sequence, and where its start codon is
# (1-based): reference.fasta's ORFs.
ORFS = [
    ("prot02", "ref03", 301),
    ("prot01", "ref04", 201),
    ("prot03", "ref06", 901),
    ("prot04", "ref08", 1001),
]
# prot05 is prot01 with this share of its residues (all but the first) changed.
PARALOG = ("prot05", "prot01", 0.25)
# The ribosome binding site, this many bases before each start codon.
RBS, RBS_GAP = "AGGAGG", 7

# Amino acids with their frequencies in UniProtKB/Swiss-Prot, in percent.
AMINO_ACIDS = {
    "A": 8.25, "R": 5.53, "N": 4.06, "D": 5.45, "C": 1.37, "Q": 3.93, "E": 6.75,
    "G": 7.07, "H": 2.27, "I": 5.96, "L": 9.66, "K": 5.84, "M": 2.42, "F": 3.86,
    "P": 4.70, "S": 6.56, "T": 5.34, "W": 1.08, "Y": 2.92, "V": 6.87,
}
# The standard genetic code (NCBI table 1), by amino acid; "*" is stop.
CODONS = {
    "A": ["GCT", "GCC", "GCA", "GCG"], "R": ["CGT", "CGC", "CGA", "CGG", "AGA", "AGG"],
    "N": ["AAT", "AAC"], "D": ["GAT", "GAC"], "C": ["TGT", "TGC"], "Q": ["CAA", "CAG"],
    "E": ["GAA", "GAG"], "G": ["GGT", "GGC", "GGA", "GGG"], "H": ["CAT", "CAC"],
    "I": ["ATT", "ATC", "ATA"], "L": ["TTA", "TTG", "CTT", "CTC", "CTA", "CTG"],
    "K": ["AAA", "AAG"], "M": ["ATG"], "F": ["TTT", "TTC"],
    "P": ["CCT", "CCC", "CCA", "CCG"], "S": ["TCT", "TCC", "TCA", "TCG", "AGT", "AGC"],
    "T": ["ACT", "ACC", "ACA", "ACG"], "W": ["TGG"], "Y": ["TAT", "TAC"],
    "V": ["GTT", "GTC", "GTA", "GTG"], "*": ["TAA", "TAG", "TGA"],
}
NUCLEOTIDE_WIDTH = 70
PROTEIN_WIDTH = 60


def base_weights(gc):
    return {"A": (1 - gc) / 2, "C": gc / 2, "G": gc / 2, "T": (1 - gc) / 2}


def random_protein(rng, length):
    residues = list(AMINO_ACIDS)
    weights = list(AMINO_ACIDS.values())
    return "M" + "".join(rng.choices(residues, weights=weights, k=length - 1))


def paralog(rng, protein, share):
    residues = list(AMINO_ACIDS)
    weights = list(AMINO_ACIDS.values())
    changed = list(protein)
    for i in rng.sample(range(1, len(protein)), round(share * (len(protein) - 1))):
        changed[i] = rng.choice([r for r in residues if r != protein[i]])
    return "".join(changed)


def back_translate(rng, protein, gc):
    """An open reading frame for `protein`, stop codon included, its codons
    chosen as a genome of this GC content would."""
    weights = base_weights(gc)
    frame = []
    for residue in protein + "*":
        codons = CODONS[residue]
        score = [weights[c[0]] * weights[c[1]] * weights[c[2]] for c in codons]
        frame.append(rng.choices(codons, weights=score)[0])
    return "".join(frame)


def translate(frame):
    table = {codon: aa for aa, codons in CODONS.items() for codon in codons}
    return "".join(table[frame[i:i + 3]] for i in range(0, len(frame) - 2, 3))


def write_fasta(path, records, width):
    with open(path, "w", newline="\n") as fasta:
        for name, title, sequence in records:
            fasta.write(f">{name} {title}\n")
            for start in range(0, len(sequence), width):
                fasta.write(sequence[start:start + width] + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))

    rng = random.Random(SEED)
    nucleotides = {}
    for name, _, gc in NUCLEOTIDES:
        length = rng.randint(1000, 3000)
        weights = base_weights(gc)
        nucleotides[name] = "".join(rng.choices("ACGT", weights=list(weights.values()), k=length))

    # A second stream for what came later, so the sequences above stay as they were.
    rng = random.Random(SEED + 1)
    proteins = {name: random_protein(rng, length) for name, _, length in PROTEINS}
    name, parent, share = PARALOG
    proteins[name] = paralog(rng, proteins[parent], share)

    gc_of = {name: gc for name, _, gc in NUCLEOTIDES}
    for protein, host, start in ORFS:
        frame = back_translate(rng, proteins[protein], gc_of[host])
        assert translate(frame) == proteins[protein] + "*"
        sequence = nucleotides[host]
        begin = start - 1
        rbs = begin - RBS_GAP - len(RBS)
        assert rbs >= 0 and begin + len(frame) <= len(sequence), (protein, host)
        nucleotides[host] = (
            sequence[:rbs] + RBS + sequence[rbs + len(RBS):begin]
            + frame + sequence[begin + len(frame):]
        )

    write_fasta(
        os.path.join(here, "reference.fasta"),
        [(name, title, nucleotides[name]) for name, title, _ in NUCLEOTIDES],
        NUCLEOTIDE_WIDTH,
    )
    encoded = {protein: (host, start) for protein, host, start in ORFS}
    records = []
    for name, title, _ in PROTEINS:
        if name in encoded:
            host, start = encoded[name]
            end = start + 3 * len(proteins[name]) + 2  # the stop codon's last base
            title = f"{title} (encoded by {host}, bases {start}..{end})"
        records.append((name, title, proteins[name]))
    write_fasta(os.path.join(here, "reference_proteins.fasta"), records, PROTEIN_WIDTH)


if __name__ == "__main__":
    main()
