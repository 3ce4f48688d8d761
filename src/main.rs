//! The `hrcast` command (see [`hrcast::cli`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(unix)]
    runtime_dir::ensure_private();
    match hrcast::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A usable `XDG_RUNTIME_DIR`. Mesa's drivers, loaded by wgpu as it enumerates adapters, print
/// "XDG_RUNTIME_DIR is invalid or not set in the environment" (and the GL backend's EGL probe
/// more errors after it) where the variable is unset, as in containers, CI and `sudo`. Where it is
/// unset or not a private folder of ours, it is pointed at one under the temporary folder.
#[cfg(unix)]
mod runtime_dir {
    use std::fs;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    /// Whether `path` is a folder (not a link) owned by `uid` that only its owner can enter, as
    /// the XDG base directory specification asks of the runtime folder.
    fn is_private(path: &Path, uid: u32) -> bool {
        fs::symlink_metadata(path)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o777 == 0o700)
    }

    /// This process's effective user id: from `/proc/self/status` where there is one, else the
    /// owner of a file it creates (and removes at once) in the temporary folder.
    fn effective_uid() -> Option<u32> {
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            // "Uid:	real	effective	saved	filesystem"
            return status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|id| id.parse().ok());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let probe =
            std::env::temp_dir().join(format!(".hrcast-uid-{}-{nanos}", std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .ok()?;
        let uid = file.metadata().ok().map(|m| m.uid());
        let _ = fs::remove_file(&probe);
        uid
    }

    /// Points `XDG_RUNTIME_DIR` at `<temporary folder>/hrcast-runtime-<uid>` (created with mode
    /// 0700 on demand) unless it already names a private folder of ours. Leaves it alone where
    /// that folder cannot be made private (another user's, say). Must run before any thread
    /// starts.
    pub fn ensure_private() {
        let Some(uid) = effective_uid() else { return };
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| is_private(Path::new(&d), uid)) {
            return;
        }
        let dir = std::env::temp_dir().join(format!("hrcast-runtime-{uid}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return,
        }
        // Ours but with other permissions (a umask narrower than 077, or changed since): fix.
        if let Ok(m) = fs::symlink_metadata(&dir)
            && m.is_dir()
            && m.uid() == uid
            && m.mode() & 0o777 != 0o700
        {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        }
        if is_private(&dir, uid) {
            // SAFETY: `set_var` is unsound only while another thread may read or write the
            // environment. This runs first thing in `main`, before the command line is parsed
            // and before anything (wgpu, the Ctrl-C handler, the GEMM threads) starts a thread,
            // so the process has a single thread here.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}
