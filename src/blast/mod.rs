//! BLAST, in one home: what seqspool knows of NCBI's BLAST+ beyond running
//! a pipeline's command. A search runs once and keeps its archive
//! (`-outfmt 11`); everything else is made from that archive here.
//!
//! - [`format`]: the formats made from an archive with `blast_formatter`
//!   (the page's report, the downloads, the NCBI API's answers), under a
//!   time limit, a size limit and a bound on how many run at once.
//! - [`searched`]: the databases a search ran against, as `blastdbcmd`
//!   knows them: their titles (a report names them so, never by a path on
//!   the server), and the whole sequences of its hits for a download.
//! - [`report`]: the hit model read from BLAST's JSON (a report, each
//!   query's hits, their HSPs) and its numbers as BLAST writes them; no
//!   HTML (`ui::results` draws it, `results` makes and caches it).
//! - [`ncbi`]: NCBI's BLAST URL API as the configuration maps it onto
//!   pipelines (programs, databases, settings, RIDs, the formats it
//!   answers in, the lookup of an identifier sent as a query);
//!   `api::ncbi` speaks its protocol.
//! - [`databases`]: the databases of `--blast-databases`, as `blastdbcmd
//!   -list` finds them; [`shelf`] keeps what they offer current while the
//!   server runs, and [`build`] makes a new one (`seqspool db add`).
//! - [`programs`]: the BLAST programs offered as pipelines the lab does not
//!   write, their parameters and the arguments those become.
//! - [`run`]: their command, `seqspool __blast PROGRAM`: one search, alone or
//!   for a group of experiments, its archive split per query by
//!   [`archive`] (a reader of BLAST's ASN.1 text archive).
//!
//! A new BLAST capability gets a file here.

pub(crate) mod archive;
pub(crate) mod build;
pub(crate) mod databases;
pub(crate) mod format;
pub(crate) mod ncbi;
pub(crate) mod programs;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod searched;
pub(crate) mod shelf;
