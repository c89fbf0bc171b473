//! The remote: credentials, push with rejection detection, fetch, and moving the branch to the
//! remote tip (dropping only this run's own commit) before a re-render.

use std::cell::RefCell;
use std::time::Duration;

use git2::build::CheckoutBuilder;
use git2::{
    Cred, CredentialType, ErrorCode, FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository,
};

use super::{GitopsError, OWNED_BRANCH_PREFIX, git};
use crate::retry::Backoff;

/// The wait before push attempt `attempt + 1`: concurrent writers stop colliding.
pub(super) fn backoff(attempt: u32) -> Duration {
    Backoff {
        initial: Duration::from_millis(400),
        max: Duration::from_secs(5),
    }
    .delay(attempt.saturating_sub(1))
}

/// Asks `remote` whether it has branch `name` (one round trip, nothing fetched).
pub(super) fn remote_has_branch(
    repo: &Repository,
    remote: &str,
    name: &str,
) -> Result<bool, GitopsError> {
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
pub(super) fn push(
    repo: &Repository,
    remote_name: &str,
    branch: &str,
) -> Result<Option<String>, GitopsError> {
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

pub(super) fn fetch(
    repo: &Repository,
    remote_name: &str,
    branch: &str,
) -> Result<Oid, GitopsError> {
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
pub(super) fn reset_to(
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
