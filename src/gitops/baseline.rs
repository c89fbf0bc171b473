//! What plan, verify and apply compare with: the output directory as HEAD holds it, exported into
//! a temporary directory; symlinks and submodules inside it are refused, never exported.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Repository};

use super::{GitopsError, Target, git};
use crate::output::lock::DirLock;

/// HEAD's output directory, exported into a temporary directory: what plan and apply compare
/// with. A symlink or submodule committed inside it is refused, never exported.
pub(crate) struct Committed {
    /// Deletes the export when dropped.
    _dir: tempfile::TempDir,
    out: PathBuf,
    /// A plan's shared lock on the repository, held while the export is compared.
    _lock: Option<DirLock>,
}

impl Committed {
    pub(crate) fn path(&self) -> &Path {
        &self.out
    }
}

/// Exports HEAD's tree under the output directory (nothing on an unborn branch).
pub(crate) fn committed_output(
    repo: &Repository,
    target: &Target,
) -> Result<Committed, GitopsError> {
    // Inside the repository's git directory: never in the working tree, never in a shared /tmp,
    // and a killed run's export is found and removed by the next apply.
    let dir = tempfile::Builder::new()
        .prefix(EXPORT_PREFIX)
        .tempdir_in(repo.path())
        .map_err(crate::output::tree::io(repo.path()))?;
    let out = dir.path().join(&target.subdir);
    std::fs::create_dir_all(&out).map_err(crate::output::tree::io(&out))?;
    let head = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(git("reading HEAD's tree"))?,
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            return Ok(Committed {
                _dir: dir,
                out,
                _lock: None,
            });
        }
        Err(e) => return Err(git("reading HEAD")(e)),
    };
    let subtree = if target.subdir.is_empty() {
        head
    } else {
        match head.get_path(Path::new(&target.subdir)) {
            Ok(entry) if entry.kind() == Some(git2::ObjectType::Tree) => repo
                .find_tree(entry.id())
                .map_err(git(format!("reading {}", target.subdir)))?,
            Ok(_) => {
                return Err(GitopsError::NotRegular {
                    path: target.subdir.clone(),
                    kind: "file, not a directory",
                });
            }
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Ok(Committed {
                    _dir: dir,
                    out,
                    _lock: None,
                });
            }
            Err(e) => return Err(git(format!("reading {}", target.subdir))(e)),
        }
    };
    let mut files = Vec::new();
    let mut refused = None;
    subtree
        .walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            let rel = format!("{root}{}", entry.name().unwrap_or_default());
            match (entry.kind(), entry.filemode()) {
                (Some(git2::ObjectType::Tree), _) => {}
                (Some(git2::ObjectType::Blob), 0o120000) => refused = Some((rel, "symbolic link")),
                (Some(git2::ObjectType::Blob), _) => files.push((rel, entry.id())),
                _ => refused = Some((rel, "submodule")),
            }
            if refused.is_some() {
                git2::TreeWalkResult::Abort
            } else {
                git2::TreeWalkResult::Ok
            }
        })
        .or_else(|e| if refused.is_some() { Ok(()) } else { Err(e) })
        .map_err(git(format!("reading {}", target.subdir)))?;
    if let Some((rel, kind)) = refused {
        return Err(GitopsError::NotRegular {
            path: format!("{}{rel}", target.prefix()),
            kind,
        });
    }
    for (rel, id) in files {
        let blob = repo
            .find_blob(id)
            .map_err(git(format!("reading {}{rel}", target.prefix())))?;
        let path = out.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(crate::output::tree::io(parent))?;
        }
        std::fs::write(&path, blob.content()).map_err(crate::output::tree::io(&path))?;
    }
    Ok(Committed {
        _dir: dir,
        out,
        _lock: None,
    })
}

/// What plan and verify compare with: HEAD's output when `--repo` is a git repository, so output
/// written but never committed is a difference; `None` for a plain directory.
pub(crate) fn plan_baseline(target: &Target) -> Result<Option<Committed>, GitopsError> {
    match Repository::open(&target.repo) {
        Ok(repo) => {
            // Reading while an apply writes would compare with half a tree.
            let lock = DirLock::shared(&target.repo)?;
            let mut committed = committed_output(&repo, target)?;
            committed._lock = Some(lock);
            Ok(Some(committed))
        }
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git(format!("opening repository {}", target.repo.display()))(e)),
    }
}

const EXPORT_PREFIX: &str = "peergen-HEAD-";

/// Removes the HEAD exports killed runs left in the git directory. Called under the repository's
/// exclusive lock, so no running plan or apply is using one.
pub(crate) fn remove_leftovers(repo: &Repository) {
    let Ok(entries) = std::fs::read_dir(repo.path()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(EXPORT_PREFIX))
        {
            let path = entry.path();
            tracing::info!("removing {} (left by an interrupted run)", path.display());
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!("{}: {e}", path.display());
            }
        }
    }
}
