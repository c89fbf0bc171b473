//! Applying a plan to a GitOps repository with git2: refuse unsafe repository states, write the
//! rendered tree, stage only the paths peergen owns, make at most one commit per run, and push,
//! surviving a concurrent push by fetching, re-rendering on the new tip and retrying.

mod baseline;
pub(crate) mod changes;
mod message;
mod remote;
pub(crate) mod report;
mod repository;

use std::path::{Component, Path, PathBuf};

use git2::{Oid, Repository, Signature};

use self::baseline::committed_output;
pub(crate) use self::baseline::plan_repo;
use self::baseline::remove_leftovers;
use self::remote::{backoff, fetch, push, reset_to};
use self::repository::{
    check_owned_clean, check_repo_state, current_branch, owned_paths, switch_branch,
    write_and_commit,
};
use crate::cosmos::peers::Plan;
use crate::gitops::changes::{Changes, compare};
use crate::output::file::{Keep, Spool};
use crate::output::lock::{DirLock, LockError};
use crate::output::previous::Previous;
use crate::output::tree::{OutputTree, TreeError};

/// Branches under this prefix belong to peergen, which may force-push them.
pub(crate) const OWNED_BRANCH_PREFIX: &str = "peergen/";

/// Replaced in `--branch` by the first 12 hex digits of the plan checksum, so identical plans
/// share a branch (and an open pull request) instead of piling up new ones.
pub(crate) const CHECKSUM_PLACEHOLDER: &str = "{checksum}";

#[derive(Debug, thiserror::Error)]
pub(crate) enum GitopsError {
    #[error("{action}: {source}")]
    Git { action: String, source: git2::Error },
    #[error("--path {0:?} must be a relative path inside the repository, without `..`")]
    BadPath(String),
    #[error("--repo {0}: no such directory; give the GitOps repository's working tree")]
    NoRepo(PathBuf),
    #[error(
        "{0} is not a git repository (no .git found there or above); apply commits, so --repo must be a git working tree"
    )]
    NotARepo(PathBuf),
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
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "{0} exists: a git command is running in this repository, or one was killed (an interrupted peergen apply included); when no git process is running, remove it and run again"
    )]
    GitLock(PathBuf),
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
        if !repo.is_dir() {
            return Err(GitopsError::NoRepo(repo.to_path_buf()));
        }
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
    /// `None`: git's own identity (`user.name`/`user.email` of the repository's configuration).
    pub(crate) author_name: Option<String>,
    pub(crate) author_email: Option<String>,
    pub(crate) max_push_attempts: u32,
    /// Threads writing the tree.
    pub(crate) threads: usize,
    /// What the report and the commit message need of nodes that join or leave.
    pub(crate) joins: changes::JoinLists,
}

/// What one apply did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) branch: String,
    /// The branch the working copy was on before `--branch` switched it.
    pub(crate) switched_from: Option<String>,
    pub(crate) commit: Option<Oid>,
    pub(crate) pushed: bool,
    pub(crate) attempts: u32,
}

/// Renders given the previous output, keeping each file as told.
pub(crate) type Render<'a, E> =
    dyn FnMut(&dyn Previous, &Keep<'_>) -> Result<(Option<Plan>, OutputTree), E> + 'a;
/// Shows a plan to the user before anything is written.
pub(crate) type Show<'a, E> = dyn FnMut(&Changes, &dyn Previous) -> Result<(), E> + 'a;

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
/// Reads objects as git does: by default libgit2 re-hashes every object it reads (with the
/// collision-detecting SHA-1) to check its id, which was two thirds of a large plan's time; git
/// itself verifies ids only in `fsck`, which is where repository integrity is checked.
pub(crate) fn configure_git() {
    git2::opts::strict_hash_verification(false);
}

pub(crate) fn apply<E: From<GitopsError>>(
    target: &Target,
    opts: &ApplyOptions,
    render: &mut Render<'_, E>,
    show: &mut Show<'_, E>,
) -> Result<Outcome, E> {
    let repo = match Repository::open(&target.repo) {
        Ok(repo) => repo,
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(GitopsError::NotARepo(target.repo.clone()).into());
        }
        Err(e) => {
            return Err(git(format!("opening repository {}", target.repo.display()))(e).into());
        }
    };
    if repo.is_bare() {
        return Err(GitopsError::Bare(target.repo.clone()).into());
    }
    // One apply at a time per repository, from the first read to the push.
    let _lock = DirLock::exclusive(&target.repo).map_err(GitopsError::from)?;
    remove_leftovers(&repo);
    check_repo_state(&repo, target)?;

    // The bytes of every file HEAD does not hold already wait in a spool, not in memory.
    let spool = Spool::new_in(repo.path()).map_err(GitopsError::from)?;
    let mut render = |committed: &dyn Previous| {
        let ids = committed.ids().unwrap_or_default();
        render(committed, &Keep::changed(&ids, Some(&spool)))
    };
    let first = render(&committed_output(&repo, target)?)?;
    first.1.hash(opts.threads).map_err(GitopsError::from)?;
    let first_checksum = first.1.checksum().map_err(GitopsError::from)?;
    let mut rendered = Some(first);
    let mut switched_from = None;
    let branch = match &opts.branch {
        Some(pattern) => {
            let name = pattern.replace(CHECKSUM_PLACEHOLDER, &first_checksum[..12]);
            switched_from = current_branch(&repo, &target.repo)
                .ok()
                .filter(|b| *b != name);
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
        switched_from,
        ..Outcome::default()
    };
    loop {
        outcome.attempts += 1;
        // What HEAD holds, not what the working tree holds: output written but never committed
        // is still a change to commit.
        let committed = committed_output(&repo, target)?;
        let (plan, tree) = match rendered.take() {
            Some(r) => r,
            None => render(&committed)?,
        };
        tree.hash(opts.threads).map_err(GitopsError::from)?;
        let mut changes = compare(
            &tree,
            &committed,
            opts.only.as_deref(),
            plan.as_ref(),
            opts.threads,
            opts.joins,
        )
        .map_err(GitopsError::from)?;
        changes.needs_force = changes.threshold_violations(opts.max_removal_percent);
        let checksum = changes.checksum.clone();
        if outcome.attempts == 1 {
            show(&changes, &committed)?;
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
            let message = message::message(&changes, &checksum, opts.message_template.as_deref())?;
            let config = repo.config().ok();
            let configured = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
            let name = opts
                .author_name
                .clone()
                .or_else(|| configured("user.name"))
                .unwrap_or_else(|| "peergen".to_owned());
            let email = opts
                .author_email
                .clone()
                .or_else(|| configured("user.email"))
                .unwrap_or_else(|| "peergen@localhost".to_owned());
            let sig = Signature::now(&name, &email).map_err(git(
                "building the author signature (--author-name, --author-email, git user.name/user.email)",
            ))?;
            let owned = owned_paths(target, &committed, &tree)?;
            let touched = check_owned_clean(&repo, target, &owned, &changes)?;
            spool.sync().map_err(GitopsError::from)?;
            write_and_commit(
                &repo, target, &tree, &committed, &changes, &owned, &touched, opts, &message, &sig,
            )?
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
