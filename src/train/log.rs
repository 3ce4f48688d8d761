//! The training log: each line goes to `training_<date>_<time>.log` and to the terminal.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A log that goes to a file and to standard output.
pub struct Log {
    file: File,
}

impl Log {
    /// Creates `training_<date>_<time>.log` in the `--logs` folder; returns it and its path.
    pub fn create(logs: &Path) -> Result<(Log, PathBuf)> {
        let path = logs.join(format!(
            "training_{}.log",
            chrono::Local::now().format("%Y%m%d_%H%M%S")
        ));
        let file = File::create(&path)
            .with_context(|| format!("--logs: cannot create {}", path.display()))?;
        Ok((Log { file }, path))
    }

    /// Writes a line to standard output and to the file.
    pub fn line(&mut self, text: &str) {
        println!("{text}");
        // The log is a convenience: a failed write must not stop training.
        let _ = writeln!(self.file, "{text}");
    }

    /// Writes a line to standard error and to the file.
    pub fn warning(&mut self, text: &str) {
        eprintln!("{text}");
        let _ = writeln!(self.file, "{text}");
    }
}
