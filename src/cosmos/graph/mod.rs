//! One consumer's peer graph as a picture: nodes grouped by validator, the persistent links
//! between them styled by role and by whether CometBFT keeps them unconditionally, and the
//! viewer's own nodes highlighted. Built once from the plan's links; [`dot`], [`mermaid`] and
//! [`text`] write it out, [`svg`] has Graphviz lay it out.

pub(crate) mod dot;
pub(crate) mod mermaid;
pub(crate) mod svg;
pub(crate) mod text;

use std::collections::BTreeMap;

use crate::cosmos::inventory::settings::Topology;
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{ConsumerPlan, Member, Role};

/// What a node is, for its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A validator's only node, public.
    Public,
    Sentry,
    /// A validator node behind sentries.
    Validator,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Public => "public",
            Kind::Sentry => "sentry",
            Kind::Validator => "validator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// `validator` or `validator/node`, unique within the consumer.
    pub(crate) label: String,
    /// What the picture calls the node inside its validator's box: `validator` for a validator
    /// node, the sentry's name, the validator's name for its only (public) node.
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) node_id: NodeId,
    pub(crate) address: String,
    /// One of the `--self` validator's nodes.
    pub(crate) own: bool,
}

/// One validator's nodes on the consumer, which the pictures draw as one box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) validator: String,
    /// Chain text: hostile until escaped for the format at hand.
    pub(crate) moniker: String,
    pub(crate) own: bool,
    /// Indices into [`Graph::nodes`], ascending.
    pub(crate) nodes: Vec<usize>,
}

/// Which kind of link: a validator node with its own sentry, or the public mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Private,
    Mesh,
}

/// A persistent link: `from` lists `to` in `persistent_peers`, and `to` lists `from` too when
/// `mutual`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) mutual: bool,
    pub(crate) kind: LinkKind,
    /// Every end that lists the other also has it in `unconditional_peer_ids`: CometBFT admits
    /// and keeps the link whatever its peer limits.
    pub(crate) unconditional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Graph {
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    pub(crate) topology: String,
    /// Sorted by validator; within one, the validator's own node first, then sentries by name.
    pub(crate) nodes: Vec<Node>,
    /// Sorted by validator.
    pub(crate) groups: Vec<Group>,
    /// Sorted by (from, to), `from < to` for mutual links; no pair twice.
    pub(crate) links: Vec<Link>,
}

/// The consumer's graph; `own` names the viewer's validator (`--self`), whose nodes stand out.
pub(crate) fn build(cp: &ConsumerPlan, own: Option<&str>) -> Graph {
    let mut members: Vec<&Member> = cp.members.iter().chain(&cp.private).collect();
    let rank = |m: &Member| match m.role {
        Role::Public | Role::Validator => 0,
        Role::Sentry(_) => 1,
    };
    members.sort_by(|a, b| {
        (&a.validator, rank(a), a.node_name()).cmp(&(&b.validator, rank(b), b.node_name()))
    });
    // Members are told apart by address: two may share a node ID (a warning, not an error).
    let positions: BTreeMap<*const Member, usize> = members
        .iter()
        .enumerate()
        .map(|(i, &m)| (std::ptr::from_ref(m), i))
        .collect();
    let index_of = |m: &Member| positions[&std::ptr::from_ref(m)];
    let nodes: Vec<Node> = members
        .iter()
        .map(|m| Node {
            label: m.label(),
            name: match m.role {
                Role::Public => m.validator.clone(),
                _ => m.node_name().to_owned(),
            },
            kind: match m.role {
                Role::Public => Kind::Public,
                Role::Sentry(_) => Kind::Sentry,
                Role::Validator => Kind::Validator,
            },
            node_id: m.node_id.clone(),
            address: m.endpoint.to_string(),
            own: own == Some(m.validator.as_str()),
        })
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    for (i, m) in members.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if g.validator == m.validator => g.nodes.push(i),
            _ => groups.push(Group {
                validator: m.validator.clone(),
                moniker: m.moniker.clone(),
                own: own == Some(m.validator.as_str()),
                nodes: vec![i],
            }),
        }
    }

    // (lister, listed) → whether the lister keeps it unconditionally.
    let mut listed: BTreeMap<(usize, usize), bool> = BTreeMap::new();
    for &m in &members {
        let links = cp.links(m);
        let from = index_of(m);
        for peer in links.listed {
            let to = index_of(peer);
            let unconditional = links.unconditional.contains(&peer.node_id);
            listed.insert((from, to), unconditional);
        }
    }
    let mut links = Vec::new();
    for (&(a, b), &unconditional_ab) in &listed {
        let back = listed.get(&(b, a));
        if back.is_some() && b < a {
            continue;
        }
        let kind = if members[a].validator == members[b].validator
            && (members[a].role == Role::Validator || members[b].role == Role::Validator)
        {
            LinkKind::Private
        } else {
            LinkKind::Mesh
        };
        links.push(Link {
            from: a,
            to: b,
            mutual: back.is_some(),
            kind,
            unconditional: unconditional_ab && back.is_none_or(|&u| u),
        });
    }
    links.sort_by_key(|l| (l.from, l.to));
    Graph {
        consumer_id: cp.consumer_id.clone(),
        chain_id: cp.chain_id.clone(),
        topology: match cp.settings.topology {
            Topology::FullMesh => "full-mesh".to_owned(),
            Topology::KConnected(k) => format!("k-connected {k}"),
        },
        nodes,
        groups,
        links,
    }
}

impl Graph {
    /// Undirected neighbour sets over all nodes, as [`crate::cosmos::peers::topology::stats`]
    /// takes them.
    pub(crate) fn adjacency(&self) -> Vec<std::collections::BTreeSet<usize>> {
        let mut adjacency = vec![std::collections::BTreeSet::new(); self.nodes.len()];
        for l in &self.links {
            adjacency[l.from].insert(l.to);
            adjacency[l.to].insert(l.from);
        }
        adjacency
    }

    /// The group caption: the validator, and its on-chain moniker when that says something else.
    pub(crate) fn caption(group: &Group) -> String {
        if group.moniker.is_empty() || group.moniker == group.validator {
            group.validator.clone()
        } else {
            format!("{} ({})", group.validator, group.moniker)
        }
    }

    /// The picture's title.
    pub(crate) fn title(&self) -> String {
        format!(
            "consumer {} ({}), {}",
            self.consumer_id, self.chain_id, self.topology
        )
    }
}

/// The Mermaid subset's grammar, shared with the integration tests.
#[cfg(test)]
#[path = "../../../tests/mermaid.rs"]
pub(crate) mod grammar;

#[cfg(test)]
mod tests;
