//! The graph as an adjacency summary for a terminal: how well connected it is (over all nodes, and
//! over the public nodes the topology links), then each node's degree and neighbours.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Graph, Kind, LinkKind};
use crate::cosmos::peers::topology::{self, GraphStats};
use crate::input::printable::printable;

fn shape(stats: &GraphStats) -> String {
    let diameter = if stats.diameter == usize::MAX {
        "infinite (disconnected)".to_owned()
    } else {
        stats.diameter.to_string()
    };
    format!(
        "degree {}-{}, connectivity {}, diameter {diameter}",
        stats.min_degree, stats.max_degree, stats.connectivity
    )
}

pub(crate) fn text(graph: &Graph) -> String {
    let mut out = String::new();
    let adjacency = graph.adjacency();
    let private = graph
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Private)
        .count();
    let unconditional = graph.links.iter().filter(|l| l.unconditional).count();
    let hidden = graph
        .nodes
        .iter()
        .filter(|n| n.kind == Kind::Validator)
        .count();
    let _ = writeln!(
        out,
        "{}: {} validators, {} nodes ({} public, {hidden} behind sentries), {} links ({private} private, {} mesh; {unconditional} unconditional)",
        printable(&graph.title()),
        graph.groups.len(),
        graph.nodes.len(),
        graph.nodes.len() - hidden,
        graph.links.len(),
        graph.links.len() - private,
    );
    let _ = writeln!(out, "all nodes: {}", shape(&topology::stats(&adjacency)));
    // The public nodes alone, renumbered: what the topology setting shapes.
    let public: Vec<usize> = (0..graph.nodes.len())
        .filter(|&i| graph.nodes[i].kind != Kind::Validator)
        .collect();
    let public_adjacency: Vec<BTreeSet<usize>> = public
        .iter()
        .map(|&i| {
            adjacency[i]
                .iter()
                .filter_map(|j| public.binary_search(j).ok())
                .collect()
        })
        .collect();
    let _ = writeln!(
        out,
        "public nodes: {}",
        shape(&topology::stats(&public_adjacency))
    );
    out.push('\n');
    let width = graph
        .nodes
        .iter()
        .map(|n| n.label.len())
        .max()
        .unwrap_or(0)
        .max("node".len());
    let _ = writeln!(
        out,
        "  {:width$}  {:9}  {:>6}  peers",
        "node", "role", "degree"
    );
    for (i, n) in graph.nodes.iter().enumerate() {
        let mut peers: Vec<String> = Vec::new();
        for l in &graph.links {
            let (other, arrow) = match (l.from == i, l.to == i, l.mutual) {
                (true, _, true) => (l.to, ""),
                (_, true, true) => (l.from, ""),
                (true, _, false) => (l.to, "→"),
                (_, true, false) => (l.from, "←"),
                _ => continue,
            };
            let mark = if l.unconditional { "" } else { "?" };
            peers.push(format!("{arrow}{}{mark}", graph.nodes[other].label));
        }
        let _ = writeln!(
            out,
            "{} {:width$}  {:9}  {:>6}  {}",
            if n.own { '*' } else { ' ' },
            n.label,
            n.kind.as_str(),
            adjacency[i].len(),
            peers.join(", ")
        );
    }
    out.push_str(
        "\n→x: lists x, which does not list it back; ←x: listed by x only; x?: not unconditional (CometBFT's peer limits apply)\n",
    );
    if graph.nodes.iter().any(|n| n.own) {
        out.push_str("*: the --self validator's nodes\n");
    }
    out
}
