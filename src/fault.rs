//! Faults injected into the store's writes, for tests of the paths a full or
//! failing disk takes, which a test cannot always cause for real.
//!
//! A leaf of its own so that the configuration can carry the hook and the
//! store obey it without either importing the other.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::Error;

/// A fault to inject into the store's writes. Clones share the fault, so a
/// test can set it while the server runs.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<Option<Fault>>>);

#[derive(Debug)]
struct Fault {
    errno: i32,
    /// Only writes of files with this name fail, when set.
    name: Option<String>,
}

impl Faults {
    /// Makes every write fail with the OS error `errno` (such as ENOSPC), from now on.
    pub fn fail_writes(&self, errno: i32) {
        self.set(Some(Fault { errno, name: None }));
    }

    /// Makes the writes of files named `name` (such as `experiment.json`)
    /// fail with `errno`, from now on; other writes succeed.
    pub fn fail_writes_to(&self, name: &str, errno: i32) {
        self.set(Some(Fault {
            errno,
            name: Some(name.to_owned()),
        }));
    }

    /// Lets writes succeed again.
    pub fn clear(&self) {
        self.set(None);
    }

    fn set(&self, fault: Option<Fault>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// The injected failure of a write of `path`, if one is set.
    pub fn check(&self, op: &'static str, path: &Path) -> Result<(), Error> {
        let fault = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*fault {
            Some(Fault { errno, name })
                if name
                    .as_deref()
                    .is_none_or(|name| path.file_name().is_some_and(|file| file == name)) =>
            {
                Err(Error::io(op, path, io::Error::from_raw_os_error(*errno)))
            }
            _ => Ok(()),
        }
    }
}
