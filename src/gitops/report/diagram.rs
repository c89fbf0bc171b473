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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosmos::graph::grammar;
    use crate::gitops::changes::PeerChange;
    use crate::gitops::report::{added_file, markdown};
    use crate::input::address::Endpoint;

    fn id(i: usize) -> NodeId {
        NodeId::parse(&format!("{i:040x}")).unwrap()
    }

    /// `alice` gains `added` peers and loses peer 0; peer 1 is `bob` in the plan, the others are
    /// known by moniker or not at all.
    fn changes(added: usize) -> Changes {
        let peer = |i: usize| Peer {
            node_id: id(i),
            address: Endpoint::parse(&format!("h{i}.example:26656")).unwrap(),
            moniker: i.is_multiple_of(2).then(|| format!("m<{i}>")),
        };
        let mut node_ids = BTreeMap::new();
        node_ids.insert(
            "pion-1".to_owned(),
            BTreeMap::from([("alice".to_owned(), id(1000)), ("bob".to_owned(), id(1))]),
        );
        Changes {
            files: vec![added_file("a.yaml", 10)],
            peers: vec![
                PeerChange {
                    validator: "alice".into(),
                    slug: "pion-1".into(),
                    consumer_id: "0".into(),
                    chain_id: "pion-1".into(),
                    before: Some(1),
                    after: Some(added),
                    added: (1..=added).map(peer).collect(),
                    removed: vec![peer(0)],
                    moved: Vec::new(),
                },
                PeerChange {
                    validator: "bob".into(),
                    slug: "pion-1".into(),
                    consumer_id: "0".into(),
                    chain_id: "pion-1".into(),
                    before: Some(0),
                    after: Some(1),
                    added: vec![Peer {
                        node_id: id(1000),
                        address: Endpoint::parse("alice.example:26656").unwrap(),
                        moniker: None,
                    }],
                    removed: Vec::new(),
                    moved: Vec::new(),
                },
            ],
            node_ids,
            ..Changes::default()
        }
    }

    #[test]
    fn links_both_ends_add_are_drawn_once_and_nodes_are_named_by_the_plan() {
        let Some(Diagram::Chart(chart)) = diagram(&changes(3), "pion-1") else {
            panic!("a diagram")
        };
        assert_eq!(
            chart,
            "flowchart LR
  n0[\"m#60;0#62;\"]
  n1[\"bob\"]
  n2[\"m#60;2#62;\"]
  n3[\"000000000000#8230;\"]
  n4[\"alice\"]
  n1 <--> n4
  n4 --> n2
  n4 --> n3
  n4 -.-> n0
  linkStyle 0,1,2 stroke:#1a7f37,stroke-width:2px
  linkStyle 3 stroke:#cf222e,stroke-width:2px
  classDef changed fill:#ddf4ff,stroke:#0969da,stroke-width:2px
  class n1,n4 changed
"
        );
        assert!(diagram(&changes(3), "neutron-1").is_none());
    }

    /// Monikers of peers the plan does not name are the labels: whatever they hold, the comment
    /// has one diagram, in the subset, with each moniker shown as one label.
    #[test]
    fn hostile_monikers_stay_labels_in_the_comment() {
        let evil = [
            "\"]\n```\n<script>alert(1)</script>",
            "end\n  n0 --> n1 #quot; `x` @octocat",
            "<!-- x --> <details> | a | b |",
        ];
        let mut changes = changes(3);
        for (peer, moniker) in changes.peers[0].added.iter_mut().skip(1).zip(evil) {
            peer.moniker = Some(moniker.to_owned());
        }
        changes.peers[0].removed[0].moniker = Some(evil[2].to_owned());
        let md =
            markdown::markdown(&changes, &crate::output::previous::NoPrevious, "peers/").unwrap();
        let (blocks, _) = grammar::blocks(&md);
        assert_eq!(blocks.len(), 1, "{md}");
        let chart = grammar::parse(&blocks[0]).unwrap_or_else(|e| panic!("{e}\n{md}"));
        let labels: Vec<&str> = chart.nodes.values().map(|(_, l, _)| l.as_str()).collect();
        for moniker in evil {
            let shown = moniker.replace('\n', "\\n");
            assert!(labels.contains(&shown.as_str()), "{shown:?} in {labels:?}");
        }
        assert_eq!((chart.nodes.len(), chart.links.len()), (5, 4));
    }

    #[test]
    fn a_large_change_gets_counts_instead() {
        let md = markdown::markdown(
            &changes(MAX_LINKS + 5),
            &crate::output::previous::NoPrevious,
            "peers/",
        )
        .unwrap();
        assert!(!md.contains("```mermaid"), "{md}");
        assert!(
            md.contains("_No diagram: 66 links added and 1 removed are more than the 60 a diagram shows; the table lists them._"),
            "{md}"
        );
        let md = markdown::markdown(&changes(3), &crate::output::previous::NoPrevious, "peers/")
            .unwrap();
        assert_eq!(md.matches("```mermaid\nflowchart LR\n").count(), 1, "{md}");
    }
}
