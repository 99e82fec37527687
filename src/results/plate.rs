//! A batch as a plate: a page of its experiments, oldest first, each one's
//! result summed up in a few words, and the pipelines they ran; and, when
//! its records are named as wells ([`wells`]), every one of them in its well.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::{blocking, no_batch, App};
use crate::error::Error;
use crate::model::{Id, Record};
use crate::queue::{BatchPage, Waiting};

use super::summary::{self, Kind, Summary};
use super::wells::{self, Format, Layout, Well};

/// A page of a batch, oldest first, each experiment's result summed up.
pub(crate) struct Plate {
    pub batch: Id,
    pub page: BatchPage,
    /// One per record of the page, in its order.
    pub summaries: Vec<Summary>,
    /// When each record of the page should start and finish, in its order.
    pub etas: Vec<Waiting>,
    /// The pipelines of the page's experiments, in the order they first come.
    pub pipelines: Vec<PlatePipeline>,
    /// The whole batch in its wells, when its records are named as wells
    /// (whichever page this is).
    pub wells: Option<Wells>,
}

/// A batch laid out on its plate.
pub(crate) struct Wells {
    pub format: Format,
    /// One per well, row by row from A01: the experiment in it, if any.
    pub wells: Vec<Option<PlateWell>>,
}

impl Wells {
    /// A batch's experiments (in its order, each with its summary) in the
    /// wells `layout` found for their names.
    pub(crate) fn place(layout: &Layout, records: Vec<(Record, Summary)>) -> Wells {
        let mut records: Vec<Option<(Record, Summary)>> = records.into_iter().map(Some).collect();
        Wells {
            format: layout.format,
            wells: layout
                .wells
                .iter()
                .enumerate()
                .map(|(at, slot)| {
                    let (record, summary) = records[(*slot)?].take()?;
                    Some(PlateWell {
                        well: layout.format.well(at),
                        record,
                        summary,
                    })
                })
                .collect(),
        }
    }
}

/// An experiment in its well, as the grid shows it.
pub(crate) struct PlateWell {
    pub well: Well,
    pub record: Record,
    pub summary: Summary,
}

/// A pipeline of a batch, and how its results are summed up.
pub(crate) struct PlatePipeline {
    pub name: Arc<str>,
    /// Its title while this server still offers it, else its name.
    pub title: String,
    pub kind: Kind,
}

/// A page of the batch `batch`: up to `limit` experiments after `after`,
/// oldest first, each summed up from its result files (read on the
/// blocking pool, a bounded piece of each).
pub(crate) async fn plate(
    app: &App,
    batch: Id,
    after: Option<Id>,
    limit: usize,
) -> Result<Plate, Error> {
    let mut page = app
        .queue
        .batch(batch, after, limit)
        .ok_or_else(|| no_batch(batch))?;
    // A batch small enough to be a plate is read whole, for its grid; the
    // page is then taken from that one reading, so both say the same.
    let whole = if page.total() > wells::MAX_WELLS {
        None
    } else if after.is_none() && page.next.is_none() {
        Some(page.records.clone())
    } else {
        let whole = app
            .queue
            .batch(batch, None, wells::MAX_WELLS)
            .ok_or_else(|| no_batch(batch))?;
        let on_page: Vec<Id> = page.records.iter().map(|record| record.id).collect();
        page.records = whole
            .records
            .iter()
            .filter(|record| on_page.contains(&record.id))
            .cloned()
            .collect();
        page.counts = whole.counts;
        Some(whole.records)
    };
    let layout = whole
        .as_ref()
        .and_then(|records| wells::layout(records.iter().map(|r| r.query_name.as_str())));
    let whole = whole.filter(|_| layout.is_some());
    let ids: Vec<Id> = page.records.iter().map(|record| record.id).collect();
    let etas = app.queue.estimates(&ids);
    let store = app.store.clone();
    let (page, summaries, whole) = blocking(move || {
        // Each experiment is summed up once: the grid's, then the page's from them.
        let mut read: HashMap<Id, Summary> = whole
            .iter()
            .flatten()
            .map(|record| (record.id, summary::summarize_in(&store, record)))
            .collect();
        let summaries = page
            .records
            .iter()
            .map(|record| match read.get(&record.id) {
                Some(summary) => summary.clone(),
                None => summary::summarize_in(&store, record),
            })
            .collect();
        let whole = whole.map(|records| {
            records
                .into_iter()
                .map(|record| {
                    let summary = read.remove(&record.id).unwrap_or_default();
                    (record, summary)
                })
                .collect::<Vec<_>>()
        });
        Ok((page, summaries, whole))
    })
    .await?;
    let wells = layout
        .zip(whole)
        .map(|(layout, whole)| Wells::place(&layout, whole));
    let mut pipelines: Vec<PlatePipeline> = Vec::new();
    for record in &page.records {
        if pipelines.iter().all(|p| p.name != record.pipeline) {
            pipelines.push(PlatePipeline {
                name: record.pipeline.clone(),
                title: app
                    .catalog
                    .get(&record.pipeline)
                    .map_or_else(|| record.pipeline.to_string(), |p| p.title.clone()),
                kind: Kind::of(&record.definition()),
            });
        }
    }
    Ok(Plate {
        batch,
        page,
        summaries,
        etas,
        pipelines,
        wells,
    })
}
