//! One rendered file and where its verified bytes live while the run needs them: in memory, in a
//! spool file on disk (apply: they are written anyway), or nowhere but their git blob id (they
//! match the previous output, so nothing reads them again). [`Keep`] decides, on the rendering
//! thread, so a large tree is never held whole.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::blob::BlobId;
use super::tree::{TreeError, io};

/// One rendered file: its length, its blob id and its bytes where they are kept. Clones share
/// the bytes.
#[derive(Clone, Debug)]
pub(crate) struct File {
    body: Body,
    len: u64,
}

#[derive(Clone, Debug)]
enum Body {
    /// The id is hashed when first asked for: `render` never needs it.
    Memory(Arc<Vec<u8>>, OnceLock<BlobId>),
    Spooled(Arc<Spooled>, BlobId),
    /// The previous output (HEAD, or the directory `render` writes) holds exactly these bytes.
    Dropped(BlobId),
}

impl PartialEq for File {
    fn eq(&self, other: &File) -> bool {
        self.len == other.len && self.id() == other.id()
    }
}

impl Eq for File {}

impl File {
    pub(crate) fn new(bytes: Vec<u8>) -> File {
        File {
            len: bytes.len() as u64,
            body: Body::Memory(Arc::new(bytes), OnceLock::new()),
        }
    }

    pub(crate) fn id(&self) -> BlobId {
        match &self.body {
            Body::Memory(bytes, id) => *id.get_or_init(|| BlobId::of(bytes)),
            Body::Spooled(_, id) | Body::Dropped(id) => *id,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The bytes, read back from the spool when they are there; `path` (the file's place in the
    /// output) names a file whose bytes were not kept.
    pub(crate) fn read(&self, path: &str) -> Result<Arc<Vec<u8>>, TreeError> {
        match &self.body {
            Body::Memory(bytes, _) => Ok(Arc::clone(bytes)),
            Body::Spooled(s, _) => std::fs::read(&s.0).map(Arc::new).map_err(io(&s.0)),
            Body::Dropped(_) => Err(TreeError::NotKept(path.to_owned())),
        }
    }

    /// True when the file at `path` (whose lstat is `meta`) holds exactly these bytes.
    pub(crate) fn held_by(&self, path: &Path, meta: &std::fs::Metadata) -> bool {
        // A file of another length cannot hold them: no need to read it.
        if meta.len() != self.len {
            return false;
        }
        let Ok(on_disk) = std::fs::read(path) else {
            return false;
        };
        match &self.body {
            Body::Memory(bytes, _) => on_disk == **bytes,
            Body::Spooled(..) | Body::Dropped(_) => BlobId::of(&on_disk) == self.id(),
        }
    }

    /// A temporary file beside `target` with these bytes and file mode `mode`, in a directory that
    /// exists: the spooled file itself, moved there, where the spool shares the file system (its
    /// bytes are then no longer in the spool), else a copy, synced either way.
    pub(crate) fn stage(&self, target: &Path, mode: u32) -> std::io::Result<tempfile::TempPath> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let bytes = match &self.body {
            Body::Memory(bytes, _) => Arc::clone(bytes),
            Body::Spooled(s, _) => {
                let linked = tempfile::Builder::new()
                    .prefix(super::tree::TEMP_PREFIX)
                    .make_in(dir, |path| std::fs::hard_link(&s.0, path));
                if let Ok(linked) = linked {
                    let path = linked.into_temp_path();
                    // Linked then unlinked, not renamed, so an existing name is never replaced; and
                    // unlinked now, because removing a second name later would change the file's
                    // ctime after apply put it in git's index.
                    std::fs::remove_file(&s.0)?;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                    return Ok(path);
                }
                Arc::new(std::fs::read(&s.0)?)
            }
            Body::Dropped(_) => return Err(std::io::Error::other(NOT_KEPT)),
        };
        super::tree::stage_beside(target, &bytes, mode)
    }
}

/// Why a file whose bytes were dropped cannot be written or shown.
pub(crate) const NOT_KEPT: &str = "changed while peergen ran (a git command or an editor outside peergen), and its rendered bytes were not kept because they matched what was there; run again";

/// A spooled file, removed when the last [`File`] naming it is dropped.
#[derive(Debug)]
struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A private directory for the bytes of files a run will write, on the file system it writes to
/// (so staging links instead of copying): apply's in the git directory, render's in `--out`.
/// Removed when dropped; a killed run's is removed by the next run's [`Spool::new_in`].
#[derive(Debug)]
pub(crate) struct Spool {
    dir: tempfile::TempDir,
    next: AtomicU64,
}

impl Spool {
    /// Begins with the temporary files' prefix, so an output directory holding only a killed
    /// run's spool still counts as empty.
    pub(crate) const PREFIX: &'static str = ".peergen-tmp-spool-";

    /// A new spool in `parent`, after removing the ones killed runs left there: the caller holds
    /// the lock that serialises runs on `parent`, so none of them is in use.
    pub(crate) fn new_in(parent: &Path) -> Result<Spool, TreeError> {
        for entry in std::fs::read_dir(parent).map_err(io(parent))?.flatten() {
            let ours = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(Spool::PREFIX));
            if ours && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                tracing::info!("removing {} (left by an interrupted run)", path.display());
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(Spool::PREFIX)
            .tempdir_in(parent)
            .map_err(io(parent))?;
        Ok(Spool {
            dir,
            next: AtomicU64::new(0),
        })
    }

    /// Writes `bytes` to a new spool file, synced: staging links it into the working tree.
    fn write(&self, bytes: &[u8]) -> Result<Spooled, TreeError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(n.to_string());
        let written = std::fs::File::create_new(&path).and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
        let spooled = Spooled(path);
        written.map_err(io(&spooled.0))?;
        Ok(spooled)
    }
}

/// What a render keeps of each file once it is verified: everything in memory (`check`, a plan
/// against a plain directory); only the blob id of a file the previous output already holds (plan
/// and apply against a commit, `render` over its own output); and with a spool, the bytes of every
/// other file on disk (apply, `render`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Keep<'a> {
    previous: Option<&'a BTreeMap<String, BlobId>>,
    /// The directory `render` writes: a file it holds already is not spooled again.
    written: Option<&'a Path>,
    spool: Option<&'a Spool>,
}

impl<'a> Keep<'a> {
    /// Keeps every file's bytes in memory.
    pub(crate) const ALL: Keep<'static> = Keep {
        previous: None,
        written: None,
        spool: None,
    };

    /// Spools the bytes of every file the directory `out` does not hold already (a render over
    /// its own unchanged output writes nothing).
    pub(crate) fn spooled(spool: &'a Spool, out: &'a Path) -> Keep<'a> {
        Keep {
            previous: None,
            written: Some(out),
            spool: Some(spool),
        }
    }

    /// Drops the bytes of files whose blob id `previous` (path → id) names, and spools the rest
    /// when `spool` is given.
    pub(crate) fn changed(
        previous: &'a BTreeMap<String, BlobId>,
        spool: Option<&'a Spool>,
    ) -> Keep<'a> {
        Keep {
            previous: Some(previous),
            written: None,
            spool,
        }
    }

    /// The file `bytes` rendered at `path` becomes.
    pub(crate) fn file(&self, path: &str, bytes: Vec<u8>) -> Result<File, TreeError> {
        if self.previous.is_none() && self.spool.is_none() {
            return Ok(File::new(bytes));
        }
        let id = BlobId::of(&bytes);
        let len = bytes.len() as u64;
        let held = || self.written.is_some_and(|dir| holds(dir, path, &bytes));
        let body = if self.previous.is_some_and(|p| p.get(path) == Some(&id)) || held() {
            Body::Dropped(id)
        } else if let Some(spool) = self.spool {
            Body::Spooled(Arc::new(spool.write(&bytes)?), id)
        } else {
            Body::Memory(Arc::new(bytes), OnceLock::from(id))
        };
        Ok(File { body, len })
    }
}

/// True when `dir/rel` is a regular file holding exactly `bytes`. Any trouble (a link on the way, a
/// directory there) is for the write's own checks to report: here it only means "not held".
fn holds(dir: &Path, rel: &str, bytes: &[u8]) -> bool {
    let same_length = std::fs::symlink_metadata(dir.join(rel))
        .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64);
    same_length
        && super::previous::read_optional(dir, rel).is_ok_and(|held| held.as_deref() == Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_and_read(file: &File, dir: &Path) -> Vec<u8> {
        let target = dir.join("out");
        let staged = file.stage(&target, 0o640).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&staged).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        staged.persist(&target).unwrap();
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(file.held_by(&target, &meta));
        std::fs::read(&target).unwrap()
    }

    #[test]
    fn every_body_stages_and_reads_its_own_bytes() {
        let work = tempfile::tempdir().unwrap();
        let spool = Spool::new_in(work.path()).unwrap();
        let previous = BTreeMap::from([("same".to_owned(), BlobId::of(b"held\n"))]);
        let keep = Keep::changed(&previous, Some(&spool));

        let spooled = keep.file("new", b"fresh\n".to_vec()).unwrap();
        assert_eq!(spooled.id(), BlobId::of(b"fresh\n"));
        assert_eq!(*spooled.read("new").unwrap(), b"fresh\n");
        assert_eq!(stage_and_read(&spooled, work.path()), b"fresh\n");
        let spool_dir = spool.dir.path().to_path_buf();
        assert!(spool_dir.starts_with(work.path()));
        assert_eq!(
            std::fs::read_dir(&spool_dir).unwrap().count(),
            0,
            "staging moves the spooled file out"
        );

        let dropped = keep.file("same", b"held\n".to_vec()).unwrap();
        assert_eq!(dropped.id(), BlobId::of(b"held\n"));
        assert!(matches!(dropped.read("same"), Err(TreeError::NotKept(p)) if p == "same"));
        assert!(dropped.stage(&work.path().join("x"), 0o644).is_err());

        let memory = Keep::ALL.file("new", b"fresh\n".to_vec()).unwrap();
        assert_eq!(memory, spooled);
        let in_memory = Keep::changed(&previous, None)
            .file("x", b"y".to_vec())
            .unwrap();
        assert_eq!(*in_memory.read("x").unwrap(), b"y");

        // Over its own output, a render spools only what the directory does not hold.
        let out = work.path().join("rendered");
        std::fs::create_dir_all(out.join("v")).unwrap();
        std::fs::write(out.join("v/same"), "held\n").unwrap();
        std::fs::write(out.join("v/other"), "old\n").unwrap();
        let rendering = Keep::spooled(&spool, &out);
        let held = rendering.file("v/same", b"held\n".to_vec()).unwrap();
        assert!(matches!(held.read("v/same"), Err(TreeError::NotKept(_))));
        let meta = std::fs::symlink_metadata(out.join("v/same")).unwrap();
        assert!(held.held_by(&out.join("v/same"), &meta));
        for (rel, bytes) in [("v/other", "new\n"), ("v/absent", "held\n")] {
            let file = rendering.file(rel, bytes.as_bytes().to_vec()).unwrap();
            assert_eq!(*file.read(rel).unwrap(), bytes.as_bytes(), "{rel}");
        }

        // A spool file not staged goes with the last file naming it, and the spool with its
        // directory.
        let unstaged = keep.file("later", b"later\n".to_vec()).unwrap();
        assert_eq!(std::fs::read_dir(&spool_dir).unwrap().count(), 1);
        drop(unstaged);
        assert_eq!(std::fs::read_dir(&spool_dir).unwrap().count(), 0);
        drop(spooled);
        drop(spool);
        assert!(!spool_dir.exists());
    }
}
