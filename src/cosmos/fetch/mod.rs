//! `peergen fetch`: reads an ICS provider's REST API into a complete [`ProviderState`] in memory,
//! compares it with the previous snapshot (safety limits, change summary) and writes it atomically.

pub(crate) mod http;
mod url;

mod progress;
mod provider;
mod raw;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cosmos::dns::addresses;
use crate::cosmos::dns::srv::{self, SrvError};
use crate::cosmos::fetch::http::{Auth, Client, ClientConfig, RestError, RetryPolicy};
use crate::cosmos::inventory::{EndpointSource, Inventory, ProviderAuth};
use crate::cosmos::peers::PlanErrors;
use crate::cosmos::registry::{self, RegistryError};
use crate::cosmos::state::diff::{changes, safety_violations, same_content};
use crate::cosmos::state::valcons::ValconsError;
use crate::cosmos::state::{Phase, ProviderState, StateError};
use crate::retry::Backoff;

const STAKING_VALIDATORS: &str = "/cosmos/staking/v1beta1/validators";
const LATEST_BLOCK: &str = "/cosmos/base/tendermint/v1beta1/blocks/latest";
const ICS: &str = "/interchain_security/ccv/provider";
const PAGE_LIMIT: u32 = 100;

/// Used when neither `--max-drop-percent` nor `provider.max_drop_percent` is set.
pub(crate) const DEFAULT_MAX_DROP_PERCENT: u8 = 50;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error("{url}: validator {operator}: {source}")]
    Valcons {
        url: String,
        operator: String,
        source: ValconsError,
    },
    #[error("{url}: {field}: {message}")]
    Invalid {
        url: String,
        field: String,
        message: String,
    },
    #[error(
        "{url}: the provider answered neither the ICS v6+ consumer_chains/{{phase}} query ({v6}) nor the \
         v4/v5 chain-id keyed query ({legacy}); is this an ICS provider chain, and which interchain-security version does it run?"
    )]
    NotAProvider {
        url: String,
        v6: String,
        legacy: String,
    },
    #[error(
        "{url}: this legacy (ICS v4/v5, chain-id keyed) provider has no consumer_validators query ({message}); \
         ICS v5.0.0 lacks partial-set-security queries: fetch from a provider running ICS v4.4+, v5.1+ or v6+"
    )]
    LegacyWithoutValidatorQuery { url: String, message: String },
    #[error(
        "{url}: provider chain id is {actual:?} but the inventory says provider.chain_id {expected:?}; wrong endpoint?"
    )]
    ChainIdMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{url}: no chain id: the provider has no blocks/latest query and the inventory sets no provider.chain_id"
    )]
    NoChainId { url: String },
    #[error(
        "--consumer {requested}: no such consumer in the fetched phases ({phases}); the provider lists: {available}"
    )]
    UnknownConsumer {
        requested: String,
        phases: String,
        available: String,
    },
    #[error(
        "{url}: launched consumer {consumer_id}: {message}; its peers cannot be recorded (a consumer not yet launched would be skipped)"
    )]
    UnsupportedChainId {
        url: String,
        consumer_id: String,
        message: String,
    },
    #[error("provider.auth: environment variable {name} {problem}")]
    Credentials { name: String, problem: String },
    #[error("no provider URL: pass --provider URL or set provider.rest in the inventory")]
    NoProvider,
    #[error("no snapshot path: pass --out FILE or set `state:` in the inventory")]
    NoOutput,
    #[error("{path}: cannot read the previous snapshot ({source}); pass --force to replace it")]
    Previous { path: PathBuf, source: StateError },
    #[error("{path}: the fetched state does not form a valid snapshot: {source}")]
    Snapshot { path: PathBuf, source: StateError },
    #[error("refusing to write {path}:\n  {}\npass --force to write it anyway", reasons.join("\n  "))]
    Refused { path: PathBuf, reasons: Vec<String> },
    #[error(transparent)]
    Srv(#[from] SrvError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    #[error("{path}: cannot write snapshot: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write_atomic(path: &Path, text: &str) -> Result<(), FetchError> {
    crate::output::tree::replace_file(path, text.as_bytes()).map_err(|source| FetchError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn auth_from_env(auth: &ProviderAuth) -> Result<Auth, FetchError> {
    let (name, bearer) = match auth {
        ProviderAuth::BearerTokenEnv(n) => (n, true),
        ProviderAuth::BasicAuthEnv(n) => (n, false),
    };
    let problem = |p: &str| FetchError::Credentials {
        name: name.clone(),
        problem: p.to_owned(),
    };
    let value = std::env::var(name).map_err(|_| problem("is not set (or not UTF-8)"))?;
    if value.is_empty() {
        return Err(problem("is empty"));
    }
    if bearer {
        Ok(Auth::Bearer(value))
    } else if value.contains(':') {
        Ok(Auth::Basic(value))
    } else {
        Err(problem("must hold `user:password`"))
    }
}

// ---------------------------------------------------------------- the command

/// What `peergen fetch` was asked to do; every `None` falls back to the inventory.
#[derive(Clone, Debug)]
pub(crate) struct FetchRequest {
    pub(crate) provider: Option<String>,
    pub(crate) consumers: Vec<String>,
    pub(crate) out: Option<PathBuf>,
    /// Active phases to record; empty means launched only.
    pub(crate) phases: Vec<Phase>,
    pub(crate) force: bool,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) concurrency: usize,
    pub(crate) max_drop_percent: Option<u8>,
    pub(crate) with_timestamp: bool,
    pub(crate) nameserver: Option<SocketAddr>,
    pub(crate) dns_timeout: Duration,
    /// Read the registry at this etcd revision instead of the current one.
    pub(crate) registry_revision: Option<u64>,
}

/// A complete new snapshot in memory beside the previous one, not yet written.
pub(crate) struct Fetched {
    path: PathBuf,
    previous: Option<ProviderState>,
    new: ProviderState,
    text: String,
    force: bool,
    with_timestamp: bool,
    max_drop_percent: u8,
}

/// What [`Fetched::write`] did.
pub(crate) enum Written {
    Unchanged(PathBuf),
    Wrote(PathBuf),
}

/// Queries the provider (and DNS, for DNS-sourced validators) into a complete new snapshot.
/// Nothing is written: [`Fetched::summary`] and [`Fetched::write`] come next.
pub(crate) fn fetch(request: &FetchRequest, inventory: &Inventory) -> Result<Fetched, FetchError> {
    let base_url = request
        .provider
        .clone()
        .or_else(|| inventory.provider.rest.clone())
        .ok_or(FetchError::NoProvider)?;
    let path = request
        .out
        .clone()
        .or_else(|| inventory.state.clone())
        .ok_or(FetchError::NoOutput)?;
    let max_drop_percent = request
        .max_drop_percent
        .or(inventory.provider.max_drop_percent)
        .unwrap_or(DEFAULT_MAX_DROP_PERCENT);
    let auth = inventory
        .provider
        .auth
        .as_ref()
        .map(auth_from_env)
        .transpose()?;
    let client = Client::new(ClientConfig {
        base_url,
        auth,
        connect_timeout: request.connect_timeout,
        timeout: request.timeout,
        retry: RetryPolicy {
            retries: request.retries,
            backoff: Backoff {
                initial: request.retry_backoff,
                max: request.retry_backoff.saturating_mul(32),
            },
        },
    })?;
    let previous = previous_snapshot(&path, request.force)?;
    let mut phases = request.phases.clone();
    if phases.is_empty() {
        phases.push(Phase::Launched);
    }
    let opts = provider::FetchOptions {
        bech32_prefix: inventory.provider.bech32_prefix.clone(),
        phases,
        consumers: request.consumers.clone(),
        concurrency: request.concurrency,
        expected_chain_id: inventory.provider.chain_id.clone(),
        fetched_at: request
            .with_timestamp
            .then(|| crate::cosmos::date::rfc3339(std::time::SystemTime::now())),
    };
    let mut new = provider::fetch_state(&client, &opts)?;
    if !opts.consumers.is_empty()
        && let Some(prev) = &previous
    {
        // A limited fetch refreshes the named consumers and keeps the others as last recorded.
        for c in &prev.consumers {
            if new.consumer(&c.consumer_id).is_none() {
                new.consumers.push(c.clone());
            }
        }
    }
    crate::cosmos::state::names::assign(&mut new, previous.as_ref());
    // Registry entries are read after the provider (the snapshot's consumers decide which keys are
    // used), in one range read at one revision, and before DNS so a failure costs no lookups.
    let registry_sourced = registry::read_by(inventory);
    let timing = registry::Timing {
        connect_timeout: request.connect_timeout,
        timeout: request.timeout,
        retries: request.retries,
        retry_backoff: request.retry_backoff,
    };
    if registry_sourced {
        let settings = registry::settings(inventory)?;
        let etcd = registry::connect(settings, timing)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let read = registry::read(
            inventory,
            settings,
            &new,
            &etcd,
            request.registry_revision,
            now,
        )?;
        for w in &read.warnings {
            tracing::warn!("{w}");
        }
        new.registry = Some(read.state);
    }
    let chain_registry_sourced = inventory
        .validators
        .values()
        .any(|v| matches!(v.endpoint, EndpointSource::ChainRegistry(_)));
    let chain_registry_seeds = inventory.chain_registry.as_ref().is_some_and(|c| c.seeds);
    if chain_registry_sourced || chain_registry_seeds {
        let (sources, warnings) = registry::chain_registry::read(inventory, &new, timing)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        new.chain_registry = sources;
    }
    // Consumer endpoints published in DNS are resolved only after every provider query succeeded
    // (the selected sets decide which names to ask for) and before anything is compared or written.
    if inventory.discovers_in_dns() {
        let config = srv::ResolverConfig::new(request.nameserver, request.dns_timeout)?;
        new.resolved_endpoints = srv::resolve_endpoints(inventory, &new, &config)?;
    }
    // An allowlist admits addresses, never names: the planned host names are resolved now, once
    // the endpoints are known, and locked into the snapshot for review.
    if inventory.allowlist.is_some() {
        let config = srv::ResolverConfig::new(request.nameserver, request.dns_timeout)?;
        let plan = crate::cosmos::peers::plan(inventory, &new)?;
        new.resolved_addresses = addresses::resolve_addresses(&plan, &config)?;
    }
    new.normalise();
    if registry_sourced || chain_registry_sourced || chain_registry_seeds {
        // Every selected registry-sourced validator must have published for every consumer it
        // serves: planning the new snapshot names each one that did not.
        crate::cosmos::peers::plan(inventory, &new)?;
    }
    let text = new.to_json();
    ProviderState::from_json(&path, &text).map_err(|source| FetchError::Snapshot {
        path: path.clone(),
        source,
    })?;
    Ok(Fetched {
        path,
        previous,
        new,
        text,
        force: request.force,
        with_timestamp: request.with_timestamp,
        max_drop_percent,
    })
}

/// The snapshot at `path`, `None` when there is none yet (or, with `force`, when it is unreadable).
fn previous_snapshot(path: &Path, force: bool) -> Result<Option<ProviderState>, FetchError> {
    let text = match crate::input::file::read_text(path, crate::input::file::STATE_LIMIT) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FetchError::Previous {
                path: path.to_path_buf(),
                source: StateError::Read {
                    path: path.to_path_buf(),
                    source,
                },
            });
        }
    };
    match ProviderState::from_json(path, &text) {
        Ok(p) => Ok(Some(p)),
        Err(_) if force => {
            tracing::warn!(
                "{}: previous snapshot unreadable; --force replaces it",
                path.display()
            );
            Ok(None)
        }
        Err(source) => Err(FetchError::Previous {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl Fetched {
    /// The provider line and what changed since the previous snapshot, in a stable order.
    pub(crate) fn summary(&self) -> Vec<String> {
        let new = &self.new;
        let mut lines = vec![format!(
            "provider {} at height {} (ICS API {}): {} bonded validators, {} consumers",
            new.provider.chain_id,
            new.provider.height,
            new.provider.ics_api,
            new.bonded_validators.len(),
            new.consumers.len()
        )];
        if let Some(r) = &new.registry {
            lines.push(format!(
                "registry {} at revision {}: {} entries",
                r.prefix,
                r.revision,
                r.entries.len()
            ));
        }
        lines.extend(
            changes(self.previous.as_ref(), new)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        lines
    }

    /// Writes the snapshot atomically unless its content is unchanged; refuses a change that looks
    /// like a provider or network fault unless forced.
    pub(crate) fn write(self) -> Result<Written, FetchError> {
        let unchanged = self
            .previous
            .as_ref()
            .is_some_and(|p| same_content(p, &self.new))
            && !self.with_timestamp;
        if unchanged {
            return Ok(Written::Unchanged(self.path));
        }
        let reasons = safety_violations(self.previous.as_ref(), &self.new, self.max_drop_percent);
        if !reasons.is_empty() {
            if !self.force {
                return Err(FetchError::Refused {
                    path: self.path,
                    reasons,
                });
            }
            for r in &reasons {
                tracing::warn!("--force: writing although {r}");
            }
        }
        write_atomic(&self.path, &self.text)?;
        Ok(Written::Wrote(self.path))
    }
}
