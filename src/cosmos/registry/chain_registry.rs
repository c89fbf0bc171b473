//! The chain-registry output: an operator's public sentries on one consumer in the `peers` shape of
//! cosmos/chain-registry's `chain.json` (`{"persistent_peers": [{id, address, provider}]}`), ready to
//! propose upstream. A validator node is never listed, not even a validator's one public node:
//! chain-registry lists are dialled by strangers, which is what sentries are for.

use serde::Serialize;

use crate::cosmos::peers::{ConsumerPlan, Role};

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
