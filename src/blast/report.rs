//! BLAST's hits as seqspool reads them: a search's queries, each query's
//! hits, each hit's HSPs with their alignments, and their numbers as
//! BLAST's own reports write them. No HTML here: `ui::results` draws a
//! report (its overview, its table of hits, its alignments), and `results`
//! makes one from a search's archive and keeps it.
//!
//! `blast_formatter` turns the archive into BLAST's JSON (`-outfmt 15`),
//! keeping the first [`MAX_HITS`] hits, and into its tabular bit scores
//! (`-outfmt "6 bitscore"`): the JSON rounds a bit score to six figures,
//! where BLAST's tables truncate the score itself, so a score of 137.9996
//! is 138 in the JSON and 137 in every table BLAST writes. [`Report::from_json`] reads them into
//! the little a page shows, with each alignment cut to [`MAX_ALIGNMENT`]
//! columns; a report is kept as JSON beside the archive
//! (`results::cache`), so a page view does not run BLAST again.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::searched::Database;

/// Hits a report keeps for each query: the table, the overview and the
/// alignments show these; the downloads hold them all.
pub(crate) const MAX_HITS: usize = 100;
/// HSPs kept for one hit.
pub(crate) const MAX_HSPS: usize = 20;
/// Alignment columns kept for one HSP (a hundred lines of sixty).
pub(crate) const MAX_ALIGNMENT: usize = 6000;
/// Residues on one line of an alignment, as BLAST's pairwise report has them.
const LINE: usize = 60;

/// A BLAST search, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// `blastn`, `blastp`, `blastx`, ...
    pub program: String,
    /// `BLASTN 2.12.0+`.
    pub version: String,
    /// The database searched, as the search named it (`-db`: a path on the
    /// server, or several): for finding it again, never to show.
    pub database: Option<String>,
    /// The databases searched, each by its name and title, as a page shows
    /// them: read with `blastdbcmd` when the report is made; empty in a
    /// report kept before they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<Database>,
    /// The search's expect threshold.
    pub expect: Option<f64>,
    /// The scoring matrix (protein searches).
    pub matrix: Option<String>,
    pub queries: Vec<QueryHits>,
}

/// One query's hits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueryHits {
    /// The query's identifier as BLAST gave it (`Query_1`) and its title (the FASTA header).
    pub id: String,
    pub title: String,
    /// Its length, in residues (nucleotides for blastx and tblastx).
    pub len: u64,
    pub hits: Vec<Hit>,
    /// Whether the search found more hits than are kept.
    pub more: bool,
    /// BLAST's word when there is nothing (`No hits found`).
    pub message: Option<String>,
}

/// A database sequence the query aligns to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hit {
    /// Its rank, from 1.
    pub num: u32,
    pub id: String,
    pub accession: Option<String>,
    pub title: String,
    /// Its length.
    pub len: u64,
    /// Percent of the query covered by its HSPs, together.
    pub coverage: f64,
    /// HSPs the search found, of which the first [`MAX_HSPS`] are kept.
    pub hsp_count: usize,
    pub hsps: Vec<Hsp>,
    /// The title of the database it came from, when the search ran
    /// against several (`searched::sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One high-scoring segment pair: an alignment of part of the query with part of the hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hsp {
    pub bit_score: f64,
    /// The bit score as BLAST's tables write it, when the report was made
    /// with them and they lined up with the JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_text: Option<String>,
    pub score: f64,
    pub evalue: f64,
    pub identity: u64,
    pub positive: Option<u64>,
    pub gaps: u64,
    pub align_len: u64,
    pub query_from: u64,
    pub query_to: u64,
    pub hit_from: u64,
    pub hit_to: u64,
    pub query_strand: Option<String>,
    pub hit_strand: Option<String>,
    pub query_frame: Option<i32>,
    pub hit_frame: Option<i32>,
    pub qseq: String,
    pub midline: String,
    pub hseq: String,
    /// Alignment columns left out after [`MAX_ALIGNMENT`].
    pub cut: usize,
}

impl Hit {
    /// Its best HSP (BLAST lists them best first).
    pub(crate) fn best(&self) -> Option<&Hsp> {
        self.hsps.first()
    }

    /// The best HSP's identity, in percent.
    pub(crate) fn identity(&self) -> Option<f64> {
        self.best().map(Hsp::identity_percent)
    }

    /// The best (lowest) e-value of its HSPs.
    pub(crate) fn evalue(&self) -> Option<f64> {
        self.hsps.iter().map(|h| h.evalue).reduce(f64::min)
    }

    /// The best bit score of its HSPs.
    pub(crate) fn bit_score(&self) -> Option<f64> {
        self.hsps.iter().map(|h| h.bit_score).reduce(f64::max)
    }

    /// The best bit score of its HSPs, as BLAST writes it.
    pub(crate) fn bits(&self) -> Option<String> {
        self.hsps
            .iter()
            .reduce(|best, hsp| {
                if hsp.bit_score > best.bit_score {
                    hsp
                } else {
                    best
                }
            })
            .map(Hsp::bits)
    }
}

impl Hsp {
    /// Its bit score as BLAST writes it: its tables' text, or else made as they make it.
    pub(crate) fn bits(&self) -> String {
        self.bit_text
            .clone()
            .unwrap_or_else(|| bits(self.bit_score))
    }

    pub(crate) fn identity_percent(&self) -> f64 {
        percent(self.identity, self.align_len)
    }
}

/// `part` of `whole`, in percent (0 of nothing).
pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

// ---- reading BLAST's JSON (-outfmt 15) --------------------------------------

#[derive(Deserialize)]
struct Output {
    #[serde(rename = "BlastOutput2")]
    reports: Vec<Wrapped>,
}

#[derive(Deserialize)]
struct Wrapped {
    report: Option<Raw>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    program: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    search_target: Option<RawTarget>,
    #[serde(default)]
    params: Option<RawParams>,
    results: RawResults,
}

#[derive(Deserialize)]
struct RawTarget {
    db: Option<String>,
}

#[derive(Deserialize)]
struct RawParams {
    expect: Option<f64>,
    matrix: Option<String>,
}

#[derive(Deserialize)]
struct RawResults {
    search: Option<RawSearch>,
}

#[derive(Deserialize)]
struct RawSearch {
    #[serde(default)]
    query_id: String,
    #[serde(default)]
    query_title: Option<String>,
    #[serde(default)]
    query_len: u64,
    #[serde(default)]
    hits: Vec<RawHit>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct RawHit {
    num: u32,
    #[serde(default)]
    description: Vec<RawDescription>,
    #[serde(default)]
    len: u64,
    #[serde(default)]
    hsps: Vec<RawHsp>,
}

#[derive(Deserialize)]
struct RawDescription {
    #[serde(default)]
    id: String,
    accession: Option<String>,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct RawHsp {
    bit_score: f64,
    /// Its line of BLAST's tabular bit scores ([`Output::take_bit_texts`]).
    #[serde(skip)]
    bit_text: Option<String>,
    score: f64,
    evalue: f64,
    identity: u64,
    positive: Option<u64>,
    #[serde(default)]
    gaps: u64,
    align_len: u64,
    query_from: u64,
    query_to: u64,
    hit_from: u64,
    hit_to: u64,
    query_strand: Option<String>,
    hit_strand: Option<String>,
    query_frame: Option<i32>,
    hit_frame: Option<i32>,
    #[serde(default)]
    qseq: String,
    #[serde(default)]
    midline: String,
    #[serde(default)]
    hseq: String,
}

impl Output {
    /// Gives each HSP its bit score as BLAST's tables write it, from
    /// `tabular`: `-outfmt "6 bitscore"` of the same archive, cut to the
    /// same hits, so a line per HSP in the JSON's order. Gives none unless
    /// the lines and the JSON's scores match one to one, each within what
    /// the two roundings allow.
    fn take_bit_texts(&mut self, tabular: &str) {
        let mut lines = tabular.lines().map(str::trim);
        let mut texts = Vec::new();
        for hsp in self.hsps() {
            let Some(text) = lines.next() else { return };
            let close = text.parse::<f64>().is_ok_and(|value| {
                (value - hsp.bit_score).abs() <= 1.0_f64.max(hsp.bit_score * 1e-3)
            });
            if !close {
                return;
            }
            texts.push(text.to_owned());
        }
        if lines.next().is_some() {
            return;
        }
        for (hsp, text) in self.hsps_mut().zip(texts) {
            hsp.bit_text = Some(text);
        }
    }

    /// Every HSP of every query, in the JSON's order.
    fn hsps(&self) -> impl Iterator<Item = &RawHsp> {
        self.reports
            .iter()
            .filter_map(|wrapped| wrapped.report.as_ref()?.results.search.as_ref())
            .flat_map(|search| &search.hits)
            .flat_map(|hit| &hit.hsps)
    }

    fn hsps_mut(&mut self) -> impl Iterator<Item = &mut RawHsp> {
        self.reports
            .iter_mut()
            .filter_map(|wrapped| wrapped.report.as_mut()?.results.search.as_mut())
            .flat_map(|search| &mut search.hits)
            .flat_map(|hit| &mut hit.hsps)
    }
}

impl Report {
    /// What a page calls the databases searched: their titles, or, in a
    /// report kept before they were read, their file names; never a path.
    pub(crate) fn database_titles(&self) -> Vec<String> {
        if !self.databases.is_empty() {
            return self.databases.iter().map(|db| db.title.clone()).collect();
        }
        let words = self.database.as_deref().unwrap_or("").split_whitespace();
        words
            .map(|word| word.rsplit('/').next().unwrap_or(word).to_owned())
            .collect()
    }

    /// Reads BLAST's single-file JSON (`-outfmt 15`), with the bit scores
    /// of its tables (`-outfmt "6 bitscore"`) when there are; `more` says whether
    /// the search holds more hits than the JSON was cut to (`blast_formatter`
    /// was asked for one more than [`MAX_HITS`]).
    pub(crate) fn from_json(json: &[u8], tabular: Option<&str>) -> Result<Report, String> {
        let mut output: Output = serde_json::from_slice(json)
            .map_err(|err| format!("BLAST's JSON report does not read: {err}"))?;
        if let Some(tabular) = tabular {
            output.take_bit_texts(tabular);
        }
        let mut report = Report {
            program: String::new(),
            version: String::new(),
            database: None,
            databases: Vec::new(),
            expect: None,
            matrix: None,
            queries: Vec::new(),
        };
        for raw in output.reports.into_iter().filter_map(|w| w.report) {
            if report.program.is_empty() {
                report.program = raw.program;
                report.version = raw.version;
                report.database = raw.search_target.and_then(|t| t.db);
                if let Some(params) = raw.params {
                    report.expect = params.expect;
                    report.matrix = params.matrix;
                }
            }
            let Some(search) = raw.results.search else {
                continue;
            };
            let more = search.hits.len() > MAX_HITS;
            let len = search.query_len;
            report.queries.push(QueryHits {
                title: search
                    .query_title
                    .unwrap_or_else(|| search.query_id.clone()),
                id: search.query_id,
                len,
                more,
                message: search.message,
                hits: search
                    .hits
                    .into_iter()
                    .take(MAX_HITS)
                    .map(|hit| Hit::from_raw(hit, len))
                    .collect(),
            });
        }
        if report.queries.is_empty() {
            return Err("BLAST's JSON report holds no search".into());
        }
        Ok(report)
    }
}

/// What a database built without `-parse_seqids` calls its sequences in
/// BLAST's JSON: `gnl|BL_ORD_ID|` and their place in it.
const ORDINAL_ID: &str = "gnl|BL_ORD_ID|";

/// A hit's id, accession and title as BLAST's tables and pairwise report
/// name it: a sequence of a database built without `-parse_seqids` is named
/// by the first word of its title there (`ref03`), where the JSON says
/// `gnl|BL_ORD_ID|2`. One name everywhere, so the page's hits are the
/// downloads' (`?hits=ref03`).
fn named(id: String, accession: Option<String>, title: String) -> (String, Option<String>, String) {
    if !id.starts_with(ORDINAL_ID) {
        return (id, accession, title);
    }
    match title.split_once(' ') {
        Some((word, rest)) => (word.to_owned(), None, rest.to_owned()),
        None if !title.is_empty() => (title, None, String::new()),
        None => (id, accession, title),
    }
}

impl Hit {
    fn from_raw(raw: RawHit, query_len: u64) -> Hit {
        let mut spans: Vec<(u64, u64)> = raw
            .hsps
            .iter()
            .map(|h| (h.query_from.min(h.query_to), h.query_from.max(h.query_to)))
            .collect();
        let description = raw.description.into_iter().next();
        let (id, accession, title) = match description {
            Some(d) => named(d.id, d.accession, d.title),
            None => (format!("hit {}", raw.num), None, String::new()),
        };
        Hit {
            num: raw.num,
            id,
            accession,
            title,
            len: raw.len,
            coverage: percent(covered(&mut spans), query_len).min(100.0),
            hsp_count: raw.hsps.len(),
            hsps: raw
                .hsps
                .into_iter()
                .take(MAX_HSPS)
                .map(Hsp::from_raw)
                .collect(),
            source: None,
        }
    }
}

impl Hsp {
    fn from_raw(raw: RawHsp) -> Hsp {
        let columns = raw.qseq.chars().count();
        let keep = |text: &str| text.chars().take(MAX_ALIGNMENT).collect::<String>();
        Hsp {
            bit_score: raw.bit_score,
            bit_text: raw.bit_text,
            score: raw.score,
            evalue: raw.evalue,
            identity: raw.identity,
            positive: raw.positive,
            gaps: raw.gaps,
            align_len: raw.align_len,
            query_from: raw.query_from,
            query_to: raw.query_to,
            hit_from: raw.hit_from,
            hit_to: raw.hit_to,
            query_strand: raw.query_strand,
            hit_strand: raw.hit_strand,
            query_frame: raw.query_frame,
            hit_frame: raw.hit_frame,
            qseq: keep(&raw.qseq),
            midline: keep(&raw.midline),
            hseq: keep(&raw.hseq),
            cut: columns.saturating_sub(MAX_ALIGNMENT),
        }
    }
}

/// Positions covered by the union of inclusive spans.
fn covered(spans: &mut [(u64, u64)]) -> u64 {
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    for &(from, to) in spans.iter() {
        current = match current {
            Some((start, end)) if from <= end + 1 => Some((start, end.max(to))),
            Some((start, end)) => {
                total += end - start + 1;
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    if let Some((start, end)) = current {
        total += end - start + 1;
    }
    total
}

// ---- numbers as BLAST's readers expect them ---------------------------------

/// An e-value as BLAST's reports write it, to two figures: `2.6e-157`, `3.1e-05`, `0.59`, `12`, `0.0`.
pub(crate) fn evalue(e: f64) -> String {
    if e == 0.0 {
        "0.0".into()
    } else if e < 1e-3 {
        let text = format!("{e:.1e}");
        // Rust writes `3.1e-5`; BLAST's readers know `3.1e-05`.
        match text.split_once("e-") {
            Some((mantissa, exponent)) if exponent.len() == 1 => format!("{mantissa}e-0{exponent}"),
            _ => text,
        }
    } else if e < 10.0 {
        format!("{e:.2}")
    } else {
        format!("{e:.0}")
    }
}

/// A bit score as BLAST+ writes it in its tables and reports
/// (`CAlignFormatUtil::GetScoreString`): above 99 999 in scientific notation
/// (`1.234e+05`), above 99.9 the whole number it truncates to (137.96 is
/// `137`), else to one decimal.
pub(crate) fn bits(score: f64) -> String {
    if score > 99_999.0 {
        // C's `%5.3le`: a sign and at least two digits in the exponent.
        let text = format!("{score:.3e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => {
                let (sign, digits) = match exponent.strip_prefix('-') {
                    Some(digits) => ('-', digits),
                    None => ('+', exponent),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => text,
        }
    } else if score > 99.9 {
        format!("{}", score.trunc())
    } else {
        format!("{score:.1}")
    }
}

// ---- the alignment's text ---------------------------------------------------

/// One line of an alignment: the query's piece, the midline, the hit's piece,
/// each with the positions of its first and last residue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub query: (u64, String, u64),
    pub midline: String,
    pub hit: (u64, String, u64),
}

/// The alignment in lines of [`LINE`] columns, with coordinates; a
/// translated sequence (blastx's query, tblastn's hit) steps three
/// nucleotides per residue, and a minus strand counts down.
pub(crate) fn blocks(hsp: &Hsp, program: &str) -> Vec<Block> {
    let (query_step, hit_step) = match program {
        "blastx" => (3, 1),
        "tblastn" => (1, 3),
        "tblastx" => (3, 3),
        _ => (1, 1),
    };
    let query: Vec<char> = hsp.qseq.chars().collect();
    let midline: Vec<char> = hsp.midline.chars().collect();
    let hit: Vec<char> = hsp.hseq.chars().collect();
    let mut query_at = Walker::new(hsp.query_from, hsp.query_to, query_step);
    let mut hit_at = Walker::new(hsp.hit_from, hsp.hit_to, hit_step);
    let mut blocks = Vec::new();
    for start in (0..query.len()).step_by(LINE) {
        let end = (start + LINE).min(query.len());
        let piece = |chars: &[char]| -> String {
            chars
                .get(start..end.min(chars.len()))
                .unwrap_or(&[])
                .iter()
                .collect()
        };
        let q = piece(&query);
        let h = piece(&hit);
        blocks.push(Block {
            query: query_at.span(&q),
            midline: piece(&midline),
            hit: hit_at.span(&h),
        });
    }
    blocks
}

/// Walks along one sequence of an alignment, giving each line's first and last position.
struct Walker {
    /// The position of the next residue.
    next: i64,
    /// +1 or -1.
    direction: i64,
    /// Positions per residue: 1, or 3 for a translated sequence.
    step: i64,
}

impl Walker {
    fn new(from: u64, to: u64, step: i64) -> Walker {
        Walker {
            next: from as i64,
            direction: if to < from { -1 } else { 1 },
            step,
        }
    }

    /// The first and last positions of `text` (gaps take none); a line of
    /// gaps only stands where the previous one ended.
    fn span(&mut self, text: &str) -> (u64, String, u64) {
        let residues = text.chars().filter(|c| *c != '-').count() as i64;
        let (first, last) = if residues == 0 {
            let previous = self.next - self.direction;
            (previous, previous)
        } else {
            let first = self.next;
            self.next += self.direction * self.step * residues;
            (first, self.next - self.direction)
        };
        (first.max(0) as u64, text.to_owned(), last.max(0) as u64)
    }
}

/// An HSP's alignment as text: `Query`, the midline and `Sbjct` lines, with
/// their coordinates in columns of one width.
pub(crate) fn alignment_text(hsp: &Hsp, program: &str) -> String {
    let blocks = blocks(hsp, program);
    let width = blocks
        .iter()
        .flat_map(|b| [b.query.0, b.query.2, b.hit.0, b.hit.2])
        .map(|n| n.to_string().len())
        .max()
        .unwrap_or(1);
    let mut text = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let _ = writeln!(
            text,
            "Query  {:<width$}  {}  {}",
            block.query.0, block.query.1, block.query.2
        );
        let _ = writeln!(text, "       {:<width$}  {}", "", block.midline);
        let _ = writeln!(
            text,
            "Sbjct  {:<width$}  {}  {}",
            block.hit.0, block.hit.1, block.hit.2
        );
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn a_hit_of_a_database_without_seqids_is_named_as_blasts_tables_name_it() {
        let (id, accession, title) = super::named(
            "gnl|BL_ORD_ID|2".into(),
            Some("2".into()),
            "ref03 Synthetic construct".into(),
        );
        assert_eq!(
            (id.as_str(), accession, title.as_str()),
            ("ref03", None, "Synthetic construct")
        );
        let kept = super::named("ref03".into(), Some("ref03".into()), "Synthetic".into());
        assert_eq!(kept.0, "ref03");
    }

    use super::*;

    /// BLAST's JSON for one query of 300 nt and two hits, as blast_formatter writes it.
    pub(crate) const JSON: &str = r#"{
"BlastOutput2": [
{
    "report": {
      "program": "blastn",
      "version": "BLASTN 2.12.0+",
      "search_target": { "db": "/data/<db>/reference" },
      "params": { "expect": 10, "sc_match": 2, "sc_mismatch": -3, "gap_open": 5, "gap_extend": 2, "filter": "L;m;" },
      "results": {
        "search": {
          "query_id": "Query_1",
          "query_title": "my_read <i>300</i> nt",
          "query_len": 300,
          "hits": [
            {
              "num": 1,
              "description": [ { "id": "ref04", "accession": "ref04", "title": "Synthetic construct \"chiS\" <script>alert(1)</script> & co" } ],
              "len": 1655,
              "hsps": [
                { "num": 1, "bit_score": 542.297, "score": 600, "evalue": 2.64495e-157, "identity": 300,
                  "query_from": 1, "query_to": 300, "query_strand": "Plus", "hit_from": 701, "hit_to": 1000, "hit_strand": "Plus",
                  "align_len": 300, "gaps": 0, "qseq": "QSEQ", "hseq": "HSEQ", "midline": "||||" },
                { "num": 2, "bit_score": 22.9267, "score": 24, "evalue": 0.586721, "identity": 12,
                  "query_from": 42, "query_to": 53, "query_strand": "Plus", "hit_from": 753, "hit_to": 742, "hit_strand": "Minus",
                  "align_len": 12, "gaps": 0, "qseq": "GCATACGTATGC", "hseq": "GCATACGTATGC", "midline": "||||||||||||" }
              ]
            },
            {
              "num": 2,
              "description": [ { "id": "ref08", "accession": "ref08", "title": "Synthetic construct sprS" } ],
              "len": 1800,
              "hsps": [
                { "num": 1, "bit_score": 22.0, "score": 23, "evalue": 2.0, "identity": 13,
                  "query_from": 252, "query_to": 265, "query_strand": "Plus", "hit_from": 1326, "hit_to": 1313, "hit_strand": "Minus",
                  "align_len": 14, "gaps": 0, "qseq": "ACGTACGTACGTAC", "hseq": "ACGTACGTACGTAA", "midline": "||||||||||||| " }
              ]
            }
          ],
          "message": null
        }
      }
    }
}
]
}"#;

    pub(crate) fn report() -> Report {
        Report::from_json(JSON.as_bytes(), None).unwrap()
    }

    #[test]
    fn blasts_json_reads_into_hits_with_their_coverage() {
        let report = report();
        assert_eq!(report.program, "blastn");
        assert_eq!(report.database.as_deref(), Some("/data/<db>/reference"));
        let query = &report.queries[0];
        assert_eq!((query.len, query.hits.len(), query.more), (300, 2, false));
        let top = &query.hits[0];
        assert_eq!(top.id, "ref04");
        assert_eq!(top.identity(), Some(100.0));
        assert_eq!(top.coverage, 100.0);
        assert_eq!(top.hsp_count, 2);
        assert_eq!(top.evalue(), Some(2.64495e-157));
        let second = &query.hits[1];
        assert!((second.coverage - 14.0 * 100.0 / 300.0).abs() < 1e-9);
        assert!((second.identity().unwrap() - 92.857).abs() < 0.001);
    }

    #[test]
    fn overlapping_spans_are_covered_once() {
        assert_eq!(covered(&mut [(1, 10), (5, 20), (30, 30), (21, 22)]), 23);
        assert_eq!(covered(&mut []), 0);
    }

    #[test]
    fn numbers_read_as_in_blasts_reports() {
        assert_eq!(evalue(2.64495e-157), "2.6e-157");
        assert_eq!(evalue(3.1e-5), "3.1e-05");
        assert_eq!(evalue(0.586721), "0.59");
        assert_eq!(evalue(12.4), "12");
        assert_eq!(evalue(0.0), "0.0");
        assert_eq!(bits(542.297), "542");
        assert_eq!(bits(22.9267), "22.9");
        // Truncated above 99.9, as BLAST's tables: never rounded up.
        assert_eq!(bits(137.96), "137");
        assert_eq!(bits(99.95), "99");
        assert_eq!(bits(99.9), "99.9");
        assert_eq!(bits(7.04), "7.0");
        assert_eq!(bits(99_999.0), "99999");
        assert_eq!(bits(123_456.7), "1.235e+05");
    }

    #[test]
    fn bit_scores_are_blasts_tables_text_when_they_line_up_with_the_json() {
        // A score of 541.9996: 542 to the JSON's six figures, 541 in BLAST's tables.
        let json = JSON.replace("542.297", "542");
        let shown = |tabular: Option<&str>| {
            let report = Report::from_json(json.as_bytes(), tabular).unwrap();
            report.queries[0]
                .hits
                .iter()
                .flat_map(|hit| hit.hsps.iter().map(Hsp::bits))
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(Some("541\n22.9\n22.0\n")), ["541", "22.9", "22.0"]);
        assert_eq!(shown(None), ["542", "22.9", "22.0"]);
        // Lines that do not line up are not taken: too few, too many, another score.
        for tabular in [
            "541\n22.9\n",
            "541\n22.9\n22.0\n30.1\n",
            "541\n29.9\n22.0\n",
            "x\n22.9\n22.0\n",
        ] {
            assert_eq!(shown(Some(tabular)), ["542", "22.9", "22.0"], "{tabular:?}");
        }
        let report = Report::from_json(json.as_bytes(), Some("541\n22.9\n22.0\n")).unwrap();
        assert_eq!(report.queries[0].hits[0].bits().as_deref(), Some("541"));
    }

    fn hsp(qseq: &str, hseq: &str, query: (u64, u64), hit: (u64, u64)) -> Hsp {
        let mut report = report();
        let mut hsp = report.queries[0].hits.remove(0).hsps.remove(0);
        hsp.qseq = qseq.into();
        hsp.hseq = hseq.into();
        hsp.midline = " ".repeat(qseq.len());
        (hsp.query_from, hsp.query_to) = query;
        (hsp.hit_from, hsp.hit_to) = hit;
        hsp
    }

    #[test]
    fn alignment_lines_carry_coordinates_down_a_minus_strand_and_over_gaps() {
        let query = "A".repeat(70);
        let mut hit = "C".repeat(70);
        hit.replace_range(60..65, "-----");
        let blocks = blocks(&hsp(&query, &hit, (1, 70), (1000, 936)), "blastn");
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].query.0, blocks[0].query.2), (1, 60));
        assert_eq!((blocks[1].query.0, blocks[1].query.2), (61, 70));
        assert_eq!((blocks[0].hit.0, blocks[0].hit.2), (1000, 941));
        assert_eq!((blocks[1].hit.0, blocks[1].hit.2), (940, 936));
        assert_eq!(blocks[1].hit.1, "-----CCCCC");

        // blastx: the query counts three nucleotides per residue.
        let blocks = blocks_of("MKV", "MKV", (10, 18), (1, 3), "blastx");
        assert_eq!((blocks[0].query.0, blocks[0].query.2), (10, 18));
        assert_eq!((blocks[0].hit.0, blocks[0].hit.2), (1, 3));
        let blocks = blocks_of("MKV", "MKV", (18, 10), (1, 3), "blastx");
        assert_eq!((blocks[0].query.0, blocks[0].query.2), (18, 10));

        let text = alignment_text(&hsp("ACGT", "ACGA", (1, 4), (701, 704)), "blastn");
        assert_eq!(
            text,
            "Query  1    ACGT  4\n            \u{20}\u{20}\u{20}\u{20}\nSbjct  701  ACGA  704\n"
        );
    }

    fn blocks_of(
        q: &str,
        h: &str,
        query: (u64, u64),
        hit: (u64, u64),
        program: &str,
    ) -> Vec<Block> {
        blocks(&hsp(q, h, query, hit), program)
    }

    #[test]
    fn long_alignments_are_cut_and_say_so() {
        let mut json: serde_json::Value = serde_json::from_str(JSON).unwrap();
        let long = "A".repeat(MAX_ALIGNMENT + 5);
        let hsp = &mut json["BlastOutput2"][0]["report"]["results"]["search"]["hits"][0]["hsps"][0];
        for key in ["qseq", "hseq", "midline"] {
            hsp[key] = long.clone().into();
        }
        let report = Report::from_json(json.to_string().as_bytes(), None).unwrap();
        let hsp = &report.queries[0].hits[0].hsps[0];
        assert_eq!((hsp.qseq.len(), hsp.cut), (MAX_ALIGNMENT, 5));
    }
}
