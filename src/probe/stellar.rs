//! An own stellar-core node's admin `info`: state, peer counts and the age of the last ledger.

use std::time::Duration;

use serde::Deserialize;

use super::rpc::{agent, get_json};
use super::scope::AdminNode;

/// The state stellar-core reports when it is in sync with the network.
pub(crate) const SYNCED: &str = "Synced!";

#[derive(Clone, Debug)]
pub(crate) struct InfoCheck {
    pub(crate) node: AdminNode,
    pub(crate) result: Result<Info, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Info {
    pub(crate) state: String,
    pub(crate) authenticated_peers: u64,
    pub(crate) pending_peers: u64,
    pub(crate) ledger: u64,
    pub(crate) ledger_age: u64,
}

impl InfoCheck {
    pub(crate) fn problems(&self) -> Vec<String> {
        match &self.result {
            Err(e) => vec![e.clone()],
            Ok(i) if i.state != SYNCED => vec![format!("state {:?}, not {SYNCED:?}", i.state)],
            Ok(_) => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    info: RawInfo,
}

#[derive(Deserialize)]
struct RawInfo {
    state: String,
    peers: RawPeers,
    ledger: RawLedger,
}

#[derive(Deserialize)]
struct RawPeers {
    authenticated_count: u64,
    pending_count: u64,
}

#[derive(Deserialize)]
struct RawLedger {
    num: u64,
    age: u64,
}

pub(crate) fn check(nodes: &[AdminNode], timeout: Duration) -> Vec<InfoCheck> {
    let agent = agent(timeout);
    nodes
        .iter()
        .map(|node| InfoCheck {
            node: node.clone(),
            result: get_json::<Raw>(&agent, &format!("http://{}/info", node.address)).map(|r| {
                Info {
                    state: r.info.state,
                    authenticated_peers: r.info.peers.authenticated_count,
                    pending_peers: r.info.peers.pending_count,
                    ledger: r.info.ledger.num,
                    ledger_age: r.info.ledger.age,
                }
            }),
        })
        .collect()
}
