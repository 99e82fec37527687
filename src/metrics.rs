//! What Prometheus scrapes at `GET /metrics`: the queue as it is now, and
//! counts of what happened since the server started.
//!
//! The gauges are read from the queue's index at each scrape, so they never
//! drift from what the API shows. The counters and histograms are fed by the
//! index itself as experiments are accepted, start and end (whichever route or
//! thread made the change), and by the router for each request. They start
//! from zero at each start of the server, as Prometheus expects of a process
//! (`rate()` and `increase()` take a restart in their stride); the records on
//! disk keep the history. No label carries an experiment id: each would be a
//! series of its own, for ever.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{prometheus_text, text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::model::Record;
use crate::time::Timestamp;

/// The upper bounds, in seconds, of the buckets of both histograms: runs and
/// waits of a lab's workstation go from a tenth of a second (an idle queue,
/// the built-in analysis) to a week (a large BLAST search behind others).
const BUCKETS: [f64; 16] = [
    0.1,
    1.0,
    5.0,
    15.0,
    60.0,
    5.0 * 60.0,
    15.0 * 60.0,
    30.0 * 60.0,
    3600.0,
    2.0 * 3600.0,
    4.0 * 3600.0,
    12.0 * 3600.0,
    86_400.0,
    2.0 * 86_400.0,
    4.0 * 86_400.0,
    7.0 * 86_400.0,
];

/// The upper bounds of the buckets of the group sizes: a few experiments,
/// a row or column of a plate, a 96-well and a 384-well plate.
const GROUP_SIZES: [f64; 8] = [2.0, 4.0, 8.0, 16.0, 48.0, 96.0, 384.0, 1000.0];

/// The `Content-Type` of the OpenMetrics text format, which Prometheus asks for first.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `Content-Type` of the Prometheus text format (0.0.4), for every other client.
pub const PROMETHEUS_TEXT: &str = prometheus_text::CONTENT_TYPE;

/// Which text format a scrape is answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    PrometheusText,
}

/// The queue as a scrape reads it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub queued: usize,
    pub running: usize,
    pub paused: bool,
    /// When the oldest waiting experiment was submitted.
    pub oldest_queued: Option<Timestamp>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Finished {
    state: &'static str,
    pipeline: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pipeline {
    pipeline: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: &'static str,
}

type Histograms = Family<Pipeline, Histogram, fn() -> Histogram>;

/// The counters and histograms of one server, and the registry that writes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    submitted: Counter,
    finished: Family<Finished, Counter>,
    duration: Histograms,
    queue_wait: Histograms,
    webhooks: Family<Outcome, Counter>,
    requests: Family<Request, Counter>,
    warm_starts: Family<Pipeline, Counter>,
    groups: Counter,
    group_sizes: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let submitted = Counter::default();
        registry.register(
            "seqspool_jobs_submitted",
            "Experiments accepted since the server started",
            submitted.clone(),
        );
        let finished = Family::default();
        registry.register(
            "seqspool_jobs_finished",
            "Experiments that ended since the server started, by final state and pipeline",
            finished.clone(),
        );
        let duration = histograms();
        registry.register_with_unit(
            "seqspool_job_duration",
            "How long the runs that ended took, from start to end, by pipeline",
            Unit::Seconds,
            duration.clone(),
        );
        let queue_wait = histograms();
        registry.register_with_unit(
            "seqspool_job_queue_wait",
            "How long experiments waited in the queue before their run started, by pipeline",
            Unit::Seconds,
            queue_wait.clone(),
        );
        let webhooks = Family::default();
        registry.register(
            "seqspool_webhook_deliveries",
            "Attempts to deliver a completion notification, by outcome",
            webhooks.clone(),
        );
        let requests = Family::default();
        registry.register(
            "seqspool_http_requests",
            "Requests answered, by route pattern and status",
            requests.clone(),
        );
        let warm_starts = Family::default();
        registry.register(
            "seqspool_warm_processor_starts",
            "Warm processors started since the server started, by pipeline",
            warm_starts.clone(),
        );
        let groups = Counter::default();
        registry.register(
            "seqspool_groups_run",
            "Grouped runs started since the server started: each served several experiments at once",
            groups.clone(),
        );
        let group_sizes = Histogram::new(GROUP_SIZES);
        registry.register(
            "seqspool_group_size",
            "How many experiments each grouped run served",
            group_sizes.clone(),
        );
        let build = Family::<Build, Gauge>::default();
        build
            .get_or_create(&Build {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "seqspool_build_info",
            "The version of seqspool that is running (always 1)",
            build,
        );
        Metrics {
            registry,
            submitted,
            finished,
            duration,
            queue_wait,
            webhooks,
            requests,
            warm_starts,
            groups,
            group_sizes,
        }
    }

    /// A grouped run of `size` experiments started.
    pub fn group_started(&self, size: usize) {
        self.groups.inc();
        self.group_sizes.observe(size as f64);
    }

    /// `count` experiments were accepted.
    pub fn accepted(&self, count: usize) {
        self.submitted.inc_by(count as u64);
    }

    /// An experiment's run started: how long it waited.
    pub fn started(&self, record: &Record) {
        if let Some(started) = record.started_at {
            self.queue_wait
                .get_or_create(&pipeline(record))
                .observe(seconds(started, record.submitted_at));
        }
    }

    /// An experiment ended (completed, failed, or was cancelled, run or not):
    /// its state, and how long its run took if it ran.
    pub fn ended(&self, record: &Record) {
        self.finished
            .get_or_create(&Finished {
                state: record.state.as_str(),
                pipeline: record.pipeline.to_string(),
            })
            .inc();
        if let (Some(started), Some(finished)) = (record.started_at, record.finished_at) {
            self.duration
                .get_or_create(&pipeline(record))
                .observe(seconds(finished, started));
        }
    }

    /// A request to `route` (a pattern of `api::routes::ROUTES`, or `unknown`)
    /// was answered with `status`.
    pub fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&Request { route, status })
            .inc();
    }

    /// A completion notification was tried: `outcome` is one of a few fixed
    /// words (`delivered`, `retry`, `failed`), never an address or an id.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhooks.get_or_create(&Outcome { outcome }).inc();
    }

    /// A warm processor of `pipeline` was started (at its first experiment,
    /// with the server, or again after one was stopped).
    pub fn warm_processor_started(&self, pipeline: &str) {
        self.warm_starts
            .get_or_create(&Pipeline {
                pipeline: pipeline.to_owned(),
            })
            .inc();
    }

    /// Everything, in `format`: the queue as `now` has it, then the counters.
    pub fn render(&self, now: Gauges, format: Format) -> String {
        let mut gauges = Registry::default();
        let gauge = |value: usize| {
            let gauge = Gauge::<i64>::default();
            gauge.set(value as i64);
            gauge
        };
        gauges.register(
            "seqspool_queue_depth",
            "Experiments waiting in the queue",
            gauge(now.queued),
        );
        gauges.register(
            "seqspool_jobs_running",
            "Experiments running now",
            gauge(now.running),
        );
        gauges.register(
            "seqspool_queue_paused",
            "1 while the queue is paused (nothing new starts), else 0",
            gauge(now.paused.into()),
        );
        let age = Gauge::<f64, AtomicU64>::default();
        age.set(
            now.oldest_queued
                .map_or(0.0, |submitted| seconds(Timestamp::now(), submitted)),
        );
        gauges.register_with_unit(
            "seqspool_oldest_queued_job_age",
            "How long the oldest waiting experiment has waited (0 when none waits)",
            Unit::Seconds,
            age,
        );
        let mut out = String::new();
        // Writing into a String cannot fail.
        match format {
            Format::OpenMetrics => {
                text::encode_registry(&mut out, &gauges).expect("metrics encode");
                text::encode_registry(&mut out, &self.registry).expect("metrics encode");
                text::encode_eof(&mut out).expect("metrics encode");
            }
            Format::PrometheusText => {
                prometheus_text::encode(&mut out, &gauges).expect("metrics encode");
                prometheus_text::encode(&mut out, &self.registry).expect("metrics encode");
            }
        }
        out
    }
}

fn histograms() -> Histograms {
    fn histogram() -> Histogram {
        Histogram::new(BUCKETS)
    }
    Family::new_with_constructor(histogram)
}

fn pipeline(record: &Record) -> Pipeline {
    Pipeline {
        pipeline: record.pipeline.to_string(),
    }
}

fn seconds(later: Timestamp, earlier: Timestamp) -> f64 {
    later.since(earlier).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    #[test]
    fn ends_are_counted_by_state_and_pipeline_and_runs_timed() {
        let metrics = Metrics::new();
        metrics.accepted(3);
        let submitted = Timestamp::now();
        let ran = Record {
            submitted_at: submitted,
            started_at: Some(submitted.after(std::time::Duration::from_secs(2))),
            finished_at: Some(submitted.after(std::time::Duration::from_secs(90))),
            ..Record::for_test(1, State::Complete)
        };
        metrics.started(&ran);
        metrics.ended(&ran);
        metrics.ended(&Record::for_test(2, State::Canceled));
        metrics.request("/experiments/{id}", 404);
        metrics.warm_processor_started("kmer-index");
        metrics.warm_processor_started("kmer-index");
        let text = metrics.render(
            Gauges {
                queued: 2,
                ..Gauges::default()
            },
            Format::PrometheusText,
        );
        for line in [
            "seqspool_queue_depth 2",
            "seqspool_queue_paused 0",
            "seqspool_jobs_submitted_total 3",
            "seqspool_jobs_finished_total{state=\"COMPLETE\",pipeline=\"default\"} 1",
            "seqspool_jobs_finished_total{state=\"CANCELED\",pipeline=\"default\"} 1",
            "seqspool_job_duration_seconds_count{pipeline=\"default\"} 1",
            "seqspool_job_duration_seconds_sum{pipeline=\"default\"} 88",
            concat!(
                "seqspool_build_info{version=\"",
                env!("CARGO_PKG_VERSION"),
                "\"} 1"
            ),
            "seqspool_job_duration_seconds_bucket{pipeline=\"default\",le=\"60\"} 0",
            "seqspool_job_duration_seconds_bucket{pipeline=\"default\",le=\"300\"} 1",
            "seqspool_job_queue_wait_seconds_sum{pipeline=\"default\"} 2",
            "seqspool_http_requests_total{route=\"/experiments/{id}\",status=\"404\"} 1",
            "seqspool_warm_processor_starts_total{pipeline=\"kmer-index\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(line)),
                "no line {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("# EOF"));
        let open = metrics.render(Gauges::default(), Format::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
    }
}
