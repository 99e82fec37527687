//! Faults injected into the store's writes, for tests of the paths a full or
//! failing disk takes, which a test cannot always cause for real.
//!
//! A leaf of its own so that the configuration can carry the hook and the
//! store obey it without either importing the other.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use crate::error::Error;

/// A fault to inject into the store's writes. Clones share the fault, so a
/// test can set it while the server runs.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<AtomicI32>);

impl Faults {
    /// Makes every write fail with the OS error `errno` (such as ENOSPC), from now on.
    pub fn fail_writes(&self, errno: i32) {
        self.0.store(errno, Ordering::SeqCst);
    }

    /// Lets writes succeed again.
    pub fn clear(&self) {
        self.0.store(0, Ordering::SeqCst);
    }

    /// The injected failure of a write of `path`, if one is set.
    pub fn check(&self, op: &'static str, path: &Path) -> Result<(), Error> {
        match self.0.load(Ordering::SeqCst) {
            0 => Ok(()),
            errno => Err(Error::io(op, path, io::Error::from_raw_os_error(errno))),
        }
    }
}
