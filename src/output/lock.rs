//! Locks that keep two peergen runs from interleaving their writes: an advisory `flock` on the
//! directory itself (the `--out` directory, or the repository's working tree), held for the
//! whole run and released by the kernel when the process ends, however it ends. The second run
//! waits up to `PEERGEN_LOCK_WAIT` seconds (default 30), then fails without touching anything.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error(
        "another peergen run holds the lock on {dir} (waited {waited}s; PEERGEN_LOCK_WAIT sets how long); nothing was changed"
    )]
    Busy { dir: PathBuf, waited: u64 },
    #[error(
        "{path} exists and is not a directory: the output is a tree of files in a directory (created when missing)"
    )]
    NotADirectory { path: PathBuf },
    #[error("{dir}: cannot lock: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

fn wait() -> Duration {
    std::env::var("PEERGEN_LOCK_WAIT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(DEFAULT_WAIT, Duration::from_secs)
}

impl DirLock {
    /// For a run that writes under `dir`.
    pub(crate) fn exclusive(dir: &Path) -> Result<DirLock, LockError> {
        Self::take(dir, File::try_lock)
    }

    /// For a run that writes `path`, which may not exist yet: the nearest existing directory on
    /// the way to it is locked, so nothing is created before the run knows it may write.
    pub(crate) fn exclusive_for(path: &Path) -> Result<DirLock, LockError> {
        if path.exists() && !path.is_dir() {
            return Err(LockError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        let mut dir = path;
        while !dir.exists() {
            match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => dir = p,
                _ => {
                    dir = Path::new(".");
                    break;
                }
            }
        }
        Self::exclusive(dir)
    }

    /// For a run that only reads under `dir`: several may read at once, none while one writes.
    pub(crate) fn shared(dir: &Path) -> Result<DirLock, LockError> {
        Self::take(dir, File::try_lock_shared)
    }

    fn take(
        dir: &Path,
        try_lock: fn(&File) -> Result<(), TryLockError>,
    ) -> Result<DirLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let file = File::open(dir).map_err(io)?;
        let limit = wait();
        let start = Instant::now();
        loop {
            match try_lock(&file) {
                Ok(()) => return Ok(DirLock { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < limit => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Busy {
                        dir: dir.to_path_buf(),
                        waited: limit.as_secs(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}
