//! Where a command's output goes: each stream copied into its experiment's
//! log up to a cap (the rest read and dropped, so the command never blocks on
//! a full pipe), and a warm processor's into its pipeline's log, renamed to
//! `.1` when full.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

pub(super) fn timeout(deadline: Option<Instant>) -> Option<Timespec> {
    deadline.map(|deadline| {
        let left = deadline.saturating_duration_since(Instant::now());
        Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        }
    })
}
/// One of the command's output streams, copied into its log.
pub(super) struct Output {
    pub(super) from: File,
    pub(super) open: bool,
    /// The experiment's log it is copied into: always for a command; for a
    /// warm processor, while it works on an experiment.
    pub(super) to: Option<Sink>,
}

/// An experiment's log, which keeps at most `max` bytes.
pub(super) struct Sink {
    pub(super) file: File,
    max: u64,
    kept: u64,
    dropped: u64,
}

impl Sink {
    pub(super) fn new(file: File, max: u64) -> Sink {
        Sink {
            file,
            max,
            kept: 0,
            dropped: 0,
        }
    }

    /// Keeps what fits; the rest is counted as dropped.
    fn keep(&mut self, bytes: &[u8]) {
        let n = bytes.len() as u64;
        let keep = (self.max - self.kept).min(n) as usize;
        if keep > 0 && self.file.write_all(&bytes[..keep]).is_err() {
            // The disk is full: keep draining, so the command is not blocked.
            self.dropped += n;
            return;
        }
        self.kept += keep as u64;
        self.dropped += n - keep as u64;
    }

    pub(super) fn finish(mut self) {
        if self.dropped > 0 {
            let _ = write!(
                self.file,
                "\n[seqspool: {} more bytes dropped; the log is capped at {} bytes]\n",
                self.dropped, self.max
            );
        }
    }
}

impl Output {
    pub(super) fn new(from: io::PipeReader, to: Option<Sink>) -> Output {
        Output {
            from: File::from(OwnedFd::from(from)),
            open: true,
            to,
        }
    }

    /// Copies what is readable now into the experiment's log (at most its
    /// cap; the rest is read and dropped so the command never blocks on a
    /// full pipe) and into the processor's `log`, if any.
    pub(super) fn copy(&mut self, buf: &mut [u8], log: Option<&mut Log>) {
        let n = match self.from.read(buf) {
            Ok(0) => {
                self.open = false;
                return;
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => {
                self.open = false;
                return;
            }
        };
        if let Some(log) = log {
            log.write(&buf[..n]);
        }
        if let Some(to) = &mut self.to {
            to.keep(&buf[..n]);
        }
    }

    /// Ends the copy into the experiment's log.
    pub(super) fn finish(&mut self) {
        if let Some(to) = self.to.take() {
            to.finish();
        }
    }
}

/// A warm processor's log: appended to, renamed to `<log>.1` (replacing the
/// one before) when it reaches its cap, so it never holds more than twice that.
pub(super) struct Log {
    path: PathBuf,
    file: File,
    max: u64,
    written: u64,
}

impl Log {
    pub(super) fn open(path: &std::path::Path, max: u64) -> io::Result<Log> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        let written = file.metadata()?.len();
        Ok(Log {
            path: path.to_owned(),
            file,
            max,
            written,
        })
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        if self.written > 0 && self.written + bytes.len() as u64 > self.max {
            let mut older = self.path.clone().into_os_string();
            older.push(".1");
            if fs::rename(&self.path, &older).is_ok() {
                if let Ok(log) = Log::open(&self.path, self.max) {
                    *self = log;
                }
            }
        }
        if self.file.write_all(bytes).is_ok() {
            self.written += bytes.len() as u64;
        }
    }
}
/// Copies what the outputs hold, waiting at most until `deadline`.
pub(super) fn drain(
    outputs: &mut [Output; 2],
    mut log: Option<&mut Log>,
    deadline: Instant,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut fds: Vec<PollFd> = outputs
        .iter()
        .filter(|output| output.open)
        .map(|output| PollFd::new(&output.from, PollFlags::IN))
        .collect();
    match poll(&mut fds, timeout(Some(deadline)).as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(err) => return Err(err.into()),
    }
    let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
    drop(fds);
    let mut ready = ready.into_iter();
    for output in outputs.iter_mut().filter(|output| output.open) {
        if ready.next() == Some(true) {
            output.copy(buf, log.as_deref_mut());
        }
    }
    Ok(())
}

/// Most passes of [`drain_now`]: a processor printing without pause must not
/// hold its answer back for ever.
const DRAIN_NOW_PASSES: usize = 16;

/// Copies what the outputs hold already, without waiting for more.
pub(super) fn drain_now(outputs: &mut [Output; 2], log: &mut Log, buf: &mut [u8]) {
    for _ in 0..DRAIN_NOW_PASSES {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = outputs
                .iter()
                .filter(|output| output.open)
                .map(|output| PollFd::new(&output.from, PollFlags::IN))
                .collect();
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if poll(&mut fds, Some(&zero)).unwrap_or(0) == 0 {
                return;
            }
            fds.iter().map(|fd| !fd.revents().is_empty()).collect()
        };
        let mut ready = ready.into_iter();
        for output in outputs.iter_mut().filter(|output| output.open) {
            if ready.next() == Some(true) {
                output.copy(buf, Some(log));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_processors_log_is_renamed_when_full_and_begun_again() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kmer.log");
        fs::write(&path, "earlier\n").unwrap();
        let mut log = Log::open(&path, 16).unwrap();
        log.write(b"0123456\n");
        log.write(b"abcdefg\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "abcdefg\n");
        assert_eq!(
            fs::read_to_string(tmp.path().join("kmer.log.1")).unwrap(),
            "earlier\n0123456\n"
        );
    }
}
