//! What a probe run may touch: the planned peer addresses of the chosen validator and consumers,
//! and the RPC or admin endpoints of the operator's own nodes. Nothing else is ever dialled.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use super::{ProbeError, RpcAddressError};
use crate::cosmos::inventory::Inventory;
use crate::cosmos::inventory::endpoint::Vars;
use crate::cosmos::inventory::settings::DEFAULT_MAX_INBOUND;
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{ConsumerPlan, Member, Plan, Role};
use crate::input::address::{Endpoint, Host};
use crate::stellar::StellarInventory;

/// A host (IP literal or DNS name) and port, as planned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Address {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Address {
    fn of(endpoint: &Endpoint) -> Address {
        let host = match &endpoint.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        Address {
            host,
            port: endpoint.port,
        }
    }

    /// The literal IP, when the plan names one (no DNS lookup then).
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// Which network a target belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Network {
    Cosmos {
        consumer_id: String,
        chain_id: String,
    },
    Stellar,
}

impl Network {
    /// The chain id, or `stellar`.
    pub(crate) fn name(&self) -> &str {
        match self {
            Network::Cosmos { chain_id, .. } => chain_id,
            Network::Stellar => "stellar",
        }
    }

    pub(crate) fn consumer_id(&self) -> Option<&str> {
        match self {
            Network::Cosmos { consumer_id, .. } => Some(consumer_id),
            Network::Stellar => None,
        }
    }
}

/// One planned peer address to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) network: Network,
    /// The node's label: `validator`, or `validator/node` behind sentries.
    pub(crate) peer: String,
    pub(crate) address: Address,
    /// The node ID the plan expects; Stellar peers are checked for reachability only.
    pub(crate) node_id: Option<NodeId>,
}

/// A planned peer of an own node, as its RPC `/net_info` should show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedPeer {
    pub(crate) label: String,
    pub(crate) node_id: NodeId,
}

/// An own Cosmos node with an `rpc_template`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RpcNode {
    pub(crate) network: Network,
    pub(crate) node: String,
    pub(crate) address: Address,
    pub(crate) node_id: NodeId,
    /// Whom its `[p2p]` lists, sorted by node ID.
    pub(crate) planned: Vec<PlannedPeer>,
    pub(crate) max_inbound: u16,
}

/// An own stellar-core node with an admin endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AdminNode {
    pub(crate) node: String,
    pub(crate) address: Address,
}

#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub(crate) targets: Vec<Target>,
    pub(crate) rpc: Vec<RpcNode>,
    pub(crate) admin: Vec<AdminNode>,
}

/// The Cosmos scope: with `only`, whom that validator's nodes dial (its `[p2p]` lists); without,
/// every public node of the plan. `consumers` (consumer or chain ids) narrows both.
pub(crate) fn cosmos(
    plan: &Plan,
    inventory: &Inventory,
    only: Option<&str>,
    consumers: &[String],
) -> Result<Scope, ProbeError> {
    if let Some(name) = only
        && !inventory.validators.contains_key(name)
    {
        return Err(ProbeError::UnknownSelf {
            name: name.to_owned(),
            why: "no validator of that name",
            known: inventory
                .validators
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for key in consumers {
        if !plan
            .consumers
            .iter()
            .any(|cp| &cp.consumer_id == key || &cp.chain_id == key)
        {
            return Err(ProbeError::UnknownConsumer {
                key: key.clone(),
                known: plan
                    .consumers
                    .iter()
                    .map(|cp| format!("{} ({})", cp.consumer_id, cp.chain_id))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut scope = Scope::default();
    let chosen = plan.consumers.iter().filter(|cp| {
        consumers.is_empty()
            || consumers
                .iter()
                .any(|k| *k == cp.consumer_id || *k == cp.chain_id)
    });
    for cp in chosen {
        let network = Network::Cosmos {
            consumer_id: cp.consumer_id.clone(),
            chain_id: cp.chain_id.clone(),
        };
        let mut seen = BTreeSet::new();
        let mut add = |m: &Member, scope: &mut Scope| {
            let address = Address::of(&m.endpoint);
            if seen.insert((m.node_id.clone(), address.clone())) {
                scope.targets.push(Target {
                    network: network.clone(),
                    peer: m.label(),
                    address,
                    node_id: Some(m.node_id.clone()),
                });
            }
        };
        match only {
            None => cp.members.iter().for_each(|m| add(m, &mut scope)),
            Some(name) => {
                let own = cp.members.iter().chain(&cp.private);
                for m in own.filter(|m| m.validator == name) {
                    let mut listed = cp.links(m).listed;
                    listed.sort_by(|a, b| {
                        (&a.validator, a.node_name()).cmp(&(&b.validator, b.node_name()))
                    });
                    listed.into_iter().for_each(|l| add(l, &mut scope));
                }
            }
        }
        for v in inventory.validators.values() {
            if only.is_some_and(|o| o != v.name) {
                continue;
            }
            let Some(rpc) = &v.rpc else { continue };
            let Some(member) = own_node(cp, &v.name) else {
                continue;
            };
            let vars = Vars {
                chain_id: &cp.chain_id,
                consumer_id: &cp.consumer_id,
                validator: &v.name,
            };
            let endpoint = rpc.value.expand(&vars).map_err(|e| {
                ProbeError::RpcAddress(Box::new(RpcAddressError {
                    at: rpc.at.clone(),
                    validator: v.name.clone(),
                    template: rpc.value.as_str().to_owned(),
                    consumer_id: cp.consumer_id.clone(),
                    chain_id: cp.chain_id.clone(),
                    message: e.to_string(),
                }))
            })?;
            let view = plan.view(cp, member);
            let mut planned: Vec<PlannedPeer> = view
                .peers
                .iter()
                .map(|p| PlannedPeer {
                    label: p.label(),
                    node_id: p.node_id.clone(),
                })
                .collect();
            planned.sort_by(|a, b| a.node_id.cmp(&b.node_id));
            scope.rpc.push(RpcNode {
                network: network.clone(),
                node: member.label(),
                address: Address::of(&endpoint),
                node_id: member.node_id.clone(),
                planned,
                max_inbound: cp
                    .settings
                    .p2p
                    .max_num_inbound_peers
                    .as_ref()
                    .map_or(DEFAULT_MAX_INBOUND, |m| m.value),
            });
        }
    }
    Ok(scope)
}

/// The node an `rpc_template` addresses: the validator's node (behind sentries, or its only one).
fn own_node<'a>(cp: &'a ConsumerPlan, validator: &str) -> Option<&'a Member> {
    cp.private
        .iter()
        .find(|m| m.validator == validator)
        .or_else(|| {
            cp.members
                .iter()
                .find(|m| m.validator == validator && m.role == Role::Public)
        })
}

/// The Stellar scope: every active validator's address (what `KNOWN_PEERS` and `PREFERRED_PEERS`
/// hold), without `only`'s own; `admin` gives own nodes' admin endpoints as `NAME=HOST:PORT`.
pub(crate) fn stellar(
    inventory: &StellarInventory,
    only: Option<&str>,
    admin: &[String],
) -> Result<Scope, ProbeError> {
    let known = || {
        inventory
            .active()
            .map(|v| v.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = only {
        let why = match inventory.validators.get(name) {
            None => Some("no validator of that name"),
            Some(v) if v.suspended => Some("that validator is suspended"),
            Some(_) => None,
        };
        if let Some(why) = why {
            return Err(ProbeError::UnknownSelf {
                name: name.to_owned(),
                why,
                known: known(),
            });
        }
    }
    let mut scope = Scope::default();
    for v in inventory.active().filter(|v| only != Some(v.name.as_str())) {
        scope.targets.push(Target {
            network: Network::Stellar,
            peer: v.name.clone(),
            address: Address {
                host: v.address.host.clone(),
                port: v.address.port,
            },
            node_id: None,
        });
    }
    for text in admin {
        let bad = |why: String| ProbeError::Admin {
            text: text.clone(),
            why,
        };
        let (name, endpoint) = text
            .split_once('=')
            .ok_or_else(|| bad("expected VALIDATOR=HOST:PORT".to_owned()))?;
        if !inventory.active().any(|v| v.name == name) {
            return Err(bad(format!(
                "{name:?} is not an active validator; known: {}",
                known()
            )));
        }
        let endpoint = Endpoint::parse(endpoint).map_err(|e| bad(e.to_string()))?;
        scope.admin.push(AdminNode {
            node: name.to_owned(),
            address: Address::of(&endpoint),
        });
    }
    scope.admin.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::cosmos::inventory;
    use crate::cosmos::peers;
    use crate::cosmos::state::ProviderState;

    fn sentries() -> (Plan, Inventory) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let inv = inventory::load(&[root.join("inventories/sentries.yaml")]).unwrap();
        let state =
            ProviderState::load(&PathBuf::from(root).join("inventories/example-state.json"))
                .unwrap();
        (peers::plan(&inv, &state).unwrap(), inv)
    }

    fn peers_of(scope: &Scope, chain: &str) -> Vec<String> {
        scope
            .targets
            .iter()
            .filter(|t| t.network.name() == chain)
            .map(|t| format!("{} {}", t.peer, t.address))
            .collect()
    }

    #[test]
    fn without_self_every_public_node_and_never_a_private_one() {
        let (plan, inv) = sentries();
        let scope = cosmos(&plan, &inv, None, &[]).unwrap();
        let cp = &plan.consumers[0];
        assert_eq!(peers_of(&scope, &cp.chain_id).len(), cp.members.len());
        assert!(
            scope
                .targets
                .iter()
                .all(|t| !t.peer.ends_with("/validator")),
            "{:?}",
            scope.targets
        );
    }

    #[test]
    fn with_self_whom_its_nodes_dial_including_its_own_validator_node() {
        let (plan, inv) = sentries();
        let scope = cosmos(&plan, &inv, Some("alice"), &["pion-1".to_owned()]).unwrap();
        let listed = peers_of(&scope, "pion-1");
        assert!(
            listed.iter().any(|p| p
                .starts_with("alice/validator alice-validator-pion-1.alice.svc.cluster.local:")),
            "a sentry dials its validator node: {listed:?}"
        );
        assert!(
            listed.iter().any(|p| p.starts_with("bob/eu ")),
            "{listed:?}"
        );
        assert!(
            scope.targets.iter().all(|t| t.network.name() == "pion-1"),
            "--consumer narrows the scope"
        );
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), listed.len(), "each planned address once");
    }
}
