//! Atomic file output: every file hrcast writes goes to a temporary name in the same folder and
//! is renamed into place only once it is complete, so an interrupted run never leaves a
//! half-written checkpoint or data file behind.

use anyhow::{Context, Result};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The marker between a file's name and the writing process's id in a temporary name.
const TEMPORARY_MARKER: &str = ".tmp-";

/// The temporary name a file is written under before it is renamed to `path`.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{TEMPORARY_MARKER}{}", std::process::id()));
    path.with_file_name(name)
}

/// Whether the process `pid` is running. Where that cannot be told (outside Linux), every
/// process counts as running, so that no temporary file of a live run is removed.
fn running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes temporary files of `path` left behind by runs that were killed before they could
/// rename or remove them (`<name>.tmp-<pid>` where no process `pid` runs). Readers never look
/// at such files; this only keeps folders tidy.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}{TEMPORARY_MARKER}", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let stale = entry_name
            .strip_prefix(&prefix)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid != std::process::id() && !running(pid));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Files being written under temporary names, renamed into place together by
/// [`Staged::commit`]; dropped before that, the temporary files are removed.
pub struct Staged {
    /// The temporary name and the final path of each file.
    files: Vec<(PathBuf, PathBuf)>,
    /// Whether the files were renamed into place.
    committed: bool,
}

impl Staged {
    /// Creates (empty) the temporary file of each of `paths`, and their folders where needed;
    /// temporary files of killed earlier runs are cleaned up. The files, in the order of
    /// `paths`, are open for writing.
    pub fn create(paths: &[PathBuf]) -> Result<(Staged, Vec<fs::File>)> {
        let mut staged = Staged {
            files: Vec::new(),
            committed: false,
        };
        let mut handles = Vec::new();
        for path in paths {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create folder {}", dir.display()))?;
            }
            remove_stale_temporaries(path);
            let tmp = temporary_path(path);
            staged.files.push((tmp.clone(), path.clone()));
            handles.push(
                fs::File::create(&tmp)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            );
        }
        Ok((staged, handles))
    }

    /// Renames every file into place. (A kill between two renames can still leave a new file
    /// beside an old one: files that belong together carry an id that their readers compare,
    /// see [`crate::dataset::check_same_set`].)
    pub fn commit(mut self) -> Result<()> {
        for (tmp, path) in &self.files {
            fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for (tmp, _) in &self.files {
                let _ = fs::remove_file(tmp);
            }
        }
    }
}

/// Writes several files so that either all of them appear complete or none is replaced
/// ([`Staged`]).
pub fn write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let paths: Vec<PathBuf> = files.iter().map(|(path, _)| path.clone()).collect();
    let (staged, handles) = Staged::create(&paths)?;
    for ((path, bytes), mut file) in files.iter().zip(handles) {
        file.write_all(bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    staged.commit()
}

/// Writes one file atomically ([`Staged`]) through a buffered writer that `write` fills.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
) -> Result<()> {
    let (staged, mut handles) = Staged::create(&[path.to_path_buf()])?;
    let mut out = BufWriter::new(handles.remove(0));
    write(&mut out)?;
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    staged.commit()
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
