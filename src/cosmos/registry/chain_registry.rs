//! The Cosmos chain-registry: as input, the `peers.persistent_peers` of each consumer's
//! `chain.json`, matched to inventory validators by `provider` name, every entry validated (the
//! upstream files hold malformed ones: they are skipped with a warning naming them); as output,
//! an operator's public sentries on one consumer in the `peers` shape of
//! cosmos/chain-registry's `chain.json` (`{"persistent_peers": [{id, address, provider}]}`), ready to
//! propose upstream. A validator node is never listed, not even a validator's one public node:
//! chain-registry lists are dialled by strangers, which is what sentries are for.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RegistryError;
use crate::cosmos::inventory::roles::VALIDATOR_NODE;
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{ConsumerPlan, Role};
use crate::cosmos::state::ProviderState;
use crate::cosmos::state::registry::{ChainRegistryPeer, ChainRegistrySource};
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

/// Only `peers` matters here; chain.json's many other fields are chain-registry's business.
#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    peers: RawPeers,
}

#[derive(Deserialize, Default)]
struct RawPeers {
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

/// Reads every `chain_registry.sources` file for the consumers in `state` into snapshot entries.
pub(crate) fn read(
    inventory: &Inventory,
    state: &ProviderState,
) -> Result<(Vec<ChainRegistrySource>, Vec<String>), RegistryError> {
    let Some(settings) = &inventory.chain_registry else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (key, path) in &settings.sources {
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
        let (source, peers) = read_file(inventory, &settings.providers, path, &mut warnings)?;
        out.push(ChainRegistrySource {
            consumer_id: consumer.consumer_id.clone(),
            source: path.display().to_string(),
            sha256: source,
            peers,
        });
    }
    Ok((out, warnings))
}

fn read_file(
    inventory: &Inventory,
    mapping: &BTreeMap<String, String>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(String, Vec<ChainRegistryPeer>), RegistryError> {
    let fail = |message: String| RegistryError::ChainJson {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::input::file::read_text(path, crate::input::file::STATE_LIMIT)
        .map_err(|e| fail(e.to_string()))?;
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    let raw: RawChain = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let mut by_validator: BTreeMap<&str, Vec<(NodeId, Endpoint)>> = BTreeMap::new();
    for (i, entry) in raw.peers.persistent_peers.iter().enumerate() {
        let at = format!("{}: peers.persistent_peers[{i}]", path.display());
        let peer: RawPeer = match serde_json::from_value(entry.clone()) {
            Ok(p) => p,
            Err(e) => {
                // serde quotes the entry's own field names: escaped, like all registry text.
                warnings.push(format!(
                    "{at}: skipped: not {{id, address, provider}}: {}",
                    printable(&e.to_string())
                ));
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
        let parsed = NodeId::parse(&peer.id)
            .map_err(|e| e.to_string())
            .and_then(|id| {
                Endpoint::parse(&peer.address)
                    .map(|a| (id, a))
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok(node) => by_validator
                .entry(validator.as_str())
                .or_default()
                .push(node),
            Err(e) => warnings.push(format!(
                "{at} (provider {:?}): skipped: {}",
                printable(provider),
                printable(&e)
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
    Ok((sha, peers))
}
