//! The Python anchors: the system `python3` (stdlib only) running the
//! scripts in `bench/python/`, each printing `key value` lines that this
//! module parses into a [`Report`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::report::Report;

/// What a Python row shows when there is no interpreter.
pub(crate) const NOT_FOUND: &str = "n/a (python3 not found)";

/// A working `python3` from `PATH`.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    exe: PathBuf,
    version: String,
}

impl Python {
    /// Finds `python3` on `PATH` and checks that it runs.
    pub(crate) fn find() -> Option<Python> {
        let output = Command::new("python3").arg("--version").output().ok()?;
        if !output.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        Some(Python {
            exe: "python3".into(),
            version: format!("{}{}", text.trim(), err.trim()),
        })
    }

    /// `Python 3.x.y`.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// Runs `bench/python/{script}` with `args` and parses its output.
    pub(crate) fn run(&self, script: &str, args: &[String]) -> Result<Report, String> {
        let path = scripts_dir().join(script);
        let output = Command::new(&self.exe)
            .arg(&path)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run python3 {}: {e}", path.display()))?;
        if !output.status.success() {
            return Err(format!(
                "python3 {} {} failed ({}): {}",
                script,
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Report::parse(&String::from_utf8_lossy(&output.stdout)))
    }
}

/// `bench/python`, found from this crate's manifest.
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}
