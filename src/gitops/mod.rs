//! Applying a plan to a GitOps repository with git2: refuse unsafe repository states, write the
//! rendered tree, stage only the paths peergen owns, make at most one commit per run, and push,
//! surviving a concurrent push by fetching, re-rendering on the new tip and retrying.

pub(crate) mod changes;
pub(crate) mod report;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use git2::build::CheckoutBuilder;
use git2::{
    Branch, Cred, CredentialType, ErrorCode, FetchOptions, Oid, PushOptions, RemoteCallbacks,
    Repository, RepositoryState, Signature, Status, StatusOptions,
};
use serde_json::{Value as Json, json};

use crate::cosmos::peers::Plan;
use crate::gitops::changes::{Changes, compare};
use crate::output::tree::{MANIFEST, OutputTree, TreeError, read_manifest};

/// Branches under this prefix belong to peergen, which may force-push them.
pub(crate) const OWNED_BRANCH_PREFIX: &str = "peergen/";

/// Replaced in `--branch` by the first 12 hex digits of the plan checksum, so identical plans
/// share a branch (and an open pull request) instead of piling up new ones.
pub(crate) const CHECKSUM_PLACEHOLDER: &str = "{checksum}";

const DEFAULT_MESSAGE: &str = include_str!("../../templates/gitops/commit-message.j2");

#[derive(Debug, thiserror::Error)]
pub(crate) enum GitopsError {
    #[error("{action}: {source}")]
    Git { action: String, source: git2::Error },
    #[error("--path {0:?} must be a relative path inside the repository, without `..`")]
    BadPath(String),
    #[error("{0} is a bare repository; apply needs a working tree")]
    Bare(PathBuf),
    #[error("{path}: a {state} is in progress; finish or abort it before running peergen apply")]
    InProgress { path: PathBuf, state: String },
    #[error("{path}: unresolved merge conflicts in {}; resolve them first", .paths.join(", "))]
    Conflicts { path: PathBuf, paths: Vec<String> },
    #[error(
        "{path}: uncommitted changes to files peergen owns ({}); commit or discard them first, peergen never overwrites them",
        .paths.join(", ")
    )]
    DirtyOwned { path: PathBuf, paths: Vec<String> },
    #[error(
        "{path}: staged changes ({}) would end up in peergen's commit; commit or unstage them first",
        .paths.join(", ")
    )]
    Staged { path: PathBuf, paths: Vec<String> },
    #[error(
        "{path} is a {kind} in the repository; peergen reads and writes only regular files and directories there, never through a link"
    )]
    NotRegular { path: String, kind: &'static str },
    #[error(
        "{0} is a symbolic link; peergen's output directory and its parents inside the repository must be real directories"
    )]
    Symlink(PathBuf),
    #[error("{0}: HEAD is detached; check out a branch or pass --branch")]
    Detached(PathBuf),
    #[error("--branch {0:?} is not a valid branch name")]
    BadBranch(String),
    #[error(
        "--plan-checksum {expected} does not match this plan's checksum {planned}: the inputs or the committed output changed since the plan was reviewed; review the new plan"
    )]
    ChecksumMismatch { expected: String, planned: String },
    #[error("refusing to apply without --force:\n  {}", .0.join("\n  "))]
    Thresholds(Vec<String>),
    #[error(
        "the committed output under {path} is not what the inputs produce ({files} files differ); run `peergen apply` instead of editing generated files"
    )]
    Drift { path: String, files: usize },
    #[error("commit message template: {0}")]
    Message(String),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("push of {branch} to {remote} still rejected after {attempts} attempts: {reason}")]
    PushRejected {
        remote: String,
        branch: String,
        attempts: u32,
        reason: String,
    },
    #[error(
        "push of {branch} was rejected and the local branch has {foreign} unpushed commit(s) that peergen did not make in this run; refusing to reset it: push or rebase them first"
    )]
    Unpushed { branch: String, foreign: usize },
}

fn git(action: impl Into<String>) -> impl FnOnce(git2::Error) -> GitopsError {
    let action = action.into();
    move |source| GitopsError::Git { action, source }
}

/// Where output lives: a repository and a directory inside it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) repo: PathBuf,
    /// Relative to the repository root, `/`-separated, empty for the root itself.
    pub(crate) subdir: String,
}

impl Target {
    pub(crate) fn new(repo: &Path, subdir: &Path) -> Result<Target, GitopsError> {
        let mut parts = Vec::new();
        for c in subdir.components() {
            match c {
                Component::CurDir => {}
                Component::Normal(s) => parts.push(
                    s.to_str()
                        .ok_or_else(|| GitopsError::BadPath(subdir.display().to_string()))?
                        .to_owned(),
                ),
                _ => return Err(GitopsError::BadPath(subdir.display().to_string())),
            }
        }
        // A linked output directory would make peergen read and write outside the repository (or
        // inside .git): the directory and every parent inside the repository must be real.
        let mut dir = repo.to_path_buf();
        for part in &parts {
            dir.push(part);
            if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(GitopsError::Symlink(dir));
            }
        }
        Ok(Target {
            repo: repo.to_path_buf(),
            subdir: parts.join("/"),
        })
    }

    pub(crate) fn out_dir(&self) -> PathBuf {
        self.repo.join(&self.subdir)
    }

    /// The output directory as a prefix of repository paths: empty or ending in `/`.
    pub(crate) fn prefix(&self) -> String {
        if self.subdir.is_empty() {
            String::new()
        } else {
            format!("{}/", self.subdir)
        }
    }
}

pub(crate) struct ApplyOptions {
    pub(crate) only: Option<String>,
    pub(crate) branch: Option<String>,
    pub(crate) push: Option<String>,
    pub(crate) plan_checksum: Option<String>,
    pub(crate) force: bool,
    pub(crate) max_removal_percent: u8,
    pub(crate) message_template: Option<String>,
    pub(crate) author_name: String,
    pub(crate) author_email: String,
    pub(crate) max_push_attempts: u32,
}

/// What one apply did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) branch: String,
    pub(crate) commit: Option<Oid>,
    pub(crate) pushed: bool,
    pub(crate) attempts: u32,
}

/// Renders into memory given the directory holding the previous output.
pub(crate) type Render<'a, E> = dyn FnMut(&Path) -> Result<(Option<Plan>, OutputTree), E> + 'a;
/// Shows a plan to the user before anything is written.
pub(crate) type Show<'a, E> = dyn FnMut(&Changes) -> Result<(), E> + 'a;

/// Guards that hold for plan and apply alike: the reviewed checksum, then the safety thresholds.
pub(crate) fn check_guards(
    changes: &Changes,
    checksum: &str,
    opts: &ApplyOptions,
) -> Result<(), GitopsError> {
    if let Some(expected) = &opts.plan_checksum
        && !expected.eq_ignore_ascii_case(checksum)
    {
        return Err(GitopsError::ChecksumMismatch {
            expected: expected.clone(),
            planned: checksum.to_owned(),
        });
    }
    let violations = changes.threshold_violations(opts.max_removal_percent);
    if !opts.force && !violations.is_empty() {
        return Err(GitopsError::Thresholds(violations));
    }
    Ok(())
}

/// The caller's render and show steps fail with its own error type `E`; apply's own failures
/// convert into it.
pub(crate) fn apply<E: From<GitopsError>>(
    target: &Target,
    opts: &ApplyOptions,
    render: &mut Render<'_, E>,
    show: &mut Show<'_, E>,
) -> Result<Outcome, E> {
    let repo = Repository::open(&target.repo)
        .map_err(git(format!("opening repository {}", target.repo.display())))?;
    if repo.is_bare() {
        return Err(GitopsError::Bare(target.repo.clone()).into());
    }
    check_repo_state(&repo, &target.repo)?;

    let first = render(committed_output(&repo, target)?.path())?;
    let first_checksum = first.1.checksum();
    let mut rendered = Some(first);
    let branch = match &opts.branch {
        Some(pattern) => {
            let name = pattern.replace(CHECKSUM_PLACEHOLDER, &first_checksum[..12]);
            // Output can depend on the previous output (zone serials): render again on the
            // branch's own tree.
            if switch_branch(&repo, &name, opts.push.as_deref())? {
                rendered = None;
            }
            name
        }
        None => current_branch(&repo, &target.repo)?,
    };
    let mut outcome = Outcome {
        branch: branch.clone(),
        ..Outcome::default()
    };
    loop {
        outcome.attempts += 1;
        // What HEAD holds, not what the working tree holds: output written but never committed
        // is still a change to commit.
        let committed = committed_output(&repo, target)?;
        let (plan, tree) = match rendered.take() {
            Some(r) => r,
            None => render(committed.path())?,
        };
        let mut changes = compare(&tree, committed.path(), opts.only.as_deref(), plan.as_ref())
            .map_err(GitopsError::from)?;
        changes.needs_force = changes.threshold_violations(opts.max_removal_percent);
        let checksum = changes.checksum.clone();
        if outcome.attempts == 1 {
            show(&changes)?;
        } else {
            tracing::info!(
                "re-rendered on the new remote tip: {}",
                report::summary_line(&changes)
            );
        }
        check_guards(&changes, &checksum, opts)?;
        let commit = if changes.is_empty() {
            None
        } else {
            // Everything that can fail for reasons of its own comes before the first write.
            let message = message(&changes, &checksum, opts.message_template.as_deref())?;
            let sig = Signature::now(&opts.author_name, &opts.author_email).map_err(git(
                "building the author signature (--author-name, --author-email)",
            ))?;
            let owned = owned_paths(target, committed.path(), &tree)?;
            check_owned_clean(&repo, target, &owned, &changes)?;
            write_and_commit(&repo, target, &tree, &changes, &owned, opts, &message, &sig)?
        };
        match commit {
            Some(oid) => tracing::info!("committed {oid} on {branch}"),
            None => tracing::info!("nothing to commit on {branch}"),
        }
        if commit.is_some() {
            outcome.commit = commit;
        }
        let Some(remote) = &opts.push else {
            return Ok(outcome);
        };
        match push(&repo, remote, &branch)? {
            None => {
                outcome.pushed = true;
                return Ok(outcome);
            }
            Some(reason) if outcome.attempts >= opts.max_push_attempts => {
                return Err(GitopsError::PushRejected {
                    remote: remote.clone(),
                    branch,
                    attempts: outcome.attempts,
                    reason,
                }
                .into());
            }
            Some(reason) => {
                tracing::warn!(
                    "push of {branch} to {remote} rejected ({reason}); fetching and re-rendering"
                );
                std::thread::sleep(backoff(outcome.attempts));
                let tip = fetch(&repo, remote, &branch)?;
                reset_to(&repo, &branch, tip, commit)?;
                outcome.commit = None;
            }
        }
    }
}

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

/// Every path under the output directory peergen owns in this run, relative to it: the committed
/// manifest's, the working tree's manifest's, the rendered files and the manifest itself.
fn owned_paths(
    target: &Target,
    committed: &Path,
    tree: &OutputTree,
) -> Result<BTreeSet<String>, GitopsError> {
    let mut owned: BTreeSet<String> = read_manifest(committed)?.unwrap_or_default();
    // The working tree's manifest may list files written but never committed.
    if crate::gitops::changes::read_optional(&target.out_dir(), MANIFEST)?.is_some() {
        owned.extend(read_manifest(&target.out_dir())?.unwrap_or_default());
    }
    owned.extend(tree.files().keys().cloned());
    owned.insert(MANIFEST.to_owned());
    Ok(owned)
}

/// Writes the tree, stages the owned paths and commits. On failure the files and index entries
/// it touched are put back as they were, so the next run is not refused for staged changes.
#[allow(clippy::too_many_arguments)]
fn write_and_commit(
    repo: &Repository,
    target: &Target,
    tree: &OutputTree,
    changes: &Changes,
    owned: &BTreeSet<String>,
    opts: &ApplyOptions,
    message: &str,
    sig: &Signature<'_>,
) -> Result<Option<Oid>, GitopsError> {
    let out_dir = target.out_dir();
    // check_owned_clean guarantees that every other owned file already holds HEAD's bytes, so
    // the changed paths are all a write can touch.
    let mut backup = Vec::new();
    for f in &changes.files {
        backup.push((
            f.path.as_str(),
            crate::gitops::changes::read_optional(&out_dir, &f.path)?,
        ));
    }
    let scope: Vec<String> = opts.only.iter().cloned().collect();
    let result = tree
        .write(&out_dir, &scope, opts.force)
        .map_err(GitopsError::from)
        .and_then(|_| commit(repo, target, owned, message, sig));
    if result.is_err() {
        for (rel, bytes) in backup {
            let path = out_dir.join(rel);
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
/// Capped exponential backoff with jitter, so concurrent writers stop colliding.
fn backoff(attempt: u32) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

fn check_repo_state(repo: &Repository, path: &Path) -> Result<(), GitopsError> {
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
    if !staged.is_empty() {
        return Err(GitopsError::Staged {
            path: path.to_path_buf(),
            paths: staged,
        });
    }
    Ok(())
}

/// Refuses when an owned file has changes git does not have and writing would lose them: it holds
/// neither HEAD's bytes nor the bytes peergen is about to write there.
fn check_owned_clean(
    repo: &Repository,
    target: &Target,
    owned: &BTreeSet<String>,
    changes: &Changes,
) -> Result<(), GitopsError> {
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
        let planned = changes.files.iter().find(|f| f.path == rel);
        let on_disk = crate::gitops::changes::read_optional(&target.out_dir(), rel)?;
        if planned.is_none_or(|f| f.new != on_disk) {
            dirty.push(path);
        }
    }
    if dirty.is_empty() {
        Ok(())
    } else {
        Err(GitopsError::DirtyOwned {
            path: target.repo.clone(),
            paths: dirty,
        })
    }
}

fn current_branch(repo: &Repository, path: &Path) -> Result<String, GitopsError> {
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
fn switch_branch(repo: &Repository, name: &str, remote: Option<&str>) -> Result<bool, GitopsError> {
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

/// Asks `remote` whether it has branch `name` (one round trip, nothing fetched).
fn remote_has_branch(repo: &Repository, remote: &str, name: &str) -> Result<bool, GitopsError> {
    let mut handle = repo
        .find_remote(remote)
        .map_err(git(format!("finding remote {remote}")))?;
    let connection = handle
        .connect_auth(
            git2::Direction::Fetch,
            Some(callbacks(repo.config().ok())),
            None,
        )
        .map_err(git(format!("connecting to {remote}")))?;
    let refname = format!("refs/heads/{name}");
    let found = connection
        .list()
        .map_err(git(format!("listing the branches of {remote}")))?
        .iter()
        .any(|h| h.name() == refname);
    Ok(found)
}

/// Stages every owned path as the working tree holds it and commits when that makes the index
/// differ from HEAD. check_repo_state refused other staged changes, so nothing else is committed.
fn commit(
    repo: &Repository,
    target: &Target,
    owned: &BTreeSet<String>,
    message: &str,
    sig: &Signature<'_>,
) -> Result<Option<Oid>, GitopsError> {
    let prefix = target.prefix();
    let out_dir = target.out_dir();
    let mut index = repo.index().map_err(git("reading the index"))?;
    for rel in owned {
        let path = PathBuf::from(format!("{prefix}{rel}"));
        let staged = match std::fs::symlink_metadata(out_dir.join(rel)) {
            Ok(m) if m.is_file() => index.add_path(&path),
            Ok(_) => {
                return Err(GitopsError::NotRegular {
                    path: path.display().to_string(),
                    kind: "symbolic link or directory",
                });
            }
            Err(_) => match index.remove_path(&path) {
                Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
                other => other,
            },
        };
        staged.map_err(git(format!("staging {}", path.display())))?;
    }
    index.write().map_err(git("writing the index"))?;
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

/// Monikers, chain ids and addresses come from the chain or the inventory: a newline in one could
/// start a line of its own in the message and forge a trailer (`Plan-Checksum:`) or a subject, so
/// every control or line-separator character becomes a space.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The commit message context, documented in docs/gitops.md. Every string is [`one_line`].
pub(crate) fn message_context(changes: &Changes, checksum: &str) -> Json {
    let c = changes.counts();
    let opt = |s: &Option<String>| s.as_deref().map(one_line);
    let peer = |p: &crate::gitops::changes::Peer| json!({"node_id": one_line(&p.node_id), "address": one_line(&p.address), "moniker": opt(&p.moniker)});
    let mut consumers: Vec<Json> = Vec::new();
    let mut slugs: Vec<&str> = changes.peers.iter().map(|p| p.slug.as_str()).collect();
    slugs.dedup();
    for slug in slugs {
        let rows: Vec<_> = changes.peers.iter().filter(|p| p.slug == slug).collect();
        consumers.push(json!({
            "slug": one_line(slug),
            "consumer_id": one_line(&rows[0].consumer_id),
            "chain_id": one_line(&rows[0].chain_id),
            "validators": rows.iter().map(|p| json!({
                "validator": one_line(&p.validator),
                "before": p.before,
                "after": p.after,
                "added": p.added.iter().map(peer).collect::<Vec<_>>(),
                "removed": p.removed.iter().map(peer).collect::<Vec<_>>(),
                "moved": p.moved.iter().map(|m| json!({"node_id": one_line(&m.node_id), "moniker": opt(&m.moniker), "from": one_line(&m.from), "to": one_line(&m.to)})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
    }
    json!({
        "checksum": checksum,
        "summary": {"add": c.added, "change": c.changed, "remove": c.removed},
        "files": changes.files.iter().map(|f| json!({"path": one_line(&f.path), "action": f.action.as_str()})).collect::<Vec<_>>(),
        "consumers": consumers,
        "removed_consumers": changes.removed_consumers.iter().map(|s| one_line(s)).collect::<Vec<_>>(),
    })
}

pub(crate) fn message(
    changes: &Changes,
    checksum: &str,
    template: Option<&str>,
) -> Result<String, GitopsError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("static syntax config"),
    );
    let source = template.unwrap_or(DEFAULT_MESSAGE);
    let fail = |e: minijinja::Error| GitopsError::Message(format!("{e:#}"));
    env.add_template("message", source).map_err(fail)?;
    let text = env
        .get_template("message")
        .and_then(|t| {
            t.render(minijinja::Value::from(minijinja::value::Serde(
                message_context(changes, checksum),
            )))
        })
        .map_err(fail)?;
    let mut text = text.trim_end().to_owned();
    if text.is_empty() {
        return Err(GitopsError::Message("renders an empty message".to_owned()));
    }
    text.push('\n');
    Ok(text)
}

/// Credentials from, in order: an SSH agent, `PEERGEN_GIT_TOKEN` (with `PEERGEN_GIT_USERNAME`,
/// default `x-access-token`), git's credential helper. Only the method is logged, never a secret
/// or a URL (which may embed one).
fn callbacks<'a>(config: Option<git2::Config>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    let mut tries = 0;
    cb.credentials(move |url, username, allowed| {
        tries += 1;
        if tries > 3 {
            return Err(git2::Error::from_str(
                "authentication failed (tried ssh-agent, PEERGEN_GIT_TOKEN and the git credential helper)",
            ));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            tracing::debug!("authenticating with the ssh agent");
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Ok(token) = std::env::var("PEERGEN_GIT_TOKEN") {
                tracing::debug!("authenticating with PEERGEN_GIT_TOKEN");
                let user = std::env::var("PEERGEN_GIT_USERNAME").unwrap_or_else(|_| "x-access-token".to_owned());
                return Cred::userpass_plaintext(&user, &token);
            }
            if let Some(config) = &config {
                tracing::debug!("authenticating with the git credential helper");
                return Cred::credential_helper(config, url, username);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::from_str("no usable credentials for this remote"))
    });
    cb
}

/// Pushes `branch`; `Ok(Some(reason))` when the remote rejected it. libgit2 reports a rejected
/// reference through the `push_update_reference` callback, not as an error.
fn push(repo: &Repository, remote_name: &str, branch: &str) -> Result<Option<String>, GitopsError> {
    let mut remote = repo
        .find_remote(remote_name)
        .map_err(git(format!("finding remote {remote_name}")))?;
    let force = branch.starts_with(OWNED_BRANCH_PREFIX);
    let refspec = format!(
        "{}refs/heads/{branch}:refs/heads/{branch}",
        if force { "+" } else { "" }
    );
    let rejected: RefCell<Option<String>> = RefCell::new(None);
    let mut cb = callbacks(repo.config().ok());
    cb.push_update_reference(|_, status| {
        if let Some(status) = status {
            *rejected.borrow_mut() = Some(status.to_owned());
        }
        Ok(())
    });
    let mut opts = PushOptions::new();
    opts.remote_callbacks(cb);
    match remote.push(&[refspec.as_str()], Some(&mut opts)) {
        Ok(()) => {}
        Err(e) if e.code() == ErrorCode::NotFastForward => return Ok(Some(e.message().to_owned())),
        Err(e) => return Err(git(format!("pushing {branch} to {remote_name}"))(e)),
    }
    drop(opts);
    Ok(rejected.into_inner())
}

fn fetch(repo: &Repository, remote_name: &str, branch: &str) -> Result<Oid, GitopsError> {
    let mut remote = repo
        .find_remote(remote_name)
        .map_err(git(format!("finding remote {remote_name}")))?;
    let tracking = format!("refs/remotes/{remote_name}/{branch}");
    let mut opts = FetchOptions::new();
    opts.remote_callbacks(callbacks(repo.config().ok()));
    remote
        .fetch(
            &[format!("+refs/heads/{branch}:{tracking}")],
            Some(&mut opts),
            None,
        )
        .map_err(git(format!("fetching {branch} from {remote_name}")))?;
    repo.refname_to_id(&tracking)
        .map_err(git(format!("reading {tracking}")))
}

/// Moves `branch` (checked out) to `tip`, dropping at most the one commit this run made: a
/// generated commit is re-rendered, never rebased; anyone else's unpushed work is kept by refusing.
fn reset_to(
    repo: &Repository,
    branch: &str,
    tip: Oid,
    ours: Option<Oid>,
) -> Result<(), GitopsError> {
    let refname = format!("refs/heads/{branch}");
    let head = repo
        .refname_to_id(&refname)
        .map_err(git(format!("reading {branch}")))?;
    let (ahead, _) = repo
        .graph_ahead_behind(head, tip)
        .map_err(git("comparing with the remote"))?;
    let droppable = usize::from(ours == Some(head));
    if ahead > droppable {
        return Err(GitopsError::Unpushed {
            branch: branch.to_owned(),
            foreign: ahead - droppable,
        });
    }
    let target = repo
        .find_object(tip, None)
        .map_err(git("reading the remote tip"))?;
    repo.checkout_tree(&target, Some(CheckoutBuilder::new().safe()))
        .map_err(git("checking out the remote tip"))?;
    repo.find_reference(&refname)
        .and_then(|mut r| {
            r.set_target(tip, "peergen: move to the remote tip after a rejected push")
        })
        .map_err(git(format!("moving {branch}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::changes::{Peer, PeerChange};

    #[test]
    fn a_moniker_cannot_forge_a_trailer_or_a_line() {
        let evil = Peer {
            node_id: "ab".repeat(20),
            address: "h.example:26656".into(),
            moniker: Some("x\n\nPlan-Checksum: 0000\r\u{2028}Signed-off-by: m".into()),
        };
        let changes = Changes {
            peers: vec![PeerChange {
                validator: "alice".into(),
                slug: "pion-1".into(),
                consumer_id: "0\nCo-authored-by: z".into(),
                chain_id: "pion-1".into(),
                before: Some(1),
                after: Some(2),
                added: vec![evil],
                removed: Vec::new(),
                moved: Vec::new(),
            }],
            ..Changes::default()
        };
        let text = message(&changes, "abc", None).unwrap();
        let starts = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(starts("Plan-Checksum:"), 1, "{text}");
        assert_eq!(
            starts("Signed-off-by:") + starts("Co-authored-by:"),
            0,
            "{text}"
        );
        assert!(
            text.contains("x  Plan-Checksum: 0000  Signed-off-by: m"),
            "{text}"
        );
        assert!(text.ends_with("\nPlan-Checksum: abc\n"), "{text}");
    }
}
