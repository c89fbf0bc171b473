//! The provider-state snapshot: the locked, reviewable JSON that `fetch` writes and `render` reads.

pub(crate) mod diff;
pub(crate) mod names;
pub(crate) mod registry;
pub(crate) mod valcons;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::address::{Endpoint, Host};

pub(crate) const FORMAT: &str = "peergen/provider-state/v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderState {
    pub(crate) format: String,
    pub(crate) provider: Provider,
    pub(crate) bonded_validators: Vec<BondedValidator>,
    pub(crate) consumers: Vec<Consumer>,
    /// Consumer endpoints resolved at fetch time (DNS SRV discovery), so `render` stays offline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) resolved_endpoints: Vec<ResolvedEndpoint>,
    /// Endpoints read from the etcd registry at fetch time, with the revision they were read at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) registry: Option<registry::RegistryState>,
    /// Peers read from chain-registry `chain.json` files at fetch time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) chain_registry: Vec<registry::ChainRegistrySource>,
    /// A/AAAA answers of planned peer host names, locked at fetch time when the inventory asks for
    /// an allowlist, so `render` writes addresses without asking DNS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) resolved_addresses: Vec<ResolvedAddress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provider {
    pub(crate) chain_id: String,
    pub(crate) height: u64,
    /// ICS API generation the snapshot was read from: `v6` (consumer-id keyed) or `legacy` (chain-id keyed).
    #[serde(default = "default_api")]
    pub(crate) ics_api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fetched_at: Option<String>,
}

fn default_api() -> String {
    "v6".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BondedValidator {
    pub(crate) operator_address: String,
    pub(crate) moniker: String,
    /// Bonded tokens, an arbitrary-precision decimal integer.
    pub(crate) tokens: String,
    /// base64 ed25519 consensus public key.
    pub(crate) consensus_pubkey: String,
    pub(crate) valcons: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    Registered,
    Initialized,
    Launched,
    Stopped,
    Deleted,
}

impl Phase {
    pub(crate) fn is_active(self) -> bool {
        matches!(
            self,
            Phase::Registered | Phase::Initialized | Phase::Launched
        )
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Registered => "registered",
            Phase::Initialized => "initialized",
            Phase::Launched => "launched",
            Phase::Stopped => "stopped",
            Phase::Deleted => "deleted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Consumer {
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// The consumer's directory and object name, given once by `fetch` and kept (`names.rs`);
    /// absent in snapshots written before names were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) phase: Phase,
    pub(crate) top_n: u32,
    /// The set the provider gives the consumer (`consumer_validators`), sorted by operator address.
    pub(crate) validators: Vec<ConsumerValidator>,
    /// Provider valcons addresses of opted-in validators (`opted_in_validators`), sorted.
    pub(crate) opted_in: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsumerValidator {
    pub(crate) operator_address: String,
    pub(crate) valcons: String,
    pub(crate) moniker: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolvedEndpoint {
    pub(crate) validator: String,
    pub(crate) consumer_id: String,
    /// The sentry this endpoint belongs to; absent for a validator's only public node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) node: Option<String>,
    /// The DNS name that was queried.
    pub(crate) query: String,
    /// The SRV target, validated like every peer host when the snapshot is read.
    pub(crate) host: Host,
    pub(crate) port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolvedAddress {
    /// A host name some planned peer endpoint names (never an IP literal).
    pub(crate) host: Host,
    /// Its A and AAAA answers, sorted, at least one.
    pub(crate) addresses: Vec<IpAddr>,
}

impl ResolvedEndpoint {
    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint {
            host: self.host.clone(),
            port: self.port,
        }
    }
}

/// serde_json's message without its position suffix, said in the snapshot's terms: numbers too
/// large for their field are not "floating point", and a file that is not JSON at all (a YAML
/// inventory passed as `--state`) is named as such.
fn json_message(text: &str, e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or_default();
    if let Some(rest) = message.strip_prefix("invalid type: floating point `")
        && let Some((number, expected)) = rest.split_once("`, expected ")
    {
        let range = match expected {
            "u8" => "0 to 255",
            "u16" => "0 to 65535",
            "u32" => "0 to 4294967295",
            _ => "the field's range",
        };
        return format!("{number} is not a whole number from {range}");
    }
    let first = text.trim_start().chars().next();
    if e.line() == 1 && e.column() <= 1 || first.is_some_and(|c| c != '{') {
        return format!(
            "{message}: a provider-state snapshot is a JSON object written by `peergen fetch` (is this an inventory or another file?)"
        );
    }
    message.to_owned()
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("{path}: cannot read provider-state snapshot: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// Orders consumer ids numerically when both are numbers ("2" < "10"), else as text.
pub(crate) fn consumer_id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Chain ids become path components and Kubernetes names, so the character set is closed.
pub(crate) fn validate_chain_id(chain_id: &str) -> Result<(), String> {
    let ok = !chain_id.is_empty()
        && chain_id.len() <= 50
        && chain_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && chain_id.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{chain_id:?} is not a supported chain id: 1-50 characters of letters, digits, '-', '_', '.', starting with a letter or digit"
        ))
    }
}

/// A bonded validator's valcons address is derived from its consensus key; one that is not was
/// edited by hand or fetched from a broken provider, and would join the wrong validators.
fn check_valcons(v: &BondedValidator) -> Result<(), String> {
    let prefix = bech32::decode(&v.valcons)
        .ok()
        .and_then(|(hrp, _)| hrp.as_str().strip_suffix("valcons").map(str::to_owned))
        .ok_or_else(|| format!("{:?} is not a bech32 `…valcons1…` address", v.valcons))?;
    let derived =
        valcons::from_ed25519_base64(&prefix, &v.consensus_pubkey).map_err(|e| e.to_string())?;
    if derived == v.valcons {
        Ok(())
    } else {
        Err(format!(
            "{} does not belong to consensus_pubkey {:?}, which gives {derived}",
            v.valcons, v.consensus_pubkey
        ))
    }
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

impl ProviderState {
    pub(crate) fn load(path: &Path) -> Result<ProviderState, StateError> {
        let text = crate::input::file::read_text(path, crate::input::file::STATE_LIMIT).map_err(
            |source| StateError::Read {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Self::from_json(path, &text)
    }

    pub(crate) fn from_json(path: &Path, text: &str) -> Result<ProviderState, StateError> {
        // A UTF-8 byte-order mark is accepted, as the YAML inventories accept it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let state: ProviderState = serde_json::from_str(text).map_err(|e| StateError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: json_message(text, &e),
        })?;
        state.validate(path)?;
        Ok(state)
    }

    fn validate(&self, path: &Path) -> Result<(), StateError> {
        let invalid = |field: String, message: String| StateError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        if self.format != FORMAT {
            return Err(invalid(
                "format".into(),
                format!("is {:?}; this peergen reads {FORMAT:?}", self.format),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, v) in self.bonded_validators.iter().enumerate() {
            let field = format!("bonded_validators[{i}]");
            if !seen.insert(&v.operator_address) {
                return Err(invalid(
                    format!("{field}.operator_address"),
                    format!("{:?} appears twice", v.operator_address),
                ));
            }
            crate::input::name::check_operator_address(&v.operator_address)
                .map_err(|m| invalid(format!("{field}.operator_address"), m))?;
            if !is_decimal(&v.tokens) {
                return Err(invalid(
                    format!("{field}.tokens"),
                    format!("{:?} is not a decimal integer", v.tokens),
                ));
            }
            check_valcons(v).map_err(|m| invalid(format!("{field}.valcons"), m))?;
        }
        let mut ids = BTreeSet::new();
        for (i, c) in self.consumers.iter().enumerate() {
            let field = format!("consumers[{i}]");
            if c.consumer_id.is_empty()
                || !c
                    .consumer_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(invalid(
                    format!("{field}.consumer_id"),
                    format!("{:?} is not a consumer id", c.consumer_id),
                ));
            }
            if let Some(name) = &c.name {
                names::check_name(c, name).map_err(|m| invalid(format!("{field}.name"), m))?;
                if let Some(other) = self
                    .consumers
                    .iter()
                    .find(|o| o.consumer_id != c.consumer_id && o.name.as_ref() == Some(name))
                {
                    return Err(invalid(
                        format!("{field}.name"),
                        format!(
                            "{name:?} is also the name of consumer {}; names are unique",
                            other.consumer_id
                        ),
                    ));
                }
            }
            if !ids.insert(&c.consumer_id) {
                return Err(invalid(
                    format!("{field}.consumer_id"),
                    format!(
                        "consumer {:?} appears twice; consumers are keyed by consumer id",
                        c.consumer_id
                    ),
                ));
            }
            validate_chain_id(&c.chain_id).map_err(|m| invalid(format!("{field}.chain_id"), m))?;
            let mut members = BTreeSet::new();
            for (j, v) in c.validators.iter().enumerate() {
                crate::input::name::check_operator_address(&v.operator_address)
                    .map_err(|m| invalid(format!("{field}.validators[{j}].operator_address"), m))?;
                if !members.insert(&v.operator_address) {
                    return Err(invalid(
                        format!("{field}.validators[{j}].operator_address"),
                        format!("{:?} appears twice", v.operator_address),
                    ));
                }
            }
        }
        for (i, r) in self.resolved_endpoints.iter().enumerate() {
            if r.port == 0 {
                return Err(invalid(
                    format!("resolved_endpoints[{i}].port"),
                    "0 is not a port; resolve again".to_owned(),
                ));
            }
        }
        if let Some(r) = &self.registry {
            r.validate()
                .map_err(|(field, m)| invalid(format!("registry.{field}"), m))?;
        }
        let mut hosts = BTreeSet::new();
        for (i, r) in self.resolved_addresses.iter().enumerate() {
            let field = format!("resolved_addresses[{i}]");
            if matches!(r.host, Host::Ip(_)) {
                return Err(invalid(
                    format!("{field}.host"),
                    format!("{} is an IP address; only host names are resolved", r.host),
                ));
            }
            if !hosts.insert(&r.host) {
                return Err(invalid(
                    format!("{field}.host"),
                    format!("{} appears twice", r.host),
                ));
            }
            if r.addresses.is_empty() {
                return Err(invalid(
                    format!("{field}.addresses"),
                    "is empty; a locked host name has at least one address (fetch again)"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Canonical form: every list sorted, so the same provider state always serialises to the same bytes.
    pub(crate) fn normalise(&mut self) {
        self.bonded_validators
            .sort_by(|a, b| a.operator_address.cmp(&b.operator_address));
        self.consumers
            .sort_by(|a, b| consumer_id_order(&a.consumer_id, &b.consumer_id));
        for c in &mut self.consumers {
            c.validators
                .sort_by(|a, b| a.operator_address.cmp(&b.operator_address));
            c.opted_in.sort();
            c.opted_in.dedup();
        }
        self.resolved_endpoints
            .sort_by(|a, b| (&a.validator, &a.consumer_id).cmp(&(&b.validator, &b.consumer_id)));
        if let Some(r) = &mut self.registry {
            r.normalise();
        }
        self.chain_registry
            .sort_by(|a, b| consumer_id_order(&a.consumer_id, &b.consumer_id));
        for c in &mut self.chain_registry {
            c.peers
                .sort_by(|a, b| (&a.validator, &a.node).cmp(&(&b.validator, &b.node)));
            if let Some(seeds) = &mut c.seeds {
                seeds.sort();
                seeds.dedup();
            }
        }
        self.resolved_addresses.sort_by(|a, b| a.host.cmp(&b.host));
        for r in &mut self.resolved_addresses {
            r.addresses.sort();
            r.addresses.dedup();
        }
    }

    pub(crate) fn to_json(&self) -> String {
        let mut canonical = self.clone();
        canonical.normalise();
        let mut text =
            serde_json::to_string_pretty(&canonical).expect("snapshot types always serialise");
        text.push('\n');
        text
    }

    pub(crate) fn consumer(&self, consumer_id: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.consumer_id == consumer_id)
    }
}
