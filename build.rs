//! Says which outside tools the tests can use, so that a test whose tool is
//! missing is reported as *ignored*, with the reason, rather than passing
//! after a skip (run anyway, it fails).
//!
//! Each tool becomes a `cfg` the tests read:
//! `#[cfg_attr(not(seqspool_test_blast), ignore = "needs NCBI BLAST+")]`; how
//! a test uses it is written once, in the doc of `tests/it/common/mod.rs`.
//! A tool named in `SEQSPOOL_TEST_REQUIRE` (as CI names them) is never
//! ignored: its tests run, and fail when it is missing.
//!
//! The server itself needs none of these; nothing here changes the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tools, by the name `SEQSPOOL_TEST_REQUIRE` uses, and the `cfg` each sets.
const TOOLS: &[(&str, &str)] = &[
    ("blast", "seqspool_test_blast"),
    ("chromium", "seqspool_test_chromium"),
    ("python3", "seqspool_test_python3"),
    ("python-packages", "seqspool_test_python_packages"),
    ("slurm", "seqspool_test_slurm"),
    ("tmpfs", "seqspool_test_tmpfs"),
];

fn main() {
    for var in ["PATH", "SEQSPOOL_TEST_REQUIRE", "SEQSPOOL_TEST_PYTHON"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=tests/requirements.txt");
    // Installing a tool or the tests' Python packages is noticed at the next build.
    for dir in path_dirs() {
        if dir.is_dir() {
            println!("cargo::rerun-if-changed={}", dir.display());
        }
    }
    let venv = Path::new(".venv/bin");
    if venv.is_dir() {
        println!("cargo::rerun-if-changed={}", venv.display());
    }
    let required = std::env::var("SEQSPOOL_TEST_REQUIRE").unwrap_or_default();
    for (tool, cfg) in TOOLS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if required.split(',').any(|named| named.trim() == *tool) || present(tool) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

fn present(tool: &str) -> bool {
    match tool {
        "blast" => [
            "blastn",
            "blastp",
            "makeblastdb",
            "blast_formatter",
            "blastdbcmd",
        ]
        .iter()
        .all(|program| on_path(program)),
        "chromium" => on_path("chromium") && on_path("chromedriver"),
        "python3" => on_path("python3"),
        "python-packages" => {
            python_imports(&["Bio.Blast", "prometheus_client", "openapi_spec_validator"])
        }
        // A private cluster on this machine: its daemons, and root to run them.
        "slurm" => {
            root()
                && ["munged", "slurmctld", "slurmd", "sbatch"]
                    .iter()
                    .all(|program| {
                        on_path(program) || Path::new("/usr/sbin").join(program).is_file()
                    })
        }
        // Mounting a small tmpfs to fill it.
        "tmpfs" => root(),
        _ => false,
    }
}

fn path_dirs() -> Vec<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths).collect()
}

fn on_path(program: &str) -> bool {
    path_dirs()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .any(|dir| dir.join(program).is_file())
}

/// Whether the Python the tests use (as `tests/it/common` chooses it) imports `modules`.
fn python_imports(modules: &[&str]) -> bool {
    let python = match std::env::var_os("SEQSPOOL_TEST_PYTHON") {
        Some(chosen) => PathBuf::from(chosen),
        None if Path::new(".venv/bin/python3").is_file() => PathBuf::from(".venv/bin/python3"),
        None => PathBuf::from("python3"),
    };
    Command::new(python)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
