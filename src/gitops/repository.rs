//! The working tree and index: refusing unsafe repository states, writing the rendered tree,
//! staging only the paths peergen owns, committing at most once, and restoring on failure.

use std::collections::BTreeSet;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{Branch, ErrorCode, Oid, Repository, RepositoryState, Signature, Status, StatusOptions};

use super::changes::Changes;
use super::remote::{fetch, remote_has_branch};
use super::{ApplyOptions, GitopsError, Target, git};
use crate::output::blob::BlobId;
use crate::output::file::File;
use crate::output::previous::{Previous, PreviousDir, manifest_of};
use crate::output::tree::{MANIFEST, OutputTree, read_manifest};

/// Every path under the output directory peergen owns in this run, relative to it: the committed
/// manifest's, the working tree's manifest's, the rendered files and the manifest itself.
pub(super) fn owned_paths(
    target: &Target,
    committed: &dyn Previous,
    tree: &OutputTree,
) -> Result<BTreeSet<String>, GitopsError> {
    let mut owned: BTreeSet<String> = manifest_of(committed)?.unwrap_or_default();
    // The working tree's manifest may list files written but never committed.
    let out_dir = target.out_dir();
    owned.extend(manifest_of(&PreviousDir::new(&out_dir))?.unwrap_or_default());
    owned.extend(tree.files().keys().cloned());
    owned.insert(MANIFEST.to_owned());
    Ok(owned)
}

/// What a changed path held before the write, so a failed apply can put it back without keeping
/// tens of thousands of files in memory: HEAD's blob is fetched again, and a file that held the
/// planned bytes already is left alone (the write left it so too).
enum Before {
    Absent,
    Head,
    Planned,
    Bytes(Vec<u8>),
}

/// Writes the tree, stages the changed paths and commits. On failure the files and index entries
/// it touched are put back as they were, so the next run is not refused for staged changes.
/// `touched` is what [`check_owned_clean`] found not to hold HEAD's bytes.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_and_commit(
    repo: &Repository,
    target: &Target,
    tree: &OutputTree,
    committed: &dyn Previous,
    changes: &Changes,
    owned: &BTreeSet<String>,
    touched: &BTreeSet<String>,
    opts: &ApplyOptions,
    message: &str,
    sig: &Signature<'_>,
) -> Result<Option<Oid>, GitopsError> {
    let out_dir = target.out_dir();
    // check_owned_clean guarantees that every other owned file already holds HEAD's bytes, so
    // the changed paths are all a write can touch; of those, a path git sees as HEAD's is not
    // read (a large change replaces tens of thousands of them).
    let mut backup = Vec::new();
    for f in &changes.files {
        if f.path != MANIFEST && !touched.contains(&f.path) && committed.id(&f.path)?.is_some() {
            backup.push((f.path.as_str(), Before::Head));
            continue;
        }
        let before = match crate::output::previous::read_optional(&out_dir, &f.path)? {
            None => Before::Absent,
            Some(bytes) if f.path == MANIFEST => Before::Bytes(bytes),
            Some(bytes) => {
                let id = BlobId::of(&bytes);
                if committed.id(&f.path)? == Some(id) {
                    Before::Head
                } else if tree
                    .files()
                    .get(&f.path)
                    .is_some_and(|t| t.id().is_ok_and(|t| t == id))
                {
                    Before::Planned
                } else {
                    Before::Bytes(bytes)
                }
            }
        };
        backup.push((f.path.as_str(), before));
    }
    let result = tree
        .write(&out_dir, opts.only.as_deref(), opts.force, opts.threads)
        .map_err(GitopsError::from)
        .and_then(|_| commit(repo, target, changes, message, sig, opts.threads));
    if result.is_err() {
        for (rel, before) in backup {
            let path = out_dir.join(rel);
            let bytes = match before {
                Before::Absent => None,
                Before::Head => committed.get(rel).ok().flatten(),
                Before::Planned => continue,
                Before::Bytes(bytes) => Some(bytes),
            };
            let restored = match bytes {
                Some(bytes) => crate::output::tree::replace_file(&path, &bytes),
                None => std::fs::remove_file(&path).or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }),
            };
            if let Err(e) = restored {
                tracing::error!("restoring {} after the failed apply: {e}", path.display());
            }
        }
        if let Err(e) = unstage(repo, target, owned) {
            tracing::error!("{e}");
        }
    }
    result
}

/// Resets the index entries of `owned` to HEAD's.
fn unstage(
    repo: &Repository,
    target: &Target,
    owned: &BTreeSet<String>,
) -> Result<(), GitopsError> {
    let prefix = target.prefix();
    let paths: Vec<String> = owned.iter().map(|p| format!("{prefix}{p}")).collect();
    let head = repo
        .head()
        .and_then(|h| h.peel(git2::ObjectType::Commit))
        .ok();
    repo.reset_default(head.as_ref(), paths.iter())
        .map_err(git("restoring the index after the failed apply"))
}
pub(super) fn check_repo_state(repo: &Repository, target: &Target) -> Result<(), GitopsError> {
    let path = target.repo.as_path();
    // git's own lock files: peergen holds the repository lock, so another peergen is not using
    // them; a git command is, or one (peergen's apply included) was killed while holding them.
    let head_ref = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_owned));
    let mut locks = vec![repo.path().join("index.lock")];
    locks.extend(head_ref.map(|r| repo.path().join(format!("{r}.lock"))));
    if let Some(lock) = locks.into_iter().find(|l| l.exists()) {
        return Err(GitopsError::GitLock(lock));
    }
    let state = repo.state();
    if state != RepositoryState::Clean {
        return Err(GitopsError::InProgress {
            path: path.to_path_buf(),
            state: format!("{state:?}").to_lowercase(),
        });
    }
    let index = repo.index().map_err(git("reading the index"))?;
    if index.has_conflicts() {
        let paths = index
            .conflicts()
            .map_err(git("reading conflicts"))?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        return Err(GitopsError::Conflicts {
            path: path.to_path_buf(),
            paths,
        });
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(git("reading the status"))?;
    let staged_flags = Status::INDEX_NEW
        | Status::INDEX_MODIFIED
        | Status::INDEX_DELETED
        | Status::INDEX_RENAMED
        | Status::INDEX_TYPECHANGE;
    let staged: Vec<String> = statuses
        .iter()
        .filter(|s| s.status().intersects(staged_flags))
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    // Only peergen's own files staged: an apply was killed between staging and committing. They
    // are restaged from the working tree below, so unstaging them loses nothing.
    let owned = owned_by_peergen(repo, target);
    let (own, foreign): (Vec<String>, Vec<String>) =
        staged.into_iter().partition(|p| owned.contains(p));
    if !foreign.is_empty() {
        return Err(GitopsError::Staged {
            path: path.to_path_buf(),
            paths: foreign,
        });
    }
    tracing::warn!(
        "recovering an interrupted apply: unstaging {} of peergen's own files ({})",
        own.len(),
        own.join(", ")
    );
    let head = repo
        .head()
        .and_then(|h| h.peel(git2::ObjectType::Commit))
        .ok();
    repo.reset_default(head.as_ref(), own.iter())
        .map_err(git("unstaging the interrupted apply's files"))
}

/// Repository paths peergen owns: every path the working tree's or HEAD's manifest lists, and
/// the manifest itself.
fn owned_by_peergen(repo: &Repository, target: &Target) -> BTreeSet<String> {
    let prefix = target.prefix();
    let mut owned: BTreeSet<String> = read_manifest(&target.out_dir())
        .ok()
        .flatten()
        .unwrap_or_default();
    let committed = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .and_then(|t| t.get_path(Path::new(&format!("{prefix}{MANIFEST}"))))
        .and_then(|e| repo.find_blob(e.id()));
    if let Ok(blob) = committed {
        owned.extend(
            String::from_utf8_lossy(blob.content())
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    owned.insert(MANIFEST.to_owned());
    owned.into_iter().map(|p| format!("{prefix}{p}")).collect()
}

/// Refuses when an owned file has changes git does not have and writing would lose them: it holds
/// neither HEAD's bytes nor the bytes peergen is about to write there. Returns the owned paths
/// (relative to the output directory) whose working file is not HEAD's: every other owned path
/// holds HEAD's bytes or, when HEAD has none, is absent or ignored.
pub(super) fn check_owned_clean(
    repo: &Repository,
    target: &Target,
    owned: &BTreeSet<String>,
    changes: &Changes,
) -> Result<BTreeSet<String>, GitopsError> {
    let prefix = target.prefix();
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    if !prefix.is_empty() {
        opts.pathspec(&prefix);
    }
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(git("reading the status"))?;
    let mut dirty = Vec::new();
    let mut touched = BTreeSet::new();
    for s in statuses.iter().filter(|s| s.status() != Status::CURRENT) {
        let Some(path) = s.path().ok().map(str::to_owned) else {
            continue;
        };
        let Some(rel) = path
            .strip_prefix(&prefix)
            .filter(|rel| owned.contains(*rel))
        else {
            continue;
        };
        touched.insert(rel.to_owned());
        let planned = changes
            .files
            .binary_search_by(|f| f.path.as_str().cmp(rel))
            .ok()
            .map(|i| &changes.files[i]);
        let on_disk = crate::output::previous::read_optional(&target.out_dir(), rel)?;
        // What the plan leaves here (`None`: the file goes), against what is there.
        let planned = planned
            .map(|f| f.new.as_ref().map(File::id).transpose())
            .transpose()?;
        if planned.is_none_or(|id| id != on_disk.as_deref().map(BlobId::of)) {
            dirty.push(path);
        }
    }
    if dirty.is_empty() {
        Ok(touched)
    } else {
        Err(GitopsError::DirtyOwned {
            path: target.repo.clone(),
            paths: dirty,
        })
    }
}

pub(super) fn current_branch(repo: &Repository, path: &Path) -> Result<String, GitopsError> {
    let head = repo.find_reference("HEAD").map_err(git("reading HEAD"))?;
    head.symbolic_target()
        .ok()
        .flatten()
        .and_then(|t| t.strip_prefix("refs/heads/"))
        .map(str::to_owned)
        .ok_or_else(|| GitopsError::Detached(path.to_path_buf()))
}

/// Checks out `name`. A missing local branch starts from the remote's branch of that name when
/// `remote` (the push target) has one, so a fresh clone continues the branch instead of diverging
/// from it; without a push target, from `origin/<name>` when the clone tracks it; else from the
/// current HEAD. True when the working tree now holds another commit.
pub(super) fn switch_branch(
    repo: &Repository,
    name: &str,
    remote: Option<&str>,
) -> Result<bool, GitopsError> {
    if !Branch::name_is_valid(name).unwrap_or(false) {
        return Err(GitopsError::BadBranch(name.to_owned()));
    }
    let refname = format!("refs/heads/{name}");
    let head = repo.find_reference("HEAD").ok();
    if head
        .as_ref()
        .and_then(|h| h.symbolic_target().ok().flatten())
        == Some(refname.as_str())
    {
        return Ok(false);
    }
    let start = match repo.find_reference(&refname) {
        Ok(existing) => Some(
            existing
                .peel_to_commit()
                .map_err(git(format!("reading branch {name}")))?,
        ),
        Err(e) if e.code() == ErrorCode::NotFound => {
            let remote_tip = match remote {
                Some(remote) if remote_has_branch(repo, remote, name)? => {
                    Some(fetch(repo, remote, name)?)
                }
                Some(_) => None,
                // Without --push nothing is fetched, but a clone already tracks origin's
                // branches: continue that one, as `git switch B` would.
                None => repo
                    .refname_to_id(&format!("refs/remotes/origin/{name}"))
                    .ok(),
            };
            let start = match remote_tip {
                Some(tip) => Some(
                    repo.find_commit(tip)
                        .map_err(git(format!("reading {name} from the remote")))?,
                ),
                None => repo.head().and_then(|h| h.peel_to_commit()).ok(),
            };
            if let Some(start) = &start {
                repo.branch(name, start, false)
                    .map_err(git(format!("creating branch {name}")))?;
            }
            start
        }
        Err(e) => return Err(git(format!("reading branch {name}"))(e)),
    };
    let mut moved = false;
    if let Some(commit) = start {
        moved = repo.head().ok().and_then(|h| h.target()) != Some(commit.id());
        if moved {
            repo.checkout_tree(commit.as_object(), Some(CheckoutBuilder::new().safe()))
                .map_err(git(format!(
                    "checking out {name} (local changes would be overwritten?)"
                )))?;
        }
    }
    repo.set_head(&refname)
        .map_err(git(format!("switching to {name}")))?;
    Ok(moved)
}

const MODE_FILE: u32 = 0o100_644;
const MODE_EXECUTABLE: u32 = 0o100_755;
const MODE_TYPE: u32 = 0o170_000;
const MODE_REGULAR: u32 = 0o100_000;
const MODE_SYMLINK: u32 = 0o120_000;

/// The index entry `git add` makes for the regular file `path` with status `meta` and blob `id`
/// (libgit2's `index_entry_init` and `index_merge_mode`): the mode from the file when the
/// repository trusts file modes, else the entry's current one.
fn index_entry(
    path: &str,
    meta: &std::fs::Metadata,
    id: Oid,
    existing: Option<u32>,
    trust_mode: bool,
    symlinks: bool,
) -> git2::IndexEntry {
    use std::os::unix::fs::MetadataExt as _;
    let from_file = if trust_mode && meta.mode() & 0o100 != 0 {
        MODE_EXECUTABLE
    } else {
        MODE_FILE
    };
    let mode = match existing {
        Some(old) if !symlinks && old & MODE_TYPE == MODE_SYMLINK => old,
        Some(old) if !trust_mode && old & MODE_TYPE == MODE_REGULAR => old,
        _ => from_file,
    };
    // The index holds 32-bit fields; git truncates the same way.
    #[allow(clippy::cast_possible_truncation)]
    let time = |secs: i64, nanos: i64| git2::IndexTime::new(secs as i32, nanos as u32);
    #[allow(clippy::cast_possible_truncation)]
    git2::IndexEntry {
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        dev: meta.rdev() as u32,
        ino: meta.ino() as u32,
        mode,
        uid: meta.uid(),
        gid: meta.gid(),
        file_size: meta.size() as u32,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// Stages every changed path as the working tree holds it and commits when that makes the index
/// differ from HEAD. check_repo_state refused other staged changes and check_owned_clean owned
/// files that differ from HEAD without being changes, so every other owned path's index entry is
/// HEAD's already and nothing else is committed.
fn commit(
    repo: &Repository,
    target: &Target,
    changes: &Changes,
    message: &str,
    sig: &Signature<'_>,
    threads: usize,
) -> Result<Option<Oid>, GitopsError> {
    let prefix = target.prefix();
    let out_dir = target.out_dir();
    let mut index = repo.index().map_err(git("reading the index"))?;
    let mut adds = Vec::new();
    for rel in changes.files.iter().map(|f| &f.path) {
        let path = format!("{prefix}{rel}");
        match std::fs::symlink_metadata(out_dir.join(rel)) {
            Ok(m) if m.is_file() => adds.push((path, m)),
            Ok(_) => {
                return Err(GitopsError::NotRegular {
                    path,
                    kind: "symbolic link or directory",
                });
            }
            Err(_) => match index.remove_path(Path::new(&path)) {
                Err(e) if e.code() != ErrorCode::NotFound => {
                    return Err(git(format!("staging {path}"))(e));
                }
                _ => {}
            },
        }
    }
    // What `git add` does for each path (the blob through the repository's filters, the entry
    // from the file's status), with the blobs hashed, compressed and written on every thread.
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitopsError::Bare(target.repo.clone()))?
        .to_path_buf();
    let blobs = crate::output::parallel::try_map_with(
        &adds,
        threads,
        // Opened as the apply opened it; a repository handle cannot be shared between threads.
        || Repository::open(&target.repo).map_err(git("opening the repository")),
        |repo, (path, _)| {
            repo.blob_path(&workdir.join(path))
                .map_err(git(format!("staging {path}")))
        },
    )?;
    let config = repo.config().map_err(git("reading the configuration"))?;
    let trust_mode = config.get_bool("core.filemode").unwrap_or(true);
    let symlinks = config.get_bool("core.symlinks").unwrap_or(true);
    for ((path, meta), id) in adds.iter().zip(blobs) {
        let existing = index.get_path(Path::new(path), 0).map(|e| e.mode);
        let entry = index_entry(path, meta, id, existing, trust_mode, symlinks);
        index.add(&entry).map_err(git(format!("staging {path}")))?;
    }
    index.write().map_err(git("writing the index"))?;
    crate::fault::point("index");
    if crate::fault::fails("commit") {
        return Err(git("committing")(git2::Error::from_str("test fault")));
    }
    let tree_id = index.write_tree().map_err(git("writing the tree"))?;
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit().map_err(git("reading HEAD"))?),
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => None,
        Err(e) => return Err(git("reading HEAD")(e)),
    };
    // The bytes on disk can differ from the plan's view while git's do not (line-ending filters):
    // git decides whether there is anything to commit.
    if parent.as_ref().map(|p| p.tree_id()) == Some(tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id).map_err(git("reading the tree"))?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), sig, sig, message, &tree, &parents)
        .map(Some)
        .map_err(git("committing"))
}
