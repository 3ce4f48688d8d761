//! Atomic file output: every file hrcast writes goes to a temporary name in the same folder and
//! is renamed into place only once it is complete, so an interrupted run never leaves a
//! half-written checkpoint or data file behind.

use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed to `path`.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes several files so that either all of them appear complete or none is replaced:
/// each is written to a temporary name first, and they are renamed only when all writes succeeded.
pub fn write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| -> Result<()> {
        for (path, bytes) in files {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create folder {}", dir.display()))?;
            }
            let tmp = temporary_path(path);
            fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", path.display()))?;
            written.push((tmp, path.clone()));
        }
        Ok(())
    })();
    if let Err(err) = result {
        for (tmp, _) in &written {
            let _ = fs::remove_file(tmp);
        }
        return Err(err);
    }
    for (tmp, path) in &written {
        fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Writes one file atomically (see [`write_all`]).
pub fn write(path: &Path, bytes: Vec<u8>) -> Result<()> {
    write_all(&[(path.to_path_buf(), bytes)])
}

/// Creates a folder if needed and checks that files can be written in it; the error names the
/// flag that chose the folder.
pub fn writable_folder(dir: &Path, flag: &str) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("{flag} {}: cannot create the folder", dir.display()))?;
    let probe = dir.join(format!(".hrcast-write-test-{}", std::process::id()));
    fs::write(&probe, b"")
        .with_context(|| format!("{flag} {}: the folder is not writable", dir.display()))?;
    let _ = fs::remove_file(probe);
    Ok(())
}
