//! What plan, verify and apply compare with: the output directory as HEAD holds it, exported into
//! a temporary directory; symlinks and submodules inside it are refused, never exported.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Repository};

use super::{GitopsError, Target, git};

/// HEAD's output directory, exported into a temporary directory: what plan and apply compare
/// with. A symlink or submodule committed inside it is refused, never exported.
pub(crate) struct Committed {
    /// Deletes the export when dropped.
    _dir: tempfile::TempDir,
    out: PathBuf,
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
    let dir = tempfile::Builder::new()
        .prefix("peergen-HEAD-")
        .tempdir()
        .map_err(crate::output::tree::io(Path::new("a temporary directory")))?;
    let out = dir.path().join(&target.subdir);
    std::fs::create_dir_all(&out).map_err(crate::output::tree::io(&out))?;
    let head = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(git("reading HEAD's tree"))?,
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            return Ok(Committed { _dir: dir, out });
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
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(Committed { _dir: dir, out }),
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
    Ok(Committed { _dir: dir, out })
}

/// What plan and verify compare with: HEAD's output when `--repo` is a git repository, so output
/// written but never committed is a difference; `None` for a plain directory.
pub(crate) fn plan_baseline(target: &Target) -> Result<Option<Committed>, GitopsError> {
    match Repository::open(&target.repo) {
        Ok(repo) => committed_output(&repo, target).map(Some),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git(format!("opening repository {}", target.repo.display()))(e)),
    }
}
