//! An own CometBFT node's RPC: `/status` (node ID, network, height, catching up) and `/net_info`
//! (connected peers by direction), compared with the node's planned `[p2p]` peers.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use super::scope::{PlannedPeer, RpcNode};

/// Answers larger than this are refused: `/net_info` of a node with its full 50 peers is ~100 KiB.
const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// What a node's RPC said, or why it could not be asked.
#[derive(Clone, Debug)]
pub(crate) struct NodeCheck {
    pub(crate) node: RpcNode,
    pub(crate) result: Result<Facts, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) node_id: String,
    pub(crate) network: String,
    pub(crate) latest_height: u64,
    pub(crate) catching_up: bool,
    /// Planned peers not among the connected ones.
    pub(crate) missing: Vec<PlannedPeer>,
    /// Connected node IDs the plan does not list, sorted.
    pub(crate) unplanned: Vec<String>,
    pub(crate) inbound: usize,
    pub(crate) outbound: usize,
}

impl NodeCheck {
    /// Matches the plan: reachable, the planned node ID and network, every planned peer connected.
    pub(crate) fn is_ok(&self) -> bool {
        self.problems().is_empty()
    }

    /// What does not match, one line each.
    pub(crate) fn problems(&self) -> Vec<String> {
        let f = match &self.result {
            Err(e) => return vec![e.clone()],
            Ok(f) => f,
        };
        let mut out = Vec::new();
        if f.node_id != self.node.node_id.as_str() {
            out.push(format!(
                "node ID {} where the plan has {}",
                f.node_id, self.node.node_id
            ));
        }
        if f.network != self.node.network.name() {
            out.push(format!(
                "network {:?} where the plan has {:?}",
                f.network,
                self.node.network.name()
            ));
        }
        if !f.missing.is_empty() {
            out.push(format!(
                "planned but not connected: {}",
                f.missing
                    .iter()
                    .map(|p| p.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }
}

#[derive(Deserialize)]
struct Rpc<T> {
    result: T,
}

#[derive(Deserialize)]
struct Status {
    node_info: NodeInfo,
    sync_info: SyncInfo,
}

#[derive(Deserialize)]
struct NodeInfo {
    id: String,
    network: String,
}

#[derive(Deserialize)]
struct SyncInfo {
    latest_block_height: String,
    catching_up: bool,
}

#[derive(Deserialize)]
struct NetInfo {
    peers: Vec<NetPeer>,
}

#[derive(Deserialize)]
struct NetPeer {
    node_info: NodeInfo,
    is_outbound: bool,
}

pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("peergen/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        .max_redirects_will_error(false)
        // Own nodes sit on internal addresses: a proxy set for the internet must not see them.
        .proxy(None)
        .build()
        .new_agent()
}

/// GET `url`, parsed as `T`; errors name the URL (which holds no credentials) and what went wrong.
pub(super) fn get_json<T: serde::de::DeserializeOwned>(
    agent: &ureq::Agent,
    url: &str,
) -> Result<T, String> {
    let mut response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url}: HTTP {}", status.as_u16()));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{url}: not the documented shape: {e}"))
}

pub(crate) fn check(nodes: &[RpcNode], timeout: Duration) -> Vec<NodeCheck> {
    let agent = agent(timeout);
    nodes
        .iter()
        .map(|node| NodeCheck {
            node: node.clone(),
            result: facts(&agent, node),
        })
        .collect()
}

fn facts(agent: &ureq::Agent, node: &RpcNode) -> Result<Facts, String> {
    let base = format!("http://{}", node.address);
    let status: Rpc<Status> = get_json(agent, &format!("{base}/status"))?;
    let net: Rpc<NetInfo> = get_json(agent, &format!("{base}/net_info"))?;
    let latest_height = status
        .result
        .sync_info
        .latest_block_height
        .parse()
        .map_err(|_| {
            format!(
                "{base}/status: latest_block_height {:?} is not a number",
                status.result.sync_info.latest_block_height
            )
        })?;
    let connected: BTreeSet<String> = net
        .result
        .peers
        .iter()
        .map(|p| p.node_info.id.to_ascii_lowercase())
        .collect();
    let planned: BTreeSet<&str> = node.planned.iter().map(|p| p.node_id.as_str()).collect();
    Ok(Facts {
        node_id: status.result.node_info.id.to_ascii_lowercase(),
        network: status.result.node_info.network,
        latest_height,
        catching_up: status.result.sync_info.catching_up,
        missing: node
            .planned
            .iter()
            .filter(|p| !connected.contains(p.node_id.as_str()))
            .cloned()
            .collect(),
        unplanned: connected
            .iter()
            .filter(|id| !planned.contains(id.as_str()))
            .cloned()
            .collect(),
        inbound: net.result.peers.iter().filter(|p| !p.is_outbound).count(),
        outbound: net.result.peers.iter().filter(|p| p.is_outbound).count(),
    })
}
