//! Accepting a submission: the one way every route takes experiments in,
//! the native API's and the page's bodies, the legacy `POST /` and NCBI's
//! `CMD=Put`: fields become an [`Accepted`] submission by
//! [`submission::accept`], and [`App::submit`] writes it, all or none.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;

use super::App;
use crate::access::Viewer;
use crate::error::Error;
use crate::http::body;
use crate::http::negotiate;
use crate::model::{Choice, Id};
use crate::queue::View;
use crate::submission::{self, Accepted, Fields, Format, Source, Submission};

impl App {
    /// Reads a submission body in one of the `accepted` formats, within
    /// `--max-body` and the memory budget, and parses it.
    pub async fn read_submission(
        &self,
        request: Request<Incoming>,
        accepted: &[Format],
    ) -> Submission {
        let media = negotiate::media_type(request.headers());
        let format = match Format::of(&media, accepted) {
            Ok(format) => format,
            Err(err) => return Submission::failed(err),
        };
        let content_type = negotiate::content_type(request.headers()).to_owned();
        let query_string = request.uri().query().map(str::to_owned);
        // The permit holds the body's share of the budget until it is parsed.
        let (body, _permit) = match body::read(request, self.config.max_body, &self.bodies).await {
            Ok(read) => read,
            Err(err) => return Submission::failed(err),
        };
        submission::parse(
            format,
            &content_type,
            query_string.as_deref(),
            body,
            self.catalog.clone(),
            self.limits,
        )
        .await
    }

    /// Makes the fields another protocol sent (NCBI's `CMD=Put`) a
    /// submission, as a body's fields are made one: the queries, in the
    /// pipeline they name, which must take them and their parameters.
    pub fn accept(&self, fields: &Fields) -> Result<Accepted, Error> {
        submission::accept(fields, Source::Fields, &self.catalog, &self.limits)
    }

    /// Accepts queries as experiments of a pipeline, all or none, submitted
    /// `by` someone, and answers with their records as the index has them
    /// now (with their queue positions). Refused, with nothing written,
    /// when `by` may not write (see [`crate::access::Access::confirm_writer`]).
    pub async fn submit(&self, accepted: Accepted, by: &Viewer) -> Result<Vec<View>, Error> {
        let Accepted {
            queries,
            pipeline,
            params,
            upload,
            notify_url,
        } = accepted;
        if let Some(url) = &notify_url {
            self.notifier.check_destination(url)?;
        }
        // Asked again here, where every submission is made, whatever route
        // it came by: a user removed while their upload streamed in gets
        // nothing written.
        self.access.confirm_writer(by).await?;
        let choice = Choice {
            upload: upload.map(Arc::from),
            submitted_by: Some(by.name().into()),
            notify_url: notify_url.map(|url| url.as_str().into()),
            notify_lab: self.notifier.lab_wide(),
            ..Choice::new(&pipeline, params)
        };
        let records = self.intake.submit(queries, choice).await?;
        let ids: Vec<Id> = records.iter().map(|record| record.id).collect();
        let views = self.queue.get_all(&ids);
        Ok(records
            .iter()
            .zip(views)
            .map(|(record, view)| view.unwrap_or_else(|| View::finished(record)))
            .collect())
    }
}
