//! What a run measured and how it is shown: figures in their units against
//! the targets of issue 6, the outcome of every run of a workload, the machine
//! they ran on, and the table of medians with minimum and maximum that ends the
//! benchmark. Plain values and text: it starts nothing and reads only `/proc`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use seqspool::time::Timestamp;

/// The figures of one run.
#[derive(Default)]
pub(crate) struct Run {
    figures: Vec<(Metric, f64)>,
    /// What the figures alone do not say, printed under the table.
    pub(crate) notes: Vec<String>,
}

impl Run {
    /// Records `value` for `metric`.
    pub(crate) fn figure(&mut self, metric: Metric, value: f64) {
        self.figures.push((metric, value));
    }

    /// The figures on one line, for the progress log.
    pub(crate) fn summary(&self) -> String {
        let line: Vec<String> = self
            .figures
            .iter()
            .map(|(m, v)| format!("{} {}", m.name, m.unit.render(*v)))
            .collect();
        line.join(", ")
    }
}

/// A row of the table: what is measured, in which unit, against which target.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) unit: Unit,
    pub(crate) target: Option<Target>,
}

/// How a figure is written.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Unit {
    PerSecond,
    Millis,
    Seconds,
    Megabytes,
    Bytes,
    Ratio,
    Count,
}

/// What the median must be to meet the target.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(limit) => value >= limit,
            Target::AtMost(limit) => value <= limit,
            Target::Below(limit) => value < limit,
        }
    }

    fn render(self, unit: Unit) -> String {
        match self {
            Target::AtLeast(limit) => format!(">= {}", unit.render(limit)),
            Target::AtMost(limit) => format!("<= {}", unit.render(limit)),
            Target::Below(limit) => format!("< {}", unit.render(limit)),
        }
    }
}

impl Unit {
    fn render(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Millis => format!("{value:.3} ms"),
            Unit::Seconds => format!("{value:.3} s"),
            Unit::Megabytes => format!("{value:.1} MB"),
            Unit::Bytes => format!("{value:.0} B"),
            Unit::Ratio => format!("{value:.2}"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// The outcome of all runs of one workload.
pub(crate) struct Report {
    pub(crate) name: &'static str,
    pub(crate) title: &'static str,
    pub(crate) runs: Vec<Run>,
    /// Why a run failed; the runs after it were not made.
    pub(crate) error: Option<String>,
}

/// The machine the figures were measured on, printed with them.
pub(crate) struct Machine {
    date: String,
    cores: usize,
    cpu: String,
    kernel: String,
    memory: String,
    filesystem: String,
    load: String,
}

impl Machine {
    /// Reads the machine's description from `/proc`, and the file system of `tmp`.
    pub(crate) fn describe(tmp: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown".to_owned(), |(_, model)| model.trim().to_owned());
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let kib: f64 = info
                    .lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            date: Timestamp::now().to_string(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or("unknown".into(), |k| k.trim().to_owned()),
            memory,
            filesystem: filesystem_of(tmp),
            load: Machine::load_average(),
        }
    }

    /// The load average of the last 1, 5 and 15 minutes.
    pub(crate) fn load_average() -> String {
        fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    }

    /// The lines that head the table.
    pub(crate) fn render(&self, binary: &Path) -> String {
        format!(
            "seqspool benchmark, {}\n\
             machine: {} cores (nproc), {}, {} RAM, Linux {}\n\
             experiments directories on: {}\n\
             server: {}\n\
             load average at the start: {} (the machine is shared with other builds)",
            self.date,
            self.cores,
            self.cpu,
            self.memory,
            self.kernel,
            self.filesystem,
            binary.display(),
            self.load
        )
    }
}

/// The file system holding `path`, from the longest matching mount point.
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(kind), Some(source)) =
            (fields.get(4), fields.get(dash + 1), fields.get(dash + 2))
        else {
            continue;
        };
        if path.starts_with(mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((
                mount.len(),
                format!(
                    "{} ({kind} on {source}, mounted at {mount})",
                    path.display()
                ),
            ));
        }
    }
    best.map_or_else(
        || format!("{} (file system unknown)", path.display()),
        |(_, text)| text,
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The table: a row a metric, its median over the runs, minimum, maximum and
/// target; then every run's notes.
pub(crate) fn render_table(reports: &[Report], runs: usize) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "".into(),
        "metric".into(),
        format!("median of {runs}"),
        "min".into(),
        "max".into(),
        "target".into(),
        "".into(),
    ]];
    let mut notes = String::new();
    for report in reports {
        let mut metrics: Vec<Metric> = Vec::new();
        for run in &report.runs {
            for (metric, _) in &run.figures {
                if !metrics.iter().any(|m| m.name == metric.name) {
                    metrics.push(*metric);
                }
            }
        }
        let mut first = true;
        for metric in metrics {
            let mut values: Vec<f64> = report
                .runs
                .iter()
                .flat_map(|run| &run.figures)
                .filter(|(m, _)| m.name == metric.name)
                .map(|(_, v)| *v)
                .collect();
            let mid = median(&mut values);
            let (min, max) = (values[0], values[values.len() - 1]);
            let (target, mark) = match metric.target {
                Some(target) => (
                    target.render(metric.unit),
                    if target.met(mid) { "✓" } else { "✗" }.to_owned(),
                ),
                None => (String::new(), String::new()),
            };
            rows.push([
                if first {
                    report.name.to_owned()
                } else {
                    String::new()
                },
                metric.name.to_owned(),
                metric.unit.render(mid),
                metric.unit.render(min),
                metric.unit.render(max),
                target,
                mark,
            ]);
            first = false;
        }
        if let Some(error) = &report.error {
            rows.push([
                if first {
                    report.name.to_owned()
                } else {
                    String::new()
                },
                format!("FAILED: {error}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "✗".into(),
            ]);
        }
        let _ = writeln!(notes, "{} {}", report.name, report.title);
        for (n, run) in report.runs.iter().enumerate() {
            for note in &run.notes {
                let _ = writeln!(notes, "  run {}: {note}", n + 1);
            }
        }
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            // Names read left to right; figures line up on the right.
            if (2..=4).contains(&c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if n == 0 {
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 12));
        }
    }
    let _ = writeln!(out, "\n{notes}");
    out
}
