//! The Cosmos chain-registry: as input, the `peers.persistent_peers` of each consumer's
//! `chain.json` (a local file or a URL, read at `fetch` time), matched to inventory validators by
//! `provider` name, and with `chain_registry.seeds` its `peers.seeds`, every entry validated (the
//! upstream files hold malformed ones: they are skipped with a warning naming them); as output,
//! an operator's public sentries on one consumer in the `peers` shape of
//! cosmos/chain-registry's `chain.json` (`{"persistent_peers": [{id, address, provider}]}`), ready to
//! propose upstream. A validator node is never listed, not even a validator's one public node:
//! chain-registry lists are dialled by strangers, which is what sentries are for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RegistryError, Timing};
use crate::cosmos::fetch::http::{Client, ClientConfig, RetryPolicy};
use crate::cosmos::inventory::registry::ChainSource;
use crate::cosmos::inventory::roles::VALIDATOR_NODE;
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{ConsumerPlan, Role};
use crate::cosmos::state::ProviderState;
use crate::cosmos::state::registry::{ChainRegistryPeer, ChainRegistrySeed, ChainRegistrySource};
use crate::input::address::Endpoint;
use crate::input::printable::printable;

/// The file's name in `<validator>/<consumer>/`.
pub(crate) const FILE: &str = "chain-registry-peers.json";

#[derive(Serialize)]
struct Peers<'a> {
    persistent_peers: Vec<Peer<'a>>,
}

#[derive(Serialize)]
struct Peer<'a> {
    id: &'a str,
    address: String,
    provider: &'a str,
}

/// The sentries of `validator` on `cp`, or `None` when it has none.
pub(crate) fn peers_json(cp: &ConsumerPlan, validator: &str) -> Option<String> {
    let mut sentries: Vec<_> = cp
        .members
        .iter()
        .filter(|m| m.validator == validator && matches!(m.role, Role::Sentry(_)))
        .collect();
    if sentries.is_empty() {
        return None;
    }
    sentries.sort_by(|a, b| a.node_name().cmp(b.node_name()));
    let peers = Peers {
        persistent_peers: sentries
            .iter()
            .map(|m| Peer {
                id: m.node_id.as_str(),
                address: m.endpoint.to_string(),
                provider: &m.moniker,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&peers).expect("strings always serialise");
    text.push('\n');
    Some(text)
}

/// chain.json files are tens of kB; anything near this is not a chain.json.
pub(crate) const CHAIN_JSON_LIMIT: u64 = 4 << 20;

/// Only `peers` matters here; chain.json's many other fields are chain-registry's business.
#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    peers: RawPeers,
}

#[derive(Deserialize, Default)]
struct RawPeers {
    #[serde(default)]
    seeds: Vec<serde_json::Value>,
    #[serde(default)]
    persistent_peers: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    id: String,
    address: String,
    provider: Option<String>,
}

/// Reads every `chain_registry.sources` chain.json (a file, or a URL fetched with the provider
/// client's time limits and retries) for the consumers in `state` into snapshot entries.
pub(crate) fn read(
    inventory: &Inventory,
    state: &ProviderState,
    timing: Timing,
) -> Result<(Vec<ChainRegistrySource>, Vec<String>), RegistryError> {
    let Some(settings) = &inventory.chain_registry else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (key, source) in &settings.sources {
        let Some(consumer) = state
            .consumers
            .iter()
            .find(|c| &c.consumer_id == key || &c.chain_id == key)
        else {
            warnings.push(format!(
                "{}: chain_registry.sources.{key} matches no consumer id or chain id in the provider state",
                settings.at
            ));
            continue;
        };
        let text = read_source(source, timing)?;
        let name = source.to_string();
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let raw: RawChain = serde_json::from_str(&text).map_err(|e| RegistryError::ChainJson {
            file: name.clone(),
            message: e.to_string(),
        })?;
        let peers = persistent_peers(inventory, &settings.providers, &name, &raw, &mut warnings);
        let seeds = settings
            .seeds
            .then(|| seeds(&name, &raw.peers.seeds, &mut warnings));
        out.push(ChainRegistrySource {
            consumer_id: consumer.consumer_id.clone(),
            source: name,
            sha256,
            peers,
            seeds,
        });
    }
    Ok((out, warnings))
}

fn read_source(source: &ChainSource, timing: Timing) -> Result<String, RegistryError> {
    match source {
        ChainSource::File(path) => {
            crate::input::file::read_text(path, CHAIN_JSON_LIMIT).map_err(|e| {
                RegistryError::ChainJson {
                    file: source.to_string(),
                    message: e.to_string(),
                }
            })
        }
        ChainSource::Url(url) => {
            let client = Client::new(ClientConfig {
                base_url: url.clone(),
                auth: None,
                connect_timeout: timing.connect_timeout,
                timeout: timing.timeout,
                retry: RetryPolicy {
                    retries: timing.retries,
                    backoff: timing.backoff(),
                },
            })?
            .with_body_limit(CHAIN_JSON_LIMIT);
            Ok(client.get_text("")?)
        }
    }
}

/// One entry of `peers.<list>[]` in chain-registry's shape, or why not.
fn shape(value: &serde_json::Value) -> Result<RawPeer, String> {
    // serde quotes the entry's own field names: escaped, like all registry text.
    serde_json::from_value(value.clone()).map_err(|e| {
        format!(
            "not {{id, address, provider}}: {}",
            printable(&e.to_string())
        )
    })
}

/// Its node ID and address, validated like an inventory value.
fn node(peer: &RawPeer) -> Result<(NodeId, Endpoint), String> {
    let id = NodeId::parse(&peer.id).map_err(|e| printable(&e.to_string()))?;
    let address = Endpoint::parse(&peer.address).map_err(|e| printable(&e.to_string()))?;
    Ok((id, address))
}

/// The valid `peers.seeds[]` entries; a malformed one is skipped with a warning naming it. Seeds
/// are anybody's (no provider mapping): CometBFT only asks them for addresses.
fn seeds(
    name: &str,
    raw: &[serde_json::Value],
    warnings: &mut Vec<String>,
) -> Vec<ChainRegistrySeed> {
    let mut out = Vec::new();
    for (i, value) in raw.iter().enumerate() {
        match shape(value).and_then(|peer| node(&peer)) {
            Ok((node_id, address)) => out.push(ChainRegistrySeed { node_id, address }),
            Err(e) => warnings.push(format!("{name}: peers.seeds[{i}]: skipped: {e}")),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn persistent_peers(
    inventory: &Inventory,
    mapping: &BTreeMap<String, String>,
    name: &str,
    raw: &RawChain,
    warnings: &mut Vec<String>,
) -> Vec<ChainRegistryPeer> {
    let mut by_validator: BTreeMap<&str, Vec<(NodeId, Endpoint)>> = BTreeMap::new();
    for (i, value) in raw.peers.persistent_peers.iter().enumerate() {
        let at = format!("{name}: peers.persistent_peers[{i}]");
        let peer = match shape(value) {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!("{at}: skipped: {e}"));
                continue;
            }
        };
        let provider = peer.provider.as_deref().unwrap_or_default();
        let Some(validator) = mapping.get(provider) else {
            continue;
        };
        let sourced = inventory
            .validators
            .get(validator)
            .is_some_and(|v| matches!(v.endpoint, EndpointSource::ChainRegistry(_)));
        if !sourced {
            warnings.push(format!(
                "{at}: provider {:?} maps to {validator}, which is not an `endpoint_source: chain-registry` validator of the inventory; skipped",
                printable(provider)
            ));
            continue;
        }
        match node(&peer) {
            Ok(n) => by_validator.entry(validator.as_str()).or_default().push(n),
            Err(e) => warnings.push(format!(
                "{at} (provider {:?}): skipped: {e}",
                printable(provider)
            )),
        }
    }
    let mut peers = Vec::new();
    for (validator, mut nodes) in by_validator {
        nodes.sort();
        nodes.dedup();
        let single = nodes.len() == 1;
        for (i, (node_id, address)) in nodes.into_iter().enumerate() {
            peers.push(ChainRegistryPeer {
                validator: validator.to_owned(),
                node: if single {
                    VALIDATOR_NODE.to_owned()
                } else {
                    format!("node-{}", i + 1)
                },
                node_id,
                address,
            });
        }
    }
    peers
}
