//! A BLAST archive (`-outfmt 11`) of a search of several queries, split
//! into one archive per query, each as a search of that query alone writes
//! it: so one BLAST run can serve a plate, and each well keep its own
//! report, downloads and RID.
//!
//! The archive is ASN.1 in NCBI's text value notation: one
//! `Blast4-archive ::= { ... }` record per batch BLAST searched (BLAST
//! batches queries; query ids, `local str "Query_N"`, count across
//! batches). A small tolerant parser reads it into a tree whose leaves keep
//! their text as written (tokens are `{`, `}`, `,`, quoted strings with `""`
//! for a quote, hex strings `'...'H`, and words), so a split copies what it
//! does not change byte for byte. A query's archive is its batch's record
//! with only its own query (renamed `Query_1`, titled with its own
//! defline), its own alignments, masks and lower-case masks; everything else
//! of the record (options, Karlin-Altschul blocks, statistics) is kept. BLAST
//! keeps one effective search space per record, so the statistics footer of
//! a query's report is its batch's; its hits, scores and E-values are its own.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The id BLAST gives the only query of a search of one.
pub(crate) const FIRST_QUERY: &str = "Query_1";

/// One leaf or block of an element.
#[derive(Clone, Debug)]
enum Token<'a> {
    /// A word, a number, or a hex string (`'0A1F'H`), as written.
    Word(&'a str),
    /// A quoted string as written, quotes included.
    Text(&'a str),
    /// A string written anew (a renamed id, a title), quotes included.
    Owned(String),
    Block(Block<'a>),
}

/// `{ element, element, ... }`.
#[derive(Clone, Debug, Default)]
struct Block<'a> {
    elements: Vec<Element<'a>>,
    /// Written on one line (`{ 133270576282382, 10, -14 }`).
    inline: bool,
}

/// The tokens between two commas of a block: `local str "Query_1"`.
#[derive(Clone, Debug, Default)]
struct Element<'a> {
    tokens: Vec<Token<'a>>,
}

/// One `Blast4-archive ::= { ... }` record: the search of one batch of queries.
#[derive(Clone, Debug)]
pub(crate) struct Record<'a> {
    /// What comes before the block: `Blast4-archive ::=`.
    head: Vec<&'a str>,
    body: Block<'a>,
}

/// A query of a record: its id in the archive and its title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    /// `Query_N`.
    pub(crate) id: String,
    /// Its defline without the `>`.
    pub(crate) title: String,
    /// Residues BLAST read from it: 0 when it found none it could search.
    pub(crate) length: Option<u64>,
}

/// Reads an archive: every record in it, in order.
pub(crate) fn parse(text: &str) -> Result<Vec<Record<'_>>, String> {
    let mut lexer = Lexer { text, at: 0 };
    let mut records = Vec::new();
    loop {
        let mut head = Vec::new();
        let body = loop {
            match lexer.next()? {
                None if head.is_empty() => return Ok(records),
                None => return Err(format!("the archive ends after '{}'", head.join(" "))),
                Some(Lexeme::Open) => break lexer.block()?,
                Some(Lexeme::Word(word)) => head.push(word),
                Some(other) => {
                    return Err(format!(
                        "{} where a record begins, at byte {}",
                        other.describe(),
                        lexer.at
                    ))
                }
            }
        };
        records.push(Record { head, body });
    }
}

impl<'a> Record<'a> {
    /// The queries this record searched, in order.
    pub(crate) fn queries(&self) -> Vec<Query> {
        self.seqs()
            .map(|seq| seq_set_entries(seq).iter().map(query_of).collect())
            .unwrap_or_default()
    }

    /// The record made ready to be split query by query ([`Split::only`]).
    pub(crate) fn split(mut self) -> Split<'a> {
        let seqs = self.seqs_mut().map(std::mem::take).unwrap_or_default();
        let alignments = field_mut(&mut self.body, &["results", "alignments"])
            .map(|list| std::mem::take(&mut list.elements))
            .unwrap_or_default();
        let mut by_query: HashMap<String, Vec<usize>> = HashMap::new();
        let mut shared = Vec::new();
        for (n, alignment) in alignments.iter().enumerate() {
            match first_query(alignment) {
                Some(id) => by_query.entry(id).or_default().push(n),
                None => shared.push(n),
            }
        }
        Split {
            skeleton: self,
            seqs,
            alignments,
            by_query,
            shared,
        }
    }

    /// The record in NCBI's own layout.
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str(&self.head.join(" "));
        out.push(' ');
        write_block(&self.body, 0, out);
        out.push('\n');
    }

    /// The `seq-set` of the record's queries.
    fn seqs(&self) -> Option<&Block<'a>> {
        let request = field(&self.body, &["request", "body"])?;
        let queries = field(request, &["queries"])?;
        field(queries, &["seq-set"])
    }

    fn seqs_mut(&mut self) -> Option<&mut Vec<Element<'a>>> {
        let request = field_mut(&mut self.body, &["request", "body"])?;
        let queries = field_mut(request, &["queries"])?;
        Some(&mut field_mut(queries, &["seq-set"])?.elements)
    }
}

/// A record split query by query: the part every query's record shares
/// (options, statistics, masks) apart from the parts that are each query's
/// own (its `seq`, its alignments), so a record of N queries is copied in
/// its shared part N times and in its own parts once, not whole N times.
pub(crate) struct Split<'a> {
    /// The record without its queries and alignments.
    skeleton: Record<'a>,
    seqs: Vec<Element<'a>>,
    alignments: Vec<Element<'a>>,
    /// The alignments of each query, by their place in `alignments`.
    by_query: HashMap<String, Vec<usize>>,
    /// The alignments that name no query, which every query's record keeps.
    shared: Vec<usize>,
}

impl<'a> Split<'a> {
    /// The record as a search of the query `id` alone would have written it:
    /// its query renamed [`FIRST_QUERY`] and titled `title`; none if it did
    /// not search `id`.
    pub(crate) fn only(&self, id: &str, title: &str) -> Option<Record<'a>> {
        let kept: Vec<Element<'a>> = self
            .seqs
            .iter()
            .filter(|seq| query_of(seq).id == id)
            .cloned()
            .collect();
        if kept.is_empty() {
            return None;
        }
        let mut record = self.skeleton.clone();
        let entries = record.seqs_mut()?;
        *entries = kept;
        for seq in entries.iter_mut() {
            retitle(seq, title);
        }
        let body = &mut record.body;
        // What names another query goes: its alignments, masks and lower-case masks.
        if let Some(request) = field_mut(body, &["request", "body"]) {
            if let Some(options) = field_mut(request, &["program-options"]) {
                keep_naming(options, id);
            }
        }
        if let Some(results) = field_mut(body, &["results"]) {
            if let Some(alignments) = field_mut(results, &["alignments"]) {
                let mut own: Vec<usize> = self.by_query.get(id).cloned().unwrap_or_default();
                own.extend(&self.shared);
                own.sort_unstable();
                alignments.elements = own.iter().map(|n| self.alignments[*n].clone()).collect();
            }
            if let Some(masks) = field_mut(results, &["masks"]) {
                keep_naming(masks, id);
            }
        }
        rename(&mut record.body, id);
        Some(record)
    }
}

/// The entries of a `seq-set`, each a `seq { ... }`.
fn seq_set_entries<'b, 'a>(set: &'b Block<'a>) -> &'b [Element<'a>] {
    &set.elements
}

/// A query's id, title and length, from its `seq { id {...}, descr {...}, inst {...} }`.
fn query_of(seq: &Element) -> Query {
    let block = last_block(seq);
    let id = block
        .and_then(|b| field(b, &["id"]))
        .and_then(|id| id.elements.first())
        .and_then(local_id)
        .unwrap_or_default();
    let title = block
        .and_then(|b| field(b, &["descr"]))
        .and_then(|descr| {
            descr
                .elements
                .iter()
                .find_map(|element| match element.tokens.as_slice() {
                    [Token::Word("title"), text] => text_of(text),
                    _ => None,
                })
        })
        .unwrap_or_default();
    let length = block.and_then(|b| field(b, &["inst"])).and_then(|inst| {
        inst.elements
            .iter()
            .find_map(|element| match element.tokens.as_slice() {
                [Token::Word("length"), Token::Word(n)] => n.parse().ok(),
                _ => None,
            })
    });
    Query { id, title, length }
}

/// Gives a query's `seq` its own title and defline.
fn retitle(seq: &mut Element, title: &str) {
    let Some(descr) = last_block_mut(seq).and_then(|b| field_mut(b, &["descr"])) else {
        return;
    };
    for element in &mut descr.elements {
        match element.tokens.as_mut_slice() {
            [Token::Word("title"), text] => *text = Token::Owned(quote(title)),
            // The reader's copy of the defline: `user { ..., data { { label str "DefLine", data str ">..." } } }`.
            [Token::Word("user"), Token::Block(user)] => {
                let Some(data) = field_mut(user, &["data"]) else {
                    continue;
                };
                for entry in &mut data.elements {
                    let Some(Token::Block(pair)) = entry.tokens.last_mut() else {
                        continue;
                    };
                    let is_defline = pair.elements.iter().any(|e| {
                        matches!(e.tokens.as_slice(),
                            [Token::Word("label"), Token::Word("str"), text]
                                if text_of(text).as_deref() == Some("DefLine"))
                    });
                    if !is_defline {
                        continue;
                    }
                    for e in &mut pair.elements {
                        if let [Token::Word("data"), Token::Word("str"), text] =
                            e.tokens.as_mut_slice()
                        {
                            *text = Token::Owned(quote(&format!(">{title}")));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Keeps, of a list, the entries that name no query or name `id`; in each
/// entry kept, the same of every list below it (the intervals of a mask).
fn keep_naming(list: &mut Block, id: &str) {
    list.elements.retain(|element| {
        let named = queries_named(element);
        named.is_empty() || named.iter().any(|named| *named == id)
    });
    for element in &mut list.elements {
        for token in &mut element.tokens {
            if let Token::Block(block) = token {
                keep_naming(block, id);
            }
        }
    }
}

/// The query ids an element names anywhere in it.
fn queries_named(element: &Element) -> Vec<String> {
    let mut named = Vec::new();
    visit(element, &mut |tokens| {
        if let Some(id) = local_id_of(tokens) {
            if is_query_id(&id) {
                named.push(id);
            }
        }
    });
    named
}

/// The first query id an alignment names: its query's.
fn first_query(element: &Element) -> Option<String> {
    let mut first = None;
    visit(element, &mut |tokens| {
        if first.is_none() {
            first = local_id_of(tokens).filter(|id| is_query_id(id));
        }
    });
    first
}

/// Renames the query `id` to [`FIRST_QUERY`] everywhere in `block`.
fn rename(block: &mut Block, id: &str) {
    for element in &mut block.elements {
        rename_in(element, id);
    }
}

fn rename_in(element: &mut Element, id: &str) {
    let tokens = &mut element.tokens;
    for n in 0..tokens.len() {
        if n >= 2 {
            if let [Token::Word("local"), Token::Word("str"), text] = &tokens[n - 2..=n] {
                if text_of(text).as_deref() == Some(id) {
                    tokens[n] = Token::Owned(quote(FIRST_QUERY));
                }
            }
        }
        if let Token::Block(block) = &mut tokens[n] {
            rename(block, id);
        }
    }
}

/// Calls `f` with the tokens of every element in `element`, itself first.
fn visit(element: &Element, f: &mut impl FnMut(&[Token])) {
    f(&element.tokens);
    for token in &element.tokens {
        if let Token::Block(block) = token {
            for inner in &block.elements {
                visit(inner, f);
            }
        }
    }
}

/// `Query_7` is a query BLAST named; a subject's local id is not.
fn is_query_id(id: &str) -> bool {
    id.strip_prefix("Query_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The id of `local str "X"` at the end of `tokens` (`id local str "X"` too).
fn local_id_of(tokens: &[Token]) -> Option<String> {
    match tokens {
        [.., Token::Word("local"), Token::Word("str"), text] => text_of(text),
        _ => None,
    }
}

fn local_id(element: &Element) -> Option<String> {
    local_id_of(&element.tokens)
}

/// The block that ends an element: `seq { ... }`'s.
fn last_block<'b, 'a>(element: &'b Element<'a>) -> Option<&'b Block<'a>> {
    match element.tokens.last() {
        Some(Token::Block(block)) => Some(block),
        _ => None,
    }
}

fn last_block_mut<'b, 'a>(element: &'b mut Element<'a>) -> Option<&'b mut Block<'a>> {
    match element.tokens.last_mut() {
        Some(Token::Block(block)) => Some(block),
        _ => None,
    }
}

/// The block of the element of `block` that starts with `path[0]` (`body
/// queue-search { ... }` starts with `body`), and so on down `path`; the
/// words between the name and the block (a choice's alternative) are skipped.
fn field<'b, 'a>(block: &'b Block<'a>, path: &[&str]) -> Option<&'b Block<'a>> {
    let mut here = block;
    for name in path {
        here = here
            .elements
            .iter()
            .find(|e| matches!(e.tokens.first(), Some(Token::Word(w)) if w == name))
            .and_then(last_block)?;
    }
    Some(here)
}

fn field_mut<'b, 'a>(block: &'b mut Block<'a>, path: &[&str]) -> Option<&'b mut Block<'a>> {
    let mut here = block;
    for name in path {
        here = here
            .elements
            .iter_mut()
            .find(|e| matches!(e.tokens.first(), Some(Token::Word(w)) if w == name))
            .and_then(last_block_mut)?;
    }
    Some(here)
}

/// A quoted string's text: `""` is a quote; a line break inside it (NCBI
/// wraps long strings) is not part of it.
fn text_of(token: &Token) -> Option<String> {
    let raw = match token {
        Token::Text(raw) => *raw,
        Token::Owned(raw) => raw.as_str(),
        _ => return None,
    };
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\"\"", "\"").replace('\n', ""))
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn write_block(block: &Block, indent: usize, out: &mut String) {
    if block.inline {
        out.push_str("{ ");
        for (n, element) in block.elements.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            write_element(element, indent, out);
        }
        out.push_str(" }");
        return;
    }
    out.push_str("{\n");
    for (n, element) in block.elements.iter().enumerate() {
        let _ = write!(out, "{:width$}", "", width = indent + 2);
        write_element(element, indent + 2, out);
        if n + 1 < block.elements.len() {
            out.push(',');
        }
        out.push('\n');
    }
    let _ = write!(out, "{:width$}}}", "", width = indent);
}

fn write_element(element: &Element, indent: usize, out: &mut String) {
    for (n, token) in element.tokens.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        match token {
            Token::Word(text) | Token::Text(text) => out.push_str(text),
            Token::Owned(text) => out.push_str(text),
            Token::Block(block) => write_block(block, indent, out),
        }
    }
}

/// What the lexer reads.
enum Lexeme<'a> {
    Open,
    Close,
    Comma,
    Word(&'a str),
    Text(&'a str),
}

impl Lexeme<'_> {
    fn describe(&self) -> String {
        match self {
            Lexeme::Open => "'{'".into(),
            Lexeme::Close => "'}'".into(),
            Lexeme::Comma => "','".into(),
            Lexeme::Word(word) => format!("'{word}'"),
            Lexeme::Text(_) => "a string".into(),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<Option<Lexeme<'a>>, String> {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && bytes[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
        let start = self.at;
        let Some(&first) = bytes.get(start) else {
            return Ok(None);
        };
        self.at += 1;
        Ok(Some(match first {
            b'{' => Lexeme::Open,
            b'}' => Lexeme::Close,
            b',' => Lexeme::Comma,
            b'"' => {
                // A quote ends the string unless another follows it.
                loop {
                    match bytes.get(self.at) {
                        None => return Err(format!("a string at byte {start} never ends")),
                        Some(b'"') if bytes.get(self.at + 1) == Some(&b'"') => self.at += 2,
                        Some(b'"') => {
                            self.at += 1;
                            break;
                        }
                        Some(_) => self.at += 1,
                    }
                }
                Lexeme::Text(&self.text[start..self.at])
            }
            b'\'' => {
                // A hex or bit string: '...'H or '...'B, line breaks and all.
                match self.text[self.at..].find('\'') {
                    None => return Err(format!("a hex string at byte {start} never ends")),
                    Some(end) => self.at += end + 1,
                }
                if matches!(bytes.get(self.at), Some(b'H' | b'B')) {
                    self.at += 1;
                }
                Lexeme::Word(&self.text[start..self.at])
            }
            _ => {
                while self.at < bytes.len()
                    && !bytes[self.at].is_ascii_whitespace()
                    && !matches!(bytes[self.at], b'{' | b'}' | b',' | b'"' | b'\'')
                {
                    self.at += 1;
                }
                Lexeme::Word(&self.text[start..self.at])
            }
        }))
    }

    /// The rest of a block whose `{` was just read.
    fn block(&mut self) -> Result<Block<'a>, String> {
        let open = self.at - 1;
        let mut block = Block::default();
        let mut element = Element::default();
        loop {
            let lexeme = self
                .next()?
                .ok_or_else(|| format!("the block opened at byte {open} never closes"))?;
            match lexeme {
                Lexeme::Open => element.tokens.push(Token::Block(self.block()?)),
                Lexeme::Word(word) => element.tokens.push(Token::Word(word)),
                Lexeme::Text(text) => element.tokens.push(Token::Text(text)),
                Lexeme::Comma | Lexeme::Close => {
                    let close = matches!(lexeme, Lexeme::Close);
                    if !element.tokens.is_empty() {
                        block.elements.push(std::mem::take(&mut element));
                    } else if !close {
                        return Err(format!("an empty element at byte {}", self.at - 1));
                    }
                    if close {
                        block.inline = !self.text[open..self.at].contains('\n');
                        return Ok(block);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real archive: blastn (megablast) of five reads against the
    /// examples' nucleotide reference, searched in two batches
    /// (`BATCH_SIZE=700`): a read of ref04, one of ref07 from the other
    /// strand, one with a low-complexity stretch (masks), one that matches
    /// nothing, and one of letters BLAST reads none of (length 0).
    const BLASTN: &str = include_str!("testdata/blastn_five.asn");
    /// A real archive: blastx of two reads against the examples' proteins
    /// (alignments as std-seg, masks per frame).
    const BLASTX: &str = include_str!("testdata/blastx_two.asn");

    #[test]
    fn a_real_archive_is_written_back_byte_for_byte() {
        for text in [BLASTN, BLASTX] {
            let records = parse(text).unwrap();
            let mut out = String::new();
            for record in &records {
                record.write(&mut out);
            }
            assert_eq!(out, text);
        }
        assert_eq!(parse(BLASTN).unwrap().len(), 2);
    }

    #[test]
    fn queries_are_read_with_their_ids_titles_and_lengths() {
        let records = parse(BLASTN).unwrap();
        let queries: Vec<Query> = records.iter().flat_map(Record::queries).collect();
        let ids: Vec<&str> = queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["Query_1", "Query_2", "Query_3", "Query_4", "Query_5"]);
        assert!(queries[0].title.starts_with("000001 cut04"), "{queries:?}");
        assert_eq!(queries[4].length, Some(0));
        assert!(queries[0].length.unwrap() > 0);
    }

    #[test]
    fn a_query_alone_keeps_its_own_alignments_masks_and_title() {
        let records = parse(BLASTN).unwrap();
        let (record, query) = records
            .iter()
            .flat_map(|r| r.queries().into_iter().map(move |q| (r, q)))
            .find(|(_, q)| q.title.contains("lowc"))
            .unwrap();
        let title = query.title.split_once(' ').unwrap().1;
        let only = record.clone().split().only(&query.id, title).unwrap();
        let mut text = String::new();
        only.write(&mut text);
        assert_eq!(only.queries().len(), 1);
        assert_eq!(only.queries()[0].id, FIRST_QUERY);
        assert_eq!(only.queries()[0].title, title);
        assert!(text.contains(&format!("data str \">{title}\"")), "{text}");
        // No other query is named anywhere; its own masks stayed.
        for n in 2..=5 {
            assert!(!text.contains(&format!("\"Query_{n}\"")), "{text}");
        }
        assert!(text.contains("masks {\n      {"), "{text}");
        // And the whole of it reads again.
        assert_eq!(parse(&text).unwrap().len(), 1);
        assert!(record.clone().split().only("Query_99", "x").is_none());
    }

    #[test]
    fn translated_alignments_and_frame_masks_split_too() {
        let records = parse(BLASTX).unwrap();
        let record = &records[0];
        let alignments = |record: &Record| {
            field(&record.body, &["results", "alignments"])
                .map(|list| {
                    list.elements
                        .iter()
                        .filter_map(first_query)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let all = alignments(record);
        let queries = record.queries();
        assert_eq!(queries.len(), 2);
        let split = record.clone().split();
        for query in &queries {
            let only = split.only(&query.id, "q").unwrap();
            let own = alignments(&only);
            assert_eq!(own.len(), all.iter().filter(|id| **id == query.id).count());
            assert!(own.iter().all(|id| id == FIRST_QUERY), "{own:?}");
            let named: Vec<String> = only.body.elements.iter().flat_map(queries_named).collect();
            assert!(named.iter().all(|id| id == FIRST_QUERY), "{named:?}");
        }
        assert!(BLASTX.contains("segs std {"));
    }

    #[test]
    fn broken_archives_are_refused_saying_where() {
        for (text, says) in [
            ("Blast4-archive ::= { a {", "never closes"),
            ("Blast4-archive ::= { a \"b }", "never ends"),
            ("Blast4-archive ::=", "ends after"),
            ("} x", "where a record begins"),
            ("x ::= { a,, b }", "empty element"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        assert!(parse("  \n").unwrap().is_empty());
    }

    #[test]
    fn strings_keep_their_doubled_quotes_and_lose_their_line_breaks() {
        let records = parse("X ::= { title \"a \"\"b\"\"\nc\" }").unwrap();
        let element = &records[0].body.elements[0];
        assert_eq!(text_of(&element.tokens[1]).unwrap(), "a \"b\"c");
        assert_eq!(quote("a \"b\""), "\"a \"\"b\"\"\"");
    }
}
