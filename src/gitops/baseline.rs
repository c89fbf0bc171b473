//! What plan, verify and apply compare with: the output directory as HEAD holds it, read from the
//! commit's tree by blob id (a blob is read only when its content is needed); symlinks and
//! submodules inside it are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};

use super::{GitopsError, Target, git};
use crate::output::blob::BlobId;
use crate::output::lock::DirLock;
use crate::output::previous::{Previous, manifest_of};
use crate::output::tree::TreeError;

/// HEAD's output directory: each file's blob id, and the repository to read a blob from.
pub(crate) struct Committed<'r> {
    repo: &'r Repository,
    /// Where the output directory is, for messages.
    dir: PathBuf,
    files: BTreeMap<String, Oid>,
}

/// HEAD's tree under the output directory (nothing on an unborn branch).
pub(crate) fn committed_output<'r>(
    repo: &'r Repository,
    target: &Target,
) -> Result<Committed<'r>, GitopsError> {
    let mut committed = Committed {
        repo,
        dir: target.out_dir(),
        files: BTreeMap::new(),
    };
    let head = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(git("reading HEAD's tree"))?,
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            return Ok(committed);
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
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(committed),
            Err(e) => return Err(git(format!("reading {}", target.subdir))(e)),
        }
    };
    let mut refused = None;
    subtree
        .walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            let rel = format!("{root}{}", entry.name().unwrap_or_default());
            match (entry.kind(), entry.filemode()) {
                (Some(git2::ObjectType::Tree), _) => {}
                (Some(git2::ObjectType::Blob), 0o120000) => refused = Some((rel, "symbolic link")),
                (Some(git2::ObjectType::Blob), _) => {
                    committed.files.insert(rel, entry.id());
                }
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
    Ok(committed)
}

fn blob_id(id: Oid) -> BlobId {
    let mut bytes = [0; 20];
    bytes.copy_from_slice(id.as_bytes());
    BlobId(bytes)
}

impl Previous for Committed<'_> {
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let Some(id) = self.files.get(rel) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(*id).map_err(|e| TreeError::Io {
            path: self.locate(rel),
            source: std::io::Error::other(format!("reading the committed blob {id}: {e}")),
        })?;
        Ok(Some(blob.content().to_vec()))
    }

    fn locate(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn id(&self, rel: &str) -> Result<Option<BlobId>, TreeError> {
        Ok(self.files.get(rel).map(|id| blob_id(*id)))
    }

    fn ids(&self) -> Option<BTreeMap<String, BlobId>> {
        Some(
            self.files
                .iter()
                .map(|(rel, id)| (rel.clone(), blob_id(*id)))
                .collect(),
        )
    }

    fn owned(&self) -> Result<BTreeSet<String>, TreeError> {
        match manifest_of(self)? {
            Some(owned) => Ok(owned),
            None if self.files.is_empty() => Ok(BTreeSet::new()),
            None => Err(TreeError::NotOwned(self.dir.clone())),
        }
    }
}

/// The repository a plan compares with and the shared lock held while it does: reading while an
/// apply writes would compare with half a tree.
pub(crate) struct PlanRepo {
    repo: Repository,
    _lock: DirLock,
}

impl PlanRepo {
    pub(crate) fn committed<'r>(&'r self, target: &Target) -> Result<Committed<'r>, GitopsError> {
        committed_output(&self.repo, target)
    }
}

/// What plan and verify compare with: HEAD's output when `--repo` is a git repository, so output
/// written but never committed is a difference; `None` for a plain directory.
pub(crate) fn plan_repo(target: &Target) -> Result<Option<PlanRepo>, GitopsError> {
    match Repository::open(&target.repo) {
        Ok(repo) => {
            let lock = DirLock::shared(&target.repo)?;
            Ok(Some(PlanRepo { repo, _lock: lock }))
        }
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git(format!("opening repository {}", target.repo.display()))(e)),
    }
}

/// The HEAD exports older versions left in the git directory; a killed run of one of them
/// may have left one. Called under the repository's exclusive lock.
const EXPORT_PREFIX: &str = "peergen-HEAD-";

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
