//! Acceptance: turning validated queries into durable experiments, in order.
//!
//! One thread does it, so ids, directories and the worker's channel all see the
//! same order. For each submission it reserves room (a full queue refuses
//! before anything is written), writes the experiments under `.incoming/`,
//! flushes them, renames them into place, and only then indexes them, sends
//! them to the worker and lets the handler answer 2xx. Submissions that arrive
//! together are taken together, so the HTTP side never writes to disk itself.

use std::sync::Arc;
use std::thread::{self, JoinHandle};

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::query::Query;
use crate::queue::Queue;
use crate::store::{Id, Record, Store};
use crate::time::Timestamp;

/// Submissions that may wait for the intake thread; past it handlers wait for room.
const PENDING_SUBMISSIONS: usize = 1024;

/// The handle the HTTP side submits through.
#[derive(Clone)]
pub struct Intake {
    messages: mpsc::Sender<Message>,
}

enum Message {
    Submit(Submission),
    /// Shutdown: stop taking submissions; the thread ends and drops the worker's channel.
    Close,
}

struct Submission {
    queries: Vec<Query>,
    reply: oneshot::Sender<Result<Vec<Record>, Error>>,
}

impl Intake {
    /// Starts the intake thread. It gives ids from `next_id` on and sends
    /// accepted ids to the worker through `jobs`; it ends, dropping `jobs`, at
    /// [`Intake::close`].
    pub fn spawn(
        store: Arc<Store>,
        queue: Arc<Queue>,
        jobs: mpsc::Sender<Id>,
        next_id: Id,
        command: Arc<str>,
    ) -> (Intake, JoinHandle<()>) {
        let (messages, mut pending) = mpsc::channel(PENDING_SUBMISSIONS);
        let mut writer = Writer {
            store,
            queue,
            jobs,
            next_id,
            command,
        };
        let thread = thread::Builder::new()
            .name("intake".into())
            .spawn(move || {
                while let Some(Message::Submit(submission)) = pending.blocking_recv() {
                    let result = writer.accept(&submission.queries);
                    // The client may have gone; the experiments are accepted all the same.
                    let _ = submission.reply.send(result);
                }
            })
            .expect("spawning the intake thread");
        (Intake { messages }, thread)
    }

    /// Accepts queries as experiments, all or none; answers once they are durable.
    pub async fn submit(&self, queries: Vec<Query>) -> Result<Vec<Record>, Error> {
        let (reply, answer) = oneshot::channel();
        self.messages
            .send(Message::Submit(Submission { queries, reply }))
            .await
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Stops the intake after the submissions already sent; later ones get 503.
    pub async fn close(&self) {
        let _ = self.messages.send(Message::Close).await;
    }
}

struct Writer {
    store: Arc<Store>,
    queue: Arc<Queue>,
    jobs: mpsc::Sender<Id>,
    next_id: Id,
    command: Arc<str>,
}

impl Writer {
    fn accept(&mut self, queries: &[Query]) -> Result<Vec<Record>, Error> {
        let count = queries.len();
        if self.queue.is_closing() {
            return Err(Error::ShuttingDown);
        }
        self.queue.reserve(count)?;
        // The queue's count admits it; the channel must have the room too. It
        // can lag behind when cancelled experiments still sit in it, unread.
        let permits = match self.jobs.try_reserve_many(count) {
            Ok(permits) => permits,
            Err(_) => {
                self.queue.unreserve(count);
                return Err(Error::QueueFull {
                    capacity: self.queue.capacity(),
                });
            }
        };
        let records = match write(&self.store, &self.command, &mut self.next_id, queries) {
            Ok(records) => records,
            Err(err) => {
                self.queue.unreserve(count);
                return Err(err);
            }
        };
        self.queue.enqueue(&records);
        for (permit, record) in permits.zip(&records) {
            permit.send(record.id);
        }
        let batch = if count > 1 {
            format!(" in batch {}", records[0].id)
        } else {
            String::new()
        };
        for record in &records {
            log::info!(
                "experiment {} accepted{batch}: '{}', {} residues ({})",
                record.id,
                record.query_name,
                record.length,
                record.alphabet.as_str()
            );
        }
        Ok(records)
    }
}

/// Writes the experiments durably, giving ids from `next_id` on; nothing of
/// them is visible if it fails.
fn write(
    store: &Store,
    command: &Arc<str>,
    next_id: &mut Id,
    queries: &[Query],
) -> Result<Vec<Record>, Error> {
    let now = Timestamp::now();
    let batch = (queries.len() > 1).then_some(*next_id);
    let mut records = Vec::with_capacity(queries.len());
    let mut staged = Vec::with_capacity(queries.len());
    for query in queries {
        let id = *next_id;
        // Ids are used up even if the write fails: an id is never given twice.
        *next_id = Id(id.0 + 1);
        let record = Record::new(id, query, batch, command.clone(), now);
        staged.push(store.stage(&record, query)?);
        records.push(record);
    }
    store.publish(staged)?;
    Ok(records)
}
