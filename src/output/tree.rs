//! The rendered output: relative path → file (its bytes in memory or spooled, see `file`), built
//! whole before anything is written, then written with every file staged beside its target before
//! any is renamed into place.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::file::{File, Keep};
use super::parallel;
use super::removal;

/// Lists the files peergen owns in an output directory; nothing else there is ever touched.
pub(crate) const MANIFEST: &str = ".peergen-manifest";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OutputTree {
    files: BTreeMap<String, File>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeError {
    #[error("{path}: {reason}", path = .0, reason = super::file::NOT_KEPT)]
    NotKept(String),
    #[error("internal: a file `check` verified and discarded was asked for")]
    Discarded,
    #[error("internal: two outputs would be written to {0}")]
    Duplicate(String),
    #[error("internal: {0:?} is not a safe relative output path")]
    UnsafePath(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is not empty and has no {MANIFEST}: it was not written by peergen; render into an empty or peergen-owned directory"
    )]
    NotOwned(PathBuf),
    #[error("{path}: {problem}; nothing was written")]
    BadTarget {
        path: PathBuf,
        problem: &'static str,
    },
    #[error(
        "{path}: {MANIFEST} lists {entry:?}, which is not a safe relative path; refusing to delete it"
    )]
    BadManifest { path: PathBuf, entry: String },
    #[error(
        "refusing to remove {removing} of {owned} previously generated files under {dir} ({}); \
         pass --force to accept the removal",
        .paths.join(", ")
    )]
    LargeRemoval {
        dir: PathBuf,
        removing: usize,
        owned: usize,
        paths: Vec<String>,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|c| {
            !c.is_empty() && c != "." && c != ".." && !c.contains('\\') && !c.contains('\0')
        })
}

/// True when `path` belongs to a render limited to validator `only` (always, without a limit).
pub(crate) fn in_scope(path: &str, only: Option<&str>) -> bool {
    only.is_none_or(|o| path.split('/').next() == Some(o))
}

/// What a write did, for the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WriteReport {
    pub(crate) written: Vec<String>,
    pub(crate) unchanged: usize,
    pub(crate) removed: Vec<String>,
}

impl OutputTree {
    pub(crate) fn insert(&mut self, path: String, bytes: Vec<u8>) -> Result<(), TreeError> {
        self.insert_file(path, File::new(bytes))
    }

    /// Inserts what `keep` keeps of `bytes`.
    pub(crate) fn insert_kept(
        &mut self,
        path: String,
        bytes: Vec<u8>,
        keep: &Keep<'_>,
    ) -> Result<(), TreeError> {
        let file = keep.file(&path, bytes)?;
        self.insert_file(path, file)
    }

    /// Inserts a file a rendering thread made (and perhaps hashed and spooled).
    pub(crate) fn insert_file(&mut self, path: String, file: File) -> Result<(), TreeError> {
        if !is_safe_relative(&path) || path == MANIFEST {
            return Err(TreeError::UnsafePath(path));
        }
        if self.files.contains_key(&path) {
            return Err(TreeError::Duplicate(path));
        }
        self.files.insert(path, file);
        Ok(())
    }

    pub(crate) fn files(&self) -> &BTreeMap<String, File> {
        &self.files
    }

    /// Computes every file's blob id on up to `threads` threads (comparisons then find them).
    pub(crate) fn hash(&self, threads: usize) -> Result<(), TreeError> {
        let files: Vec<&File> = self.files.values().collect();
        parallel::try_map(&files, threads, |f| f.id()).map(drop)
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// sha256 over every (path, blob id) pair, in path order: identifies a rendered tree (a blob
    /// id names its content, as in a git tree).
    pub(crate) fn checksum(&self) -> Result<String, TreeError> {
        let mut h = Sha256::new();
        for (path, file) in &self.files {
            h.update((path.len() as u64).to_be_bytes());
            h.update(path.as_bytes());
            h.update(file.id()?.0);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// The files peergen owns once this tree is written over `previous`: the other validators'
    /// files of a `--self` render stay owned, and everything rendered is owned.
    pub(crate) fn owned_after(
        &self,
        previous: &BTreeSet<String>,
        only: Option<&str>,
    ) -> BTreeSet<String> {
        let mut owned: BTreeSet<String> = previous
            .iter()
            .filter(|p| !in_scope(p, only))
            .cloned()
            .collect();
        owned.extend(self.files.keys().cloned());
        owned
    }

    pub(crate) fn manifest_text(paths: &BTreeSet<String>) -> String {
        let mut text = String::from(
            "# Files generated by peergen. peergen removes listed files it no longer generates.\n",
        );
        for p in paths {
            text.push_str(p);
            text.push('\n');
        }
        text
    }

    /// Writes the tree under `dir`, comparing and staging files on up to `threads` threads. With
    /// `only` (one validator's render), only that validator's directory is pruned of files no
    /// longer generated.
    pub(crate) fn write(
        &self,
        dir: &Path,
        only: Option<&str>,
        force: bool,
        threads: usize,
    ) -> Result<WriteReport, TreeError> {
        let previous = owned_files(dir)?;
        let manifest_before = std::fs::read(dir.join(MANIFEST)).ok();
        let in_scope = |p: &str| in_scope(p, only);
        let stale: Vec<String> = previous
            .iter()
            .filter(|p| in_scope(p) && !self.files.contains_key(*p))
            .cloned()
            .collect();
        let owned_in_scope = previous.iter().filter(|p| in_scope(p)).count();
        if !force && removal::exceeds(stale.len(), owned_in_scope, removal::DEFAULT_MAX_PERCENT) {
            return Err(TreeError::LargeRemoval {
                dir: dir.to_path_buf(),
                removing: stale.len(),
                owned: owned_in_scope,
                paths: stale,
            });
        }

        let mut walk = Walk::default();
        // What each planned file's target is now (`None`: absent), from the check's own lstat.
        let mut found = Vec::with_capacity(self.files.len());
        for rel in self.files.keys().chain(&stale) {
            let planned = self.files.get(rel);
            let meta = check_target(dir, rel, previous.contains(rel), planned, &mut walk)?;
            if found.len() < self.files.len() {
                found.push(meta);
            }
        }
        let mut report = WriteReport::default();
        let files: Vec<(&String, &File, Option<std::fs::Metadata>)> = self
            .files
            .iter()
            .zip(found)
            .map(|((rel, file), meta)| (rel, file, meta))
            .collect();
        let held = parallel::try_map(&files, threads, |(rel, file, meta)| {
            Ok::<_, TreeError>(
                meta.as_ref()
                    .is_some_and(|m| file.held_by(&dir.join(rel), m)),
            )
        })?;
        let mut changed = Vec::new();
        for ((rel, file, meta), held) in files.into_iter().zip(held) {
            if held {
                report.unchanged += 1;
            } else {
                changed.push((rel, file, meta.as_ref().map(file_mode)));
            }
        }
        let owned = self.owned_after(&previous, only);
        // Before anything is staged the manifest claims every path this write may leave behind
        // (the old files and the new), so a run killed at any point leaves a tree the next run
        // owns, cleans and completes; the exact manifest follows the renames and removals.
        if !changed.is_empty() || !stale.is_empty() {
            let intent: BTreeSet<String> = owned.union(&previous).cloned().collect();
            write_manifest(dir, &intent)?;
        }
        remove_leftovers(dir, self.files.keys().chain(&previous))?;
        let (moves, changed) = directory_moves(changed, &walk.absent);
        // Each directory is made once, not once per file in it.
        let parents: BTreeSet<&Path> = changed
            .iter()
            .filter_map(|(rel, _, _)| Path::new(rel.as_str()).parent())
            .chain(moves.iter().filter_map(|m| Path::new(m.dir).parent()))
            .collect();
        for parent in parents {
            let path = dir.join(parent);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let staged = parallel::try_map(&changed, threads, |(rel, file, mode)| {
            let target = dir.join(rel);
            let mode = mode.unwrap_or(NEW_FILE_MODE);
            let tmp = file.stage(&target, mode).map_err(io(&target))?;
            Ok::<_, TreeError>((std::sync::Mutex::new(Some(tmp)), target))
        })?;
        report.written.extend(
            changed
                .iter()
                .map(|(rel, _, _)| *rel)
                .chain(
                    moves
                        .iter()
                        .flat_map(|m| m.files.iter().map(|(rel, _)| *rel)),
                )
                .cloned(),
        );
        report.written.sort_unstable();
        for m in &moves {
            crate::fault::point("rename");
            let target = dir.join(m.dir);
            std::fs::rename(m.round.join(m.dir), &target).map_err(io(&target))?;
            for (_, file) in &m.files {
                file.moved_with_directory();
            }
        }
        parallel::try_map(&staged, threads, |(tmp, target)| {
            crate::fault::point("rename");
            let tmp = tmp
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match tmp {
                Some(tmp) => tmp.persist(target).map_err(|e| TreeError::Io {
                    path: target.clone(),
                    source: e.error,
                }),
                None => Ok(()),
            }
        })?;
        for rel in stale {
            let path = dir.join(&rel);
            match std::fs::remove_file(&path) {
                Ok(()) => report.removed.push(rel.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
            remove_empty_parents(dir, &path);
        }
        write_manifest(dir, &owned)?;
        // The manifest is one of the files peergen writes, counted like the others (and like
        // `plan` counts it).
        if manifest_before.as_deref() == Some(OutputTree::manifest_text(&owned).as_bytes()) {
            report.unchanged += 1;
        } else {
            report.written.push(MANIFEST.to_owned());
        }
        Ok(report)
    }
}

/// A directory the output does not have yet, every file of which waits in one spool round at its
/// own relative path: renamed in whole, instead of made and filled file by file.
struct DirectoryMove<'t> {
    dir: &'t str,
    round: &'t std::sync::Arc<Path>,
    files: Vec<(&'t String, &'t File)>,
}

type Change<'t> = (&'t String, &'t File, Option<u32>);

/// Splits the changed files into whole directories to move in and files to stage one by one.
/// `absent` holds the shallowest missing directory on each absent file's way (relative): every
/// planned file under one is new, so the spool round holds exactly the tree's files there when
/// each of them is spooled in it, and nothing else (a round is one render's own).
fn directory_moves<'t>(
    changed: Vec<Change<'t>>,
    absent: &std::collections::HashSet<String>,
) -> (Vec<DirectoryMove<'t>>, Vec<Change<'t>>) {
    let mut moves: BTreeMap<&'t str, Option<DirectoryMove<'t>>> = BTreeMap::new();
    let mut single = Vec::new();
    for change in changed {
        let (rel, file, mode) = change;
        let missing = rel
            .match_indices('/')
            .map(|(at, _)| &rel[..at])
            .find(|d| absent.contains(*d));
        let Some(missing) = missing else {
            single.push(change);
            continue;
        };
        let slot = moves.entry(missing).or_insert_with(|| {
            file.spooled_in(NEW_FILE_MODE).map(|round| DirectoryMove {
                dir: missing,
                round,
                files: Vec::new(),
            })
        });
        match (slot, file.spooled_in(NEW_FILE_MODE)) {
            (Some(m), Some(round)) if mode.is_none() && std::sync::Arc::ptr_eq(round, m.round) => {
                m.files.push((rel, file));
            }
            (slot, _) => {
                // One file that cannot move with it keeps the whole directory file by file.
                if let Some(m) = slot.take() {
                    single.extend(m.files.into_iter().map(|(rel, file)| (rel, file, None)));
                }
                single.push(change);
            }
        }
    }
    // `single` stays in path order, as staging and its errors go.
    single.sort_unstable_by(|a, b| a.0.cmp(b.0));
    (moves.into_values().flatten().collect(), single)
}

/// Rewrites `dir`'s manifest when it does not already list exactly `owned`.
fn write_manifest(dir: &Path, owned: &BTreeSet<String>) -> Result<(), TreeError> {
    let path = dir.join(MANIFEST);
    let text = OutputTree::manifest_text(owned);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    crate::fault::point("rename");
    replace_file(&path, text.as_bytes()).map_err(io(&path))
}

/// The prefix of peergen's temporary files; only a killed run leaves one behind.
pub(super) const TEMP_PREFIX: &str = ".peergen-tmp-";

/// Removes the temporary files a killed run left in the directories of `paths` (relative to
/// `dir`). Only called under the directory's lock, so no live run's file is among them.
fn remove_leftovers<'a>(
    dir: &Path,
    paths: impl Iterator<Item = &'a String>,
) -> Result<(), TreeError> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    dirs.insert(dir.to_path_buf());
    for rel in paths {
        let mut d = dir.join(rel);
        while d.pop() && d.starts_with(dir) && dirs.insert(d.clone()) {}
    }
    for d in dirs {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&d)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&d))?;
            let leftover = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX))
                && entry.file_type().is_ok_and(|t| t.is_file());
            if leftover {
                let path = entry.path();
                tracing::info!("removing {} (left by an interrupted run)", path.display());
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `target` and closes it; the returned path deletes the
/// file on drop unless it is persisted, and holds no descriptor (trees have tens of thousands of files).
/// The file gets the mode of the file it replaces, or 0644: temporary files start at 0600, which
/// would make generated config unreadable to other users and containers.
pub(crate) fn stage_file(target: &Path, bytes: &[u8]) -> std::io::Result<tempfile::TempPath> {
    if let Some(d) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)?;
    }
    let mode = std::fs::metadata(target).map_or(NEW_FILE_MODE, |m| file_mode(&m));
    stage_beside(target, bytes, mode)
}

/// The mode of a file nobody wrote before.
const NEW_FILE_MODE: u32 = 0o644;

fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o777
}

/// [`stage_file`] into a directory that exists, with the file mode `mode`.
pub(super) fn stage_beside(
    target: &Path,
    bytes: &[u8],
    mode: u32,
) -> std::io::Result<tempfile::TempPath> {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(parent)?;
    // Set on the open file, which the umask does not narrow as it does a mode given at creation.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp.into_temp_path())
}

/// Replaces `path` with `bytes` by a rename: readers see the old or the new file, never half.
/// Temporary files that killed runs left beside it are removed first: older than ten minutes,
/// so that no running writer's file (the snapshot has no directory lock) is among them.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    remove_stale_siblings(path);
    stage_file(path, bytes)?.persist(path).map_err(|e| e.error)
}

fn remove_stale_siblings(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let old = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(600))
    };
    for entry in entries.flatten() {
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if ours && entry.metadata().is_ok_and(|m| m.is_file() && old(&m)) {
            tracing::info!(
                "removing {} (left by an interrupted run)",
                entry.path().display()
            );
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Refuses, before anything is written, every target a write could not finish or should not make:
/// a symlink anywhere inside `dir` on the way (it would write or delete outside the output), a
/// directory or other non-file where the file goes, and a file peergen does not own.
/// A file that already holds exactly the planned bytes is peergen's own (a run killed before its
/// manifest was written left it): writing it again changes nothing.
/// `sound_dirs` remembers directories already found to be real directories: a tree has tens of
/// thousands of files in a few hundred directories.
fn check_target(
    dir: &Path,
    rel: &str,
    owned: bool,
    planned: Option<&File>,
    walk: &mut Walk,
) -> Result<Option<std::fs::Metadata>, TreeError> {
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        at += part.len() + usize::from(i > 0);
        let last = i + 1 == parts.len();
        if !last && walk.sound.contains(&path) {
            continue;
        }
        if !last && walk.absent.contains(&rel[..at]) {
            return Ok(None);
        }
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    walk.absent.insert(rel[..at].to_owned());
                }
                return Ok(None);
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let problem = if meta.file_type().is_symlink() {
            Some("is a symbolic link; peergen never writes through links")
        } else if !last && !meta.is_dir() {
            Some("is not a directory")
        } else if last && !meta.is_file() {
            Some("is not a regular file")
        } else if last && !owned && !planned.is_some_and(|p| p.held_by(&path, &meta)) {
            Some(
                "exists but is not listed in the manifest: peergen does not overwrite files it does not own",
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(TreeError::BadTarget { path, problem });
        }
        if last {
            return Ok(Some(meta));
        }
        walk.sound.insert(path.clone());
    }
    Ok(None)
}

/// What [`check_target`] learnt of the directories on the way: the ones that are sound (real
/// directories, no link), and the shallowest missing one on each absent file's way (relative).
#[derive(Default)]
struct Walk {
    sound: std::collections::HashSet<PathBuf>,
    absent: std::collections::HashSet<String>,
}

/// The files peergen owns in `dir`: its manifest, or nothing when `dir` is missing or empty. A
/// non-empty directory without a manifest was not written by peergen and is refused; peergen's own
/// temporary files and spools (a killed first run's) do not count.
pub(crate) fn owned_files(dir: &Path) -> Result<BTreeSet<String>, TreeError> {
    match read_manifest(dir)? {
        Some(owned) => Ok(owned),
        None if dir.is_dir() && has_foreign_entries(dir)? => {
            Err(TreeError::NotOwned(dir.to_path_buf()))
        }
        None => Ok(BTreeSet::new()),
    }
}

fn has_foreign_entries(dir: &Path) -> Result<bool, TreeError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The files a previous run generated in `dir`, or `None` when `dir` has no manifest.
pub(crate) fn read_manifest(dir: &Path) -> Result<Option<BTreeSet<String>>, TreeError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    parse_manifest(&text, &path).map(Some)
}

/// A manifest's paths; `path` names it in messages.
pub(crate) fn parse_manifest(text: &str, path: &Path) -> Result<BTreeSet<String>, TreeError> {
    let mut set = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if !is_safe_relative(line) {
            return Err(TreeError::BadManifest {
                path: path.to_path_buf(),
                entry: line.to_owned(),
            });
        }
        set.insert(line.to_owned());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::file::Spool;

    #[test]
    fn new_directories_move_in_whole_and_the_rest_file_by_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        let mut before = OutputTree::default();
        before.insert("a/old".into(), b"old\n".to_vec()).unwrap();
        before.write(&out, None, false, 2).unwrap();

        let spool = Spool::new_in(&out).unwrap();
        let keep = Keep::spooled(&spool, &out);
        let spooled = [
            ("a/old", "changed\n"),
            ("a/new/deep/x", "x\n"),
            ("a/new/y", "y\n"),
            ("b/z", "z\n"),
            ("c/spooled", "s\n"),
        ];
        let mut tree = OutputTree::default();
        for (path, text) in spooled {
            tree.insert_kept(path.into(), text.into(), &keep).unwrap();
        }
        // A file held in memory cannot move with its directory: `c` goes file by file.
        tree.insert("c/memory".into(), b"m\n".to_vec()).unwrap();
        spool.sync().unwrap();
        let report = tree.write(&out, None, false, 2).unwrap();

        let mut expected: BTreeMap<&str, &str> = spooled.into_iter().collect();
        expected.insert("c/memory", "m\n");
        let mut written: Vec<&str> = expected.keys().copied().collect();
        written.push(MANIFEST);
        assert_eq!(report.written, written);
        for (path, text) in &expected {
            let on_disk = out.join(path);
            assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), *text, "{path}");
            let mode = std::fs::metadata(&on_disk).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, NEW_FILE_MODE, "{path}");
        }
        let mut temporary = Vec::new();
        let mut dirs = vec![out.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(Spool::PREFIX) {
                    continue;
                }
                if entry.file_type().unwrap().is_dir() {
                    dirs.push(entry.path());
                } else if name.starts_with(TEMP_PREFIX) {
                    temporary.push(entry.path());
                }
            }
        }
        assert!(temporary.is_empty(), "staged files left: {temporary:?}");
        drop(tree);
        drop(spool);
        let top: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(top, [MANIFEST, "a", "b", "c"], "the spool is gone");
    }
}
