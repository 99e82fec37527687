//! A batch as a plate: a page of its experiments, oldest first, each one's
//! result summed up in a few words, and the pipelines they ran.

use std::sync::Arc;

use crate::app::{blocking, no_batch, App};
use crate::error::Error;
use crate::model::Id;
use crate::queue::{BatchPage, Waiting};

use super::summary::{self, Kind, Summary};

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
    let page = app
        .queue
        .batch(batch, after, limit)
        .ok_or_else(|| no_batch(batch))?;
    let ids: Vec<Id> = page.records.iter().map(|record| record.id).collect();
    let etas = app.queue.estimates(&ids);
    let store = app.store.clone();
    let (page, summaries) = blocking(move || {
        let summaries = page
            .records
            .iter()
            .map(|record| summary::summarize_in(&store, record))
            .collect();
        Ok((page, summaries))
    })
    .await?;
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
    })
}
