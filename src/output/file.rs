//! One rendered file and where its verified bytes live while the run needs them: in memory, in a
//! spool file on disk (apply: they are written anyway), or nowhere but their git blob id (they
//! match the previous output, so nothing reads them again). [`Keep`] decides, on the rendering
//! thread, so a large tree is never held whole.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Hashed with the bytes when the run compares ids (plan, apply); `render` compares none, and
    /// an id asked for later is read back from the spool while the file is still there.
    Spooled(Arc<Spooled>, OnceLock<BlobId>),
    /// The previous output (HEAD, or the directory `render` writes) holds exactly these bytes.
    Dropped(BlobId),
    /// Verified and dropped with nothing kept: `check` writes and compares nothing.
    Discarded,
}

impl PartialEq for File {
    fn eq(&self, other: &File) -> bool {
        self.len == other.len && matches!((self.id(), other.id()), (Ok(a), Ok(b)) if a == b)
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

    /// The blob id; an error only for a spooled file whose id nobody asked for before staging
    /// moved its bytes out of the spool.
    pub(crate) fn id(&self) -> Result<BlobId, TreeError> {
        match &self.body {
            Body::Memory(bytes, id) => Ok(*id.get_or_init(|| BlobId::of(bytes))),
            Body::Spooled(s, id) => match id.get() {
                Some(id) => Ok(*id),
                None => {
                    let bytes = std::fs::read(&s.path).map_err(io(&s.path))?;
                    Ok(*id.get_or_init(|| BlobId::of(&bytes)))
                }
            },
            Body::Dropped(id) => Ok(*id),
            Body::Discarded => Err(TreeError::Discarded),
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
            Body::Spooled(s, _) => std::fs::read(&s.path).map(Arc::new).map_err(io(&s.path)),
            Body::Dropped(_) => Err(TreeError::NotKept(path.to_owned())),
            Body::Discarded => Err(TreeError::Discarded),
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
            Body::Spooled(s, id) if id.get().is_none() => {
                std::fs::read(&s.path).is_ok_and(|spooled| spooled == on_disk)
            }
            Body::Spooled(..) | Body::Dropped(_) | Body::Discarded => {
                self.id().is_ok_and(|id| id == BlobId::of(&on_disk))
            }
        }
    }

    /// The spool round holding this file at its own relative path, when it can move into the
    /// output with its whole directory at file mode `mode`.
    pub(crate) fn spooled_in(&self, mode: u32) -> Option<&Arc<Path>> {
        match &self.body {
            Body::Spooled(s, _) if s.mode == mode && !s.moved.load(Ordering::Relaxed) => {
                Some(&s.round)
            }
            _ => None,
        }
    }

    /// Records that the file's directory was renamed out of the spool with it.
    pub(crate) fn moved_with_directory(&self) {
        if let Body::Spooled(s, _) = &self.body {
            s.moved.store(true, Ordering::Relaxed);
        }
    }

    /// A temporary file beside `target` with these bytes and file mode `mode`, in a directory that
    /// exists: the spooled file itself, renamed there, where the spool shares the file system (its
    /// bytes are then no longer in the spool; [`Spool::sync`] made them durable), else a copy,
    /// synced.
    pub(crate) fn stage(&self, target: &Path, mode: u32) -> std::io::Result<tempfile::TempPath> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let bytes = match &self.body {
            Body::Memory(bytes, _) => Arc::clone(bytes),
            Body::Spooled(s, _) => {
                // The name is this run's own (its spool's and the file's number): nothing else
                // in `dir` has it, since the write removed killed runs' temporary files first,
                // so the rename replaces nothing. One rename, so no second name is left to
                // remove later (which would change the file's ctime after apply indexed it).
                let staged = dir.join(&s.staged_name);
                match std::fs::rename(&s.path, &staged) {
                    Ok(()) => {
                        s.moved.store(true, Ordering::Relaxed);
                        let staged = tempfile::TempPath::try_from_path(staged)?;
                        if s.mode != mode {
                            std::fs::set_permissions(
                                &staged,
                                std::fs::Permissions::from_mode(mode),
                            )?;
                        }
                        return Ok(staged);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                        Arc::new(std::fs::read(&s.path)?)
                    }
                    Err(e) => return Err(e),
                }
            }
            Body::Dropped(_) => return Err(std::io::Error::other(NOT_KEPT)),
            Body::Discarded => return Err(std::io::Error::other(TreeError::Discarded)),
        };
        super::tree::stage_beside(target, &bytes, mode)
    }
}

/// Why a file whose bytes were dropped cannot be written or shown.
pub(crate) const NOT_KEPT: &str = "changed while peergen ran (a git command or an editor outside peergen), and its rendered bytes were not kept because they matched what was there; run again";

/// A spooled file, removed when the last [`File`] naming it is dropped unless staging moved it.
#[derive(Debug)]
struct Spooled {
    /// `round/rel`: the spool's round of this render mirrors the output tree, so a directory
    /// the output does not have yet moves in whole ([`File::spooled_in`]).
    path: PathBuf,
    round: Arc<Path>,
    /// What staging renames it to, beside its target.
    staged_name: String,
    /// The file mode it was created with.
    mode: u32,
    moved: AtomicBool,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if !self.moved.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A private directory for the bytes of files a run will write, on the file system it writes to
/// (so staging links instead of copying): apply's in the git directory, render's in `--out`.
/// Removed when dropped; a killed run's is removed by the next run's [`Spool::new_in`].
#[derive(Debug)]
pub(crate) struct Spool {
    dir: tempfile::TempDir,
    next: AtomicU64,
    rounds: AtomicU64,
    /// What a staged file's name starts with: the temporary files' prefix and this spool's own
    /// suffix, so the names staging gives are this run's alone.
    staged_prefix: String,
    /// The mode new files get here (the umask applied to 0644), read off the first one.
    created_mode: OnceLock<u32>,
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
        let name = dir.path().file_name().and_then(|n| n.to_str());
        let unique = name.map_or("", |name| name.trim_start_matches(Spool::PREFIX));
        let staged_prefix = format!("{}{unique}", super::tree::TEMP_PREFIX);
        Ok(Spool {
            dir,
            next: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            staged_prefix,
            created_mode: OnceLock::new(),
        })
    }

    /// A directory of its own for one render's files: a run that renders again (apply on a new
    /// branch or remote tip) never meets the files of an earlier render that are still alive.
    fn round(&self) -> Arc<Path> {
        let n = self.rounds.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(n.to_string()).into()
    }

    /// Writes `bytes` to `round/rel`, not synced: [`Spool::sync`] syncs them all at once.
    fn write(&self, round: &Arc<Path>, rel: &str, bytes: &[u8]) -> Result<Spooled, TreeError> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if !super::tree::is_safe_relative(rel) {
            return Err(TreeError::UnsafePath(rel.to_owned()));
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut spooled = Spooled {
            path: round.join(rel),
            round: Arc::clone(round),
            staged_name: format!("{}-{n}", self.staged_prefix),
            mode: 0,
            moved: AtomicBool::new(false),
        };
        let create = |path: &Path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
        };
        let created = match create(&spooled.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => spooled
                .path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| create(&spooled.path)),
            other => other,
        };
        let created = match created {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Not this file's to remove: the first of the two outputs is there.
                spooled.moved.store(true, Ordering::Relaxed);
                return Err(TreeError::Duplicate(rel.to_owned()));
            }
            other => other,
        };
        let written = created.and_then(|mut f| {
            f.write_all(bytes)?;
            match self.created_mode.get() {
                Some(mode) => Ok(*mode),
                None => {
                    let mode = f.metadata()?.permissions().mode() & 0o777;
                    Ok(*self.created_mode.get_or_init(|| mode))
                }
            }
        });
        spooled.mode = written.map_err(io(&spooled.path))?;
        Ok(spooled)
    }

    /// Makes every byte written to the spool durable, before any spooled file is renamed into
    /// place: one sync of the file system instead of one per file (git's `core.fsyncMethod=batch`
    /// does the same).
    pub(crate) fn sync(&self) -> Result<(), TreeError> {
        let dir = self.dir.path();
        let handle = std::fs::File::open(dir).map_err(io(dir))?;
        sync_file_system(&handle).map_err(io(dir))
    }
}

#[cfg(target_os = "linux")]
fn sync_file_system(handle: &std::fs::File) -> std::io::Result<()> {
    Ok(rustix::fs::syncfs(handle)?)
}

/// Elsewhere `sync` of every file system (POSIX has no per-file-system call), then the handle's.
#[cfg(not(target_os = "linux"))]
fn sync_file_system(handle: &std::fs::File) -> std::io::Result<()> {
    rustix::fs::sync();
    handle.sync_all()
}

/// What a render keeps of each file once it is verified: nothing (`check`); everything in memory
/// (a plan against a plain directory); only the blob id of a file the previous output already holds (plan
/// and apply against a commit, `render` over its own output); and with a spool, the bytes of every
/// other file on disk (apply, `render`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Keep<'a> {
    previous: Option<&'a BTreeMap<String, BlobId>>,
    /// The directory `render` writes: a file it holds already is not spooled again.
    written: Option<&'a Path>,
    /// The spool and this render's round in it.
    spool: Option<(&'a Spool, Arc<Path>)>,
    discard: bool,
}

impl<'a> Keep<'a> {
    /// Keeps every file's bytes in memory.
    pub(crate) const ALL: Keep<'static> = Keep {
        previous: None,
        written: None,
        spool: None,
        discard: false,
    };

    /// Keeps nothing of a verified file but its path and length.
    pub(crate) const NOTHING: Keep<'static> = Keep {
        discard: true,
        ..Keep::ALL
    };

    /// Spools the bytes of every file the directory `out` does not hold already (a render over
    /// its own unchanged output writes nothing).
    pub(crate) fn spooled(spool: &'a Spool, out: &'a Path) -> Keep<'a> {
        Keep {
            previous: None,
            written: Some(out),
            spool: Some((spool, spool.round())),
            discard: false,
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
            spool: spool.map(|spool| (spool, spool.round())),
            discard: false,
        }
    }

    /// The file `bytes` rendered at `path` becomes.
    pub(crate) fn file(&self, path: &str, bytes: Vec<u8>) -> Result<File, TreeError> {
        if self.discard {
            return Ok(File {
                len: bytes.len() as u64,
                body: Body::Discarded,
            });
        }
        if self.previous.is_none() && self.spool.is_none() {
            return Ok(File::new(bytes));
        }
        // Only a comparison with the previous output's ids needs this file's id now.
        let id = self.previous.map(|_| BlobId::of(&bytes));
        let len = bytes.len() as u64;
        let held = || self.written.is_some_and(|dir| holds(dir, path, &bytes));
        let body = match (id, self.previous) {
            (Some(id), Some(p)) if p.get(path) == Some(&id) => Body::Dropped(id),
            _ if held() => Body::Dropped(BlobId::of(&bytes)),
            _ => {
                let id = id.map_or_else(OnceLock::new, OnceLock::from);
                match &self.spool {
                    Some((spool, round)) => {
                        Body::Spooled(Arc::new(spool.write(round, path, &bytes)?), id)
                    }
                    None => Body::Memory(Arc::new(bytes), id),
                }
            }
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

    fn stage_and_read(file: &File, dir: &Path, mode: u32) -> Vec<u8> {
        let target = dir.join("out");
        let staged = file.stage(&target, mode).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let staged_mode = std::fs::metadata(&staged).unwrap().permissions().mode() & 0o777;
        assert_eq!(staged_mode, mode);
        staged.persist(&target).unwrap();
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(file.held_by(&target, &meta));
        std::fs::read(&target).unwrap()
    }

    /// Files anywhere under `dir`.
    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| match e.file_type().unwrap().is_dir() {
                true => files_in(&e.path()),
                false => 1,
            })
            .sum()
    }

    #[test]
    fn a_round_mirrors_the_tree_and_refuses_a_path_twice() {
        let work = tempfile::tempdir().unwrap();
        let spool = Spool::new_in(work.path()).unwrap();
        let out = work.path().join("out");
        let first = Keep::spooled(&spool, &out);
        let file = first.file("v/c/p2p.toml", b"a".to_vec()).unwrap();
        let round = file.spooled_in(0o644).or(file.spooled_in(0o600)).unwrap();
        assert_eq!(std::fs::read(round.join("v/c/p2p.toml")).unwrap(), b"a");
        assert!(matches!(
            first.file("v/c/p2p.toml", b"b".to_vec()),
            Err(TreeError::Duplicate(p)) if p == "v/c/p2p.toml"
        ));
        assert_eq!(*file.read("v/c/p2p.toml").unwrap(), b"a", "the first stays");
        assert!(matches!(
            first.file("../escape", b"b".to_vec()),
            Err(TreeError::UnsafePath(_))
        ));
        // A second render of the same run has a round of its own.
        let again = Keep::spooled(&spool, &out)
            .file("v/c/p2p.toml", b"c".to_vec())
            .unwrap();
        assert_eq!(*again.read("v/c/p2p.toml").unwrap(), b"c");
        assert_eq!(*file.read("v/c/p2p.toml").unwrap(), b"a");
    }

    #[test]
    fn every_body_stages_and_reads_its_own_bytes() {
        let work = tempfile::tempdir().unwrap();
        let spool = Spool::new_in(work.path()).unwrap();
        let previous = BTreeMap::from([("same".to_owned(), BlobId::of(b"held\n"))]);
        let keep = Keep::changed(&previous, Some(&spool));

        let spooled = keep.file("new", b"fresh\n".to_vec()).unwrap();
        assert_eq!(spooled.id().unwrap(), BlobId::of(b"fresh\n"));
        assert_eq!(*spooled.read("new").unwrap(), b"fresh\n");
        assert_eq!(stage_and_read(&spooled, work.path(), 0o640), b"fresh\n");
        let spool_dir = spool.dir.path().to_path_buf();
        assert!(spool_dir.starts_with(work.path()));
        assert_eq!(
            files_in(&spool_dir),
            0,
            "staging moves the spooled file out"
        );

        let dropped = keep.file("same", b"held\n".to_vec()).unwrap();
        assert_eq!(dropped.id().unwrap(), BlobId::of(b"held\n"));
        assert!(matches!(dropped.read("same"), Err(TreeError::NotKept(p)) if p == "same"));
        assert!(dropped.stage(&work.path().join("x"), 0o644).is_err());

        let discarded = Keep::NOTHING.file("new", b"fresh\n".to_vec()).unwrap();
        assert_eq!(discarded.len(), 6);
        assert!(matches!(discarded.read("new"), Err(TreeError::Discarded)));
        assert!(matches!(discarded.id(), Err(TreeError::Discarded)));
        assert!(discarded.stage(&work.path().join("x"), 0o644).is_err());

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
            // A render hashes nothing; an id asked for is read back from the spool.
            assert_eq!(file.id().unwrap(), BlobId::of(bytes.as_bytes()), "{rel}");
            // Staged at the mode spool files are made with (whatever the umask), or another.
            for mode in [0o644, 0o600] {
                use std::os::unix::fs::PermissionsExt as _;
                let rel = format!("{rel}-{mode:o}");
                let file = rendering.file(&rel, bytes.as_bytes().to_vec()).unwrap();
                let target = work.path().join("staged");
                file.stage(&target, mode).unwrap().persist(&target).unwrap();
                let meta = std::fs::metadata(&target).unwrap();
                assert_eq!(meta.permissions().mode() & 0o777, mode);
                assert_eq!(std::fs::read(&target).unwrap(), bytes.as_bytes());
                assert!(file.id().is_err(), "the bytes left the spool unhashed");
            }
        }

        // A spool file not staged goes with the last file naming it, and the spool with its
        // directory.
        let unstaged = keep.file("later", b"later\n".to_vec()).unwrap();
        assert_eq!(files_in(&spool_dir), 1);
        drop(unstaged);
        assert_eq!(files_in(&spool_dir), 0);
        drop(spooled);
        drop(spool);
        assert!(!spool_dir.exists());
    }
}
