//! Mermaid flowcharts: the whole graph (`peergen graph --format mermaid`) and the links a plan adds
//! and removes (the pull-request comment). Only a small subset of the flowchart grammar is
//! written: `flowchart LR`, `subgraph ID ["…"]` … `end`, nodes `ID["…"]`, `ID(["…"])`,
//! `ID[["…"]]`, links `---`, `-->`, `<-->`, `-.-`, `-.->`, `<-.->`, and `linkStyle`, `classDef`,
//! `class` lines. Identifiers are generated (`n0`, `g0`); every label is [`label`]-escaped.

use std::fmt::Write as _;

use super::{Graph, Kind, LinkKind};
use crate::input::printable::printable;

/// Mermaid's strict default refuses to draw more than this many links; GitHub keeps the default.
pub(crate) const MAX_LINKS: usize = 500;

/// A quoted Mermaid label that stays text for Mermaid and for the Markdown around it: letters,
/// digits, space and `-_.,:/=+()` stay; everything else (quotes, `#`, `;`, `<`, `&`, `` ` ``, `|`,
/// `@`, brackets, non-ASCII, control and bidi characters) becomes a `#NNN;` entity code, which
/// Mermaid decodes into an HTML character reference: shown, never parsed. A label therefore holds
/// no quote to close it, no backtick to make it a Markdown string, no tag, and no line break or
/// backtick run that could close the surrounding code fence.
pub(crate) fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in printable(text).replace('\n', "\\n").chars() {
        if c.is_ascii_alphanumeric() || " -_.,:/=+()".contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", u32::from(c));
        }
    }
    out.push('"');
    out
}

/// Styles shared by both diagrams.
const CLASS_OWN: &str = "classDef own fill:#fff8c5,stroke:#9a6700,stroke-width:2px";
const CLASS_PRIVATE: &str = "classDef private fill:#eaeef2,stroke:#57606a";
const CLASS_CHANGED: &str = "classDef changed fill:#ddf4ff,stroke:#0969da,stroke-width:2px";

/// `linkStyle` lines for the links at `indices` (nothing when there are none).
fn link_style(out: &mut String, indices: &[usize], style: &str) {
    if indices.is_empty() {
        return;
    }
    let list: Vec<String> = indices.iter().map(usize::to_string).collect();
    let _ = writeln!(out, "  linkStyle {} {style}", list.join(","));
}

fn class(out: &mut String, ids: &[String], name: &str) {
    if !ids.is_empty() {
        let _ = writeln!(out, "  class {} {name}", ids.join(","));
    }
}

/// The whole graph: one subgraph per validator, validator nodes as `[[…]]`, sentries as stadiums,
/// private links dotted, unconditional links thick, one-way links with an arrow.
pub(crate) fn flowchart(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (g, group) in graph.groups.iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{g} [{}]", label(&Graph::caption(group)));
        for &i in &group.nodes {
            let n = &graph.nodes[i];
            let text = label(&n.name);
            let _ = match n.kind {
                Kind::Public => writeln!(out, "    n{i}[{text}]"),
                Kind::Sentry => writeln!(out, "    n{i}([{text}])"),
                Kind::Validator => writeln!(out, "    n{i}[[{text}]]"),
            };
        }
        out.push_str("  end\n");
    }
    let mut thick = Vec::new();
    for (k, l) in graph.links.iter().enumerate() {
        let arrow = match (l.kind, l.mutual) {
            (LinkKind::Private, true) => "-.-",
            (LinkKind::Private, false) => "-.->",
            (LinkKind::Mesh, true) => "---",
            (LinkKind::Mesh, false) => "-->",
        };
        let _ = writeln!(out, "  n{} {arrow} n{}", l.from, l.to);
        if l.unconditional {
            thick.push(k);
        }
    }
    link_style(&mut out, &thick, "stroke-width:3px");
    let ids = |keep: &dyn Fn(&super::Node) -> bool| -> Vec<String> {
        (0..graph.nodes.len())
            .filter(|&i| keep(&graph.nodes[i]))
            .map(|i| format!("n{i}"))
            .collect()
    };
    let private = ids(&|n| n.kind == Kind::Validator && !n.own);
    let own = ids(&|n| n.own);
    if !private.is_empty() {
        let _ = writeln!(out, "  {CLASS_PRIVATE}");
    }
    if !own.is_empty() {
        let _ = writeln!(out, "  {CLASS_OWN}");
    }
    class(&mut out, &private, "private");
    class(&mut out, &own, "own");
    out
}

/// A node of a change diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DiffNode {
    pub(crate) label: String,
    /// Its own peer list changes (the others are only listed by one that does).
    pub(crate) changed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    Added,
    Removed,
}

/// `from` now lists (or no longer lists) `to`; `mutual` when `to` changed the same way about `from`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DiffLink {
    pub(crate) change: Change,
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) mutual: bool,
}

/// The links a change adds (green, solid) and removes (red, dashed) between `nodes`, nodes whose
/// own list changes outlined. `links` must be sorted and name only indices into `nodes`.
pub(crate) fn changes(nodes: &[DiffNode], links: &[DiffLink]) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, n) in nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[{}]", label(&n.label));
    }
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for (k, l) in links.iter().enumerate() {
        let arrow = match (l.change, l.mutual) {
            (Change::Added, true) => "<-->",
            (Change::Added, false) => "-->",
            (Change::Removed, true) => "<-.->",
            (Change::Removed, false) => "-.->",
        };
        let _ = writeln!(out, "  n{} {arrow} n{}", l.from, l.to);
        match l.change {
            Change::Added => added.push(k),
            Change::Removed => removed.push(k),
        }
    }
    link_style(&mut out, &added, "stroke:#1a7f37,stroke-width:2px");
    link_style(&mut out, &removed, "stroke:#cf222e,stroke-width:2px");
    let changed: Vec<String> = (0..nodes.len())
        .filter(|&i| nodes[i].changed)
        .map(|i| format!("n{i}"))
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(out, "  {CLASS_CHANGED}");
    }
    class(&mut out, &changed, "changed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_plain_names_and_encode_the_rest() {
        assert_eq!(label("alice/sentry-a"), "\"alice/sentry-a\"");
        assert_eq!(label("a\"b"), "\"a#34;b\"");
        assert_eq!(label("<b>#1;`x`"), "\"#60;b#62;#35;1#59;#96;x#96;\"");
        assert_eq!(label("é\n"), "\"#233;#92;n\"");
        assert_eq!(label("\u{202e}"), "\"#92;u#123;202e#125;\"");
    }
}
