//! Running a finished experiment again: a new experiment with its input,
//! pipeline and parameters, linked to it both ways.

use super::{blocking, App};
use crate::access::Viewer;
use crate::error::Error;
use crate::model::{Choice, Id, State};
use crate::query;
use crate::queue::View;

impl App {
    /// Queues a new experiment with the input, pipeline and parameters of a
    /// finished experiment that did not complete, linked both ways. It runs
    /// its pipeline as the configuration has it now, unless the pipeline is
    /// gone or no longer takes its parameters: then as it was accepted.
    pub async fn retry(&self, id: Id, by: &Viewer) -> Result<View, Error> {
        let original = self.experiment(id)?.record;
        match original.state {
            State::ExecutorError | State::SystemError | State::Canceled => {}
            State::Complete => {
                return Err(Error::WrongState(format!(
                    "experiment {id} completed; there is nothing to run again (submit it anew to repeat it)"
                )))
            }
            state => {
                return Err(Error::WrongState(format!(
                    "experiment {id} is {} and has not finished; it can run again once it has failed or was cancelled",
                    state.as_str()
                )))
            }
        }
        let store = self.store.clone();
        let input = blocking(move || {
            // A FASTQ read runs again with its qualities.
            let (mut file, name) = match store.open_file(id, crate::store::QUALITY_FILE) {
                Ok((file, _)) => (file, crate::store::QUALITY_FILE),
                Err(Error::NotFound(_)) => (
                    store.open_file(id, crate::store::QUERY_FILE)?.0,
                    crate::store::QUERY_FILE,
                ),
                Err(err) => return Err(err),
            };
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text)
                .map_err(|e| Error::io("reading", name, e))?;
            Ok(text)
        })
        .await?;
        // seqspool wrote this file from a query it accepted: it reads as one again.
        let queries = query::parse_records(&input, &self.limits)?;
        let current = self
            .catalog
            .get(&original.pipeline)
            .filter(|pipeline| pipeline.check_params(&original.params).is_ok());
        let mut choice = match current {
            Some(pipeline) => Choice::new(&pipeline, original.params.clone()),
            None => Choice {
                pipeline: original.pipeline.clone(),
                params: original.params.clone(),
                command: original.command.clone(),
                definition: original.definition(),
                retry_of: None,
                upload: None,
                submitted_by: None,
                notify_url: None,
                notify_lab: false,
            },
        };
        choice.retry_of = Some(id);
        choice.submitted_by = Some(by.name().into());
        // Whoever asked to hear of the first run hears of this one.
        choice.notify_url = original.notify_url.clone();
        choice.notify_lab = self.notifier.lab_wide();
        let records = self.intake.submit(queries, choice).await?;
        let again = records[0].id;
        if let Some(linked) = self.queue.retried(id, again) {
            let store = self.store.clone();
            if let Err(err) = blocking(move || store.write_record(&linked)).await {
                // The new experiment is accepted all the same; only the back link is missing.
                log::error!("experiment {id}: could not record that {again} runs it again: {err}");
            }
        }
        log::info!("experiment {id} runs again as {again}{}", by.by());
        Ok(self.view(&records[0]))
    }
}
