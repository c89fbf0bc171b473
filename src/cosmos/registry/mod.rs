//! Option C endpoint registries. The etcd registry: `fetch` reads it in one consistent range read
//! into the snapshot ([`read`]), `publish` writes one validator's own endpoints in one
//! compare-and-swap transaction ([`publish`]). The chain-registry `peers` output lives in
//! [`chain_registry`].

pub(crate) mod chain_registry;
pub(crate) mod etcd;
pub(crate) mod layout;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use self::etcd::{Compare, Etcd, EtcdConfig, EtcdError, Op};
use crate::cosmos::inventory::registry::{Password, RegistrySettings};
use crate::cosmos::inventory::roles::{SentryEndpoint, VALIDATOR_NODE};
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{Plan, Role};
use crate::cosmos::state::ProviderState;
use crate::cosmos::state::registry::{RegistryEntry, RegistryState};
use crate::input::address::Endpoint;
use crate::input::printable::printable;
use crate::retry::Backoff;

/// `publish` re-reads and retries a transaction a concurrent writer invalidated this many times.
pub(crate) const CAS_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error("no `registry:` section in the inventory: it names the etcd endpoints and key prefix")]
    NotConfigured,
    #[error("registry key {key}: {message}")]
    Malformed { key: String, message: String },
    #[error("--self {name}: {message}")]
    SelfValidator { name: String, message: String },
    #[error(
        "publish {prefix}: the registry kept changing between read and write ({attempts} attempts); another publisher for the same validator is running"
    )]
    Conflict { prefix: String, attempts: u32 },
    #[error("{file}: chain-registry chain.json: {message}")]
    ChainJson { file: String, message: String },
    /// The error names the URL.
    #[error("chain-registry chain.json: {0}")]
    ChainJsonFetch(#[from] crate::cosmos::fetch::http::RestError),
    #[error("refusing to touch {key}: it is not below {own}, the publishing validator's own keys")]
    NotOwnKey { key: String, own: String },
}

/// Timeouts and retries, as `fetch` sets them for the provider.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
}

impl Timing {
    /// The shared backoff, as the provider client waits.
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.retry_backoff,
            max: self.retry_backoff.saturating_mul(32),
        }
    }
}

/// The sentries of `v` whose endpoints come from the registry (`endpoint_source: registry` on
/// the sentry).
pub(crate) fn registry_sentries(v: &crate::cosmos::inventory::Validator) -> BTreeSet<&str> {
    match &v.endpoint {
        EndpointSource::Sentries { sentries, .. } => sentries
            .iter()
            .filter(|s| matches!(s.endpoint, SentryEndpoint::Registry(_)))
            .map(|s| s.name.as_str())
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// Whether `fetch` reads the etcd registry: some validator, or some sentry, is registry-sourced.
pub(crate) fn read_by(inventory: &Inventory) -> bool {
    inventory.validators.values().any(|v| {
        matches!(v.endpoint, EndpointSource::Registry(_)) || !registry_sentries(v).is_empty()
    })
}

pub(crate) fn settings(inventory: &Inventory) -> Result<&RegistrySettings, RegistryError> {
    inventory
        .registry
        .as_ref()
        .ok_or(RegistryError::NotConfigured)
}

/// A client for the inventory's registry; the password is read here and lives only in the client.
pub(crate) fn connect(settings: &RegistrySettings, timing: Timing) -> Result<Etcd, RegistryError> {
    let credentials = match (&settings.username, &settings.password) {
        (Some(user), Some(password)) => Some((user.clone(), read_password(password)?)),
        _ => None,
    };
    Ok(Etcd::connect(&EtcdConfig {
        endpoints: settings.endpoints.clone(),
        ca_file: settings.ca_file.clone(),
        client_cert: settings.client_cert.clone(),
        credentials,
        connect_timeout: timing.connect_timeout,
        timeout: timing.timeout,
        retries: timing.retries,
        backoff: timing.backoff(),
    })?)
}

fn read_password(password: &Password) -> Result<String, RegistryError> {
    let fail = |m: String| RegistryError::Etcd(EtcdError::Password(m));
    let value = match password {
        Password::Env(name) => std::env::var(name).map_err(|_| {
            fail(format!(
                "environment variable {name} is not set (or not UTF-8)"
            ))
        })?,
        Password::File(path) => crate::input::file::read_text(path, 4096)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
    };
    if value.is_empty() {
        return Err(fail("the password is empty".to_owned()));
    }
    Ok(value)
}

/// What `fetch` took from the registry, and what it noticed.
pub(crate) struct Read {
    pub(crate) state: RegistryState,
    pub(crate) warnings: Vec<String>,
}

/// Reads every entry below `<prefix>/<provider chain id>/` in one linearizable range read (one
/// revision), keeps those of registry-sourced inventory validators on consumers the snapshot
/// knows, and validates each value. Nothing is kept when any value is malformed.
pub(crate) fn read(
    inventory: &Inventory,
    settings: &RegistrySettings,
    state: &ProviderState,
    etcd: &Etcd,
    at_revision: Option<u64>,
    now: u64,
) -> Result<Read, RegistryError> {
    let prefix = layout::chain_prefix(&settings.prefix, &state.provider.chain_id);
    let range = etcd.range_prefix(&prefix, at_revision)?;
    // Per operator: the validator, and which of its nodes come from the registry (`None`: all).
    let by_operator: BTreeMap<&str, (&str, Option<BTreeSet<&str>>)> = inventory
        .validators
        .values()
        .filter_map(|v| {
            let op = v.operator_address.as_deref()?;
            let nodes = match v.endpoint {
                EndpointSource::Registry(_) => None,
                _ => Some(registry_sentries(v)),
            };
            Some((op, (v.name.as_str(), nodes)))
        })
        .collect();
    let consumers: BTreeSet<&str> = state
        .consumers
        .iter()
        .map(|c| c.consumer_id.as_str())
        .collect();
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut unknown = BTreeSet::new();
    for kv in &range.kvs {
        let malformed = |message: String| RegistryError::Malformed {
            key: printable(&kv.key),
            message,
        };
        let key = layout::parse_key(&prefix, &kv.key).map_err(malformed)?;
        let value = layout::parse_value(&kv.value).map_err(malformed)?;
        let Some((name, nodes)) = by_operator.get(key.operator_address.as_str()) else {
            unknown.insert(key.operator_address.clone());
            continue;
        };
        let used = nodes.as_ref().is_none_or(|n| n.contains(key.node.as_str()));
        if !used || !consumers.contains(key.consumer_id.as_str()) {
            tracing::debug!("registry key {}: not used by this inventory", kv.key);
            continue;
        }
        if let Some(max_age) = settings.max_age
            && now.saturating_sub(value.updated) > max_age.as_secs()
        {
            warnings.push(format!(
                "registry key {}: stale: last published {}, longer ago than registry.max_age",
                kv.key,
                crate::cosmos::date::rfc3339(
                    std::time::UNIX_EPOCH + Duration::from_secs(value.updated)
                )
            ));
        }
        entries.push(RegistryEntry {
            validator: (*name).to_owned(),
            operator_address: key.operator_address,
            consumer_id: key.consumer_id,
            node: key.node,
            node_id: value.node_id,
            address: value.address,
            revision: kv.mod_revision,
        });
    }
    for op in unknown {
        warnings.push(format!(
            "the registry lists {prefix}{op}/, a validator the inventory does not describe; its entries are not used"
        ));
    }
    let mut state = RegistryState {
        revision: range.revision,
        prefix,
        entries,
    };
    state.normalise();
    Ok(Read { state, warnings })
}

/// One node `publish` wants in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
}

/// The publishing validator's key prefix, what its keys should hold, and which consumers' keys a
/// publish may touch (`None`: all).
pub(crate) struct Own {
    pub(crate) prefix: String,
    pub(crate) desired: BTreeMap<String, Desired>,
    pub(crate) scope: Option<BTreeSet<String>>,
    /// Registry-sourced sentries: their keys are someone else's to write, so publish leaves them.
    pub(crate) leave: BTreeSet<String>,
}

/// The publishing validator `name` and its operator address, refused when its endpoints are read
/// from a registry rather than described: checked before planning, so the refusal is what an
/// operator sees whatever the snapshot holds.
pub(crate) fn own_validator<'a>(
    inventory: &'a Inventory,
    name: &str,
) -> Result<(&'a crate::cosmos::inventory::Validator, &'a str), RegistryError> {
    let fail = |message: String| RegistryError::SelfValidator {
        name: name.to_owned(),
        message,
    };
    let v = inventory.validators.get(name).ok_or_else(|| {
        fail(format!(
            "no such validator in the inventory; it describes: {}",
            inventory
                .validators
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let read_from = match v.endpoint {
        EndpointSource::Registry(_) => Some("registry"),
        EndpointSource::ChainRegistry(_) => Some("chain-registry"),
        _ => None,
    };
    if let Some(source) = read_from {
        return Err(fail(format!(
            "has `endpoint_source: {source}`: publish writes what the inventory's templates produce, so the publishing validator's own endpoints must be described, not read"
        )));
    }
    let operator = v
        .operator_address
        .as_deref()
        .ok_or_else(|| fail("has no operator_address, which names its registry keys".to_owned()))?;
    Ok((v, operator))
}

/// The publishing validator's keys and what they should hold: its public nodes (its one public
/// node, or its sentries; never a validator node behind sentries) on every consumer it serves.
pub(crate) fn desired(
    plan: &Plan,
    inventory: &Inventory,
    settings: &RegistrySettings,
    chain_id: &str,
    name: &str,
    consumers: &[String],
) -> Result<Own, RegistryError> {
    let fail = |message: String| RegistryError::SelfValidator {
        name: name.to_owned(),
        message,
    };
    let (v, operator) = own_validator(inventory, name)?;
    let leave: BTreeSet<String> = registry_sentries(v)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let own = layout::validator_prefix(&settings.prefix, chain_id, operator);
    // Consumer ids or chain ids, as `fetch --consumer` takes them.
    let scope: Option<BTreeSet<String>> = if consumers.is_empty() {
        None
    } else {
        let mut ids = BTreeSet::new();
        for c in consumers {
            let cp = plan
                .consumers
                .iter()
                .find(|cp| &cp.consumer_id == c || &cp.chain_id == c)
                .ok_or_else(|| {
                    fail(format!(
                        "--consumer {c}: no active consumer with this id or chain id in the snapshot"
                    ))
                })?;
            ids.insert(cp.consumer_id.clone());
        }
        Some(ids)
    };
    let mut out = BTreeMap::new();
    for cp in &plan.consumers {
        if scope.as_ref().is_some_and(|s| !s.contains(&cp.consumer_id)) {
            continue;
        }
        for m in cp.members.iter().filter(|m| m.validator == name) {
            let node = match &m.role {
                Role::Public => VALIDATOR_NODE,
                Role::Sentry(s) if leave.contains(s) => continue,
                Role::Sentry(s) => s.as_str(),
                Role::Validator => continue,
            };
            out.insert(
                layout::key(&own, &cp.consumer_id, node),
                Desired {
                    node_id: m.node_id.clone(),
                    address: m.endpoint.clone(),
                },
            );
        }
    }
    if out.is_empty() && !leave.is_empty() {
        return Err(fail(
            "every sentry serving its consumers has `endpoint_source: registry`: their entries are written by whoever runs them, so there is nothing of its own to publish".to_owned(),
        ));
    }
    if out.is_empty() {
        return Err(fail(
            "serves no active consumer in the snapshot (is it in a selected set?), so there is nothing to publish".to_owned(),
        ));
    }
    Ok(Own {
        prefix: own,
        desired: out,
        scope,
        leave,
    })
}

/// One key `publish` changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Add {
        key: String,
        value: String,
    },
    Replace {
        key: String,
        old: String,
        value: String,
    },
    /// Same content, written again to renew its lease.
    Renew {
        key: String,
    },
    Remove {
        key: String,
        old: String,
    },
}

impl std::fmt::Display for Change {
    /// Registry text came from the network: shown escaped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Add { key, value } => write!(f, "+ {key} {value}"),
            Change::Replace { key, old, value } => {
                write!(f, "~ {key} {} -> {value}", printable(old))
            }
            Change::Renew { key } => write!(f, "= {key} (lease renewed)"),
            Change::Remove { key, old } => {
                write!(f, "- {} {}", printable(key), printable(old))
            }
        }
    }
}

/// What a publish did, or (dry run) would do.
pub(crate) struct Published {
    pub(crate) prefix: String,
    /// The revision the changes were computed against.
    pub(crate) read_revision: u64,
    pub(crate) changes: Vec<Change>,
    pub(crate) attempts: u32,
    /// Existing keys of registry-sourced sentries, which publish leaves as they are.
    pub(crate) left: Vec<String>,
}

pub(crate) struct PublishRequest<'a> {
    pub(crate) own: &'a str,
    pub(crate) desired: &'a BTreeMap<String, Desired>,
    /// Only keys of these consumers are added or removed; `None`: every consumer.
    pub(crate) scope: Option<&'a BTreeSet<String>>,
    /// Nodes whose keys are never removed (registry-sourced sentries).
    pub(crate) leave: &'a BTreeSet<String>,
    pub(crate) lease_ttl: Option<Duration>,
    pub(crate) dry_run: bool,
    /// `updated` of the values written.
    pub(crate) updated: &'a str,
    pub(crate) backoff: Backoff,
}

/// Reads the validator's own keys, computes the changes and applies them in one transaction that
/// holds only if no key below `own` changed since the read; a concurrent writer makes it read
/// again and retry, at most [`CAS_ATTEMPTS`] times.
pub(crate) fn publish(etcd: &Etcd, req: &PublishRequest<'_>) -> Result<Published, RegistryError> {
    for attempt in 1..=CAS_ATTEMPTS {
        let range = etcd.range_prefix(req.own, None)?;
        let changes = changes(req, &range.kvs);
        let left: Vec<String> = range
            .kvs
            .iter()
            .filter(|kv| req.leave.contains(node_of(req.own, &kv.key)))
            .map(|kv| printable(&kv.key))
            .collect();
        if req.dry_run || changes.is_empty() {
            return Ok(Published {
                prefix: req.own.to_owned(),
                read_revision: range.revision,
                changes,
                attempts: attempt,
                left,
            });
        }
        crate::fault::pause("publish-read");
        let lease = match req.lease_ttl {
            Some(ttl) => Some(etcd.grant_lease(ttl)?),
            None => None,
        };
        let ops = changes
            .iter()
            .map(|c| match c {
                Change::Add { key, value } | Change::Replace { key, value, .. } => Op::Put {
                    key: key.clone(),
                    value: value.clone(),
                    lease,
                },
                Change::Renew { key } => Op::Put {
                    key: key.clone(),
                    value: range
                        .kvs
                        .iter()
                        .find(|kv| &kv.key == key)
                        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
                        .unwrap_or_default(),
                    lease,
                },
                Change::Remove { key, .. } => Op::Delete { key: key.clone() },
            })
            .collect::<Vec<_>>();
        for op in &ops {
            if !op.key().starts_with(req.own) {
                return Err(RegistryError::NotOwnKey {
                    key: printable(op.key()),
                    own: req.own.to_owned(),
                });
            }
        }
        let mut compares = vec![Compare::RangeModifiedBefore {
            prefix: req.own.to_owned(),
            revision: range.revision + 1,
        }];
        // A key deleted since the read leaves no mod_revision to compare in the range.
        compares.extend(range.kvs.iter().map(|kv| Compare::ModRevision {
            key: kv.key.clone(),
            revision: kv.mod_revision,
        }));
        if etcd.txn(&compares, &ops)? {
            return Ok(Published {
                prefix: req.own.to_owned(),
                read_revision: range.revision,
                changes,
                attempts: attempt,
                left,
            });
        }
        if attempt < CAS_ATTEMPTS {
            let wait = req.backoff.delay(attempt - 1);
            tracing::warn!(
                "publish {}: the registry changed since revision {} (another writer); reading again, retry {attempt}/{} in {} ms",
                req.own,
                range.revision,
                CAS_ATTEMPTS - 1,
                wait.as_millis()
            );
            std::thread::sleep(wait);
        }
    }
    Err(RegistryError::Conflict {
        prefix: req.own.to_owned(),
        attempts: CAS_ATTEMPTS,
    })
}

/// The `<node>` segment of a key `<own><consumer>/<node>`.
fn node_of<'a>(own: &str, key: &'a str) -> &'a str {
    key.strip_prefix(own)
        .and_then(|rest| rest.split('/').nth(1))
        .unwrap_or_default()
}

fn changes(req: &PublishRequest<'_>, existing: &[etcd::Kv]) -> Vec<Change> {
    let mut out = Vec::new();
    let current: BTreeMap<&str, &etcd::Kv> =
        existing.iter().map(|kv| (kv.key.as_str(), kv)).collect();
    for (key, want) in req.desired {
        let value = layout::encode_value(&want.node_id, &want.address, req.updated);
        match current.get(key.as_str()) {
            None => out.push(Change::Add {
                key: key.clone(),
                value,
            }),
            Some(kv) => {
                let same = layout::parse_value(&kv.value)
                    .is_ok_and(|v| v.node_id == want.node_id && v.address == want.address);
                if !same {
                    out.push(Change::Replace {
                        key: key.clone(),
                        old: String::from_utf8_lossy(&kv.value).into_owned(),
                        value,
                    });
                } else if req.lease_ttl.is_some() {
                    out.push(Change::Renew { key: key.clone() });
                }
            }
        }
    }
    for kv in existing {
        if req.desired.contains_key(&kv.key) {
            continue;
        }
        let consumer = kv
            .key
            .strip_prefix(req.own)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        if req.leave.contains(node_of(req.own, &kv.key)) {
            continue;
        }
        if req.scope.is_none_or(|s| s.contains(consumer)) {
            out.push(Change::Remove {
                key: kv.key.clone(),
                old: String::from_utf8_lossy(&kv.value).into_owned(),
            });
        }
    }
    out
}
