//! The Mermaid diagram of one consumer's peer changes in the pull-request comment: the links the
//! change adds and removes, around the nodes whose peer lists change. Nodes are told apart by node
//! ID, named as the plan names them (else by moniker, else by node-ID prefix).

use std::collections::{BTreeMap, BTreeSet};

use crate::cosmos::graph::mermaid::{self, Change, DiffLink, DiffNode};
use crate::cosmos::node_id::NodeId;
use crate::gitops::changes::{Changes, Peer};

/// More links than this make a diagram nobody reads (and a large share of the comment): the
/// comment then gives counts instead.
pub(crate) const MAX_LINKS: usize = 60;

pub(crate) enum Diagram {
    /// The flowchart's text.
    Chart(String),
    TooLarge {
        added: usize,
        removed: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Id(NodeId),
    /// A node whose ID the plan does not know.
    Name(String),
}

/// The diagram for consumer directory `slug`, or `None` when no link is added or removed there
/// (only addresses moved, or only other settings changed). Nodes that leave the consumer are shown
/// by the links others drop to them.
pub(crate) fn diagram(changes: &Changes, slug: &str) -> Option<Diagram> {
    let empty = BTreeMap::new();
    let ids = changes.node_ids.get(slug).unwrap_or(&empty);
    let mut names: BTreeMap<&NodeId, &str> = BTreeMap::new();
    for (label, id) in ids {
        names.entry(id).or_insert(label);
    }
    let mut nodes: BTreeMap<Key, (String, bool)> = BTreeMap::new();
    let mut directed: BTreeSet<(Change, Key, Key)> = BTreeSet::new();
    for p in changes
        .peers
        .iter()
        .filter(|p| p.slug == slug && p.after.is_some())
    {
        let from = ids
            .get(&p.validator)
            .map_or_else(|| Key::Name(p.validator.clone()), |id| Key::Id(id.clone()));
        nodes.insert(from.clone(), (p.validator.clone(), true));
        for (change, peers) in [(Change::Added, &p.added), (Change::Removed, &p.removed)] {
            for peer in peers {
                let to = Key::Id(peer.node_id.clone());
                nodes
                    .entry(to.clone())
                    .or_insert_with(|| (name(peer, &names), false));
                directed.insert((change, from.clone(), to));
            }
        }
    }
    if directed.is_empty() {
        return None;
    }
    let count = |c: Change| directed.iter().filter(|(x, _, _)| *x == c).count();
    let index: BTreeMap<&Key, usize> = nodes.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let mut links = Vec::new();
    for (change, a, b) in &directed {
        let back = directed.contains(&(*change, b.clone(), a.clone()));
        if back && b < a {
            continue;
        }
        links.push(DiffLink {
            change: *change,
            from: index[a],
            to: index[b],
            mutual: back,
        });
    }
    if links.len() > MAX_LINKS {
        return Some(Diagram::TooLarge {
            added: count(Change::Added),
            removed: count(Change::Removed),
        });
    }
    links.sort();
    let nodes: Vec<DiffNode> = nodes
        .into_values()
        .map(|(label, changed)| DiffNode { label, changed })
        .collect();
    Some(Diagram::Chart(mermaid::changes(&nodes, &links)))
}

fn name(peer: &Peer, names: &BTreeMap<&NodeId, &str>) -> String {
    match (names.get(&peer.node_id), &peer.moniker) {
        (Some(label), _) => (*label).to_owned(),
        (None, Some(moniker)) if !moniker.is_empty() => moniker.clone(),
        (None, _) => format!("{}…", &peer.node_id.as_str()[..12]),
    }
}
