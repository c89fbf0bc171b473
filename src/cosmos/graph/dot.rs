//! The graph as Graphviz DOT: one cluster per validator, shapes by role (a 3-D box for a private
//! validator node, a double box for a public one), private links dashed,
//! unconditional links thick, one-way links with an arrow, the `--self` nodes filled.

use std::fmt::Write as _;

use super::{Graph, Kind, LinkKind};
use crate::input::printable::printable;

/// Fill colours; the own nodes' stand out in any theme a viewer opens the SVG in.
const FILL: &str = "#ffffff";
const FILL_PRIVATE: &str = "#eaeef2";
const FILL_OWN: &str = "#fff8c5";

/// A DOT quoted string: control and bidi characters escaped first (so no line break or reordering
/// comes from the text), then `\` and `"`, so the text can neither close the string nor use DOT's
/// `\N`, `\G`, `\l` label escapes.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in printable(text).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Two lines of a label: each escaped, joined by DOT's centred line break.
fn lines(first: &str, second: &str) -> String {
    let (a, b) = (quoted(first), quoted(second));
    format!("{}\\n{}", &a[..a.len() - 1], &b[1..])
}

pub(crate) fn dot(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "graph {} {{", quoted(&graph.chain_id));
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", pad=0.3, nodesep=0.3];",
        quoted(&graph.title())
    );
    let _ = writeln!(
        out,
        "  node [fontname=\"Helvetica\", fontsize=11, style=\"rounded,filled\", fillcolor=\"{FILL}\"];"
    );
    let _ = writeln!(out, "  edge [color=\"#57606a\"];");
    for (g, group) in graph.groups.iter().enumerate() {
        let _ = writeln!(out, "  subgraph \"cluster_{g}\" {{");
        let style = if group.own {
            "style=\"rounded,bold\", color=\"#9a6700\""
        } else {
            "style=rounded, color=\"#8c959f\""
        };
        let _ = writeln!(
            out,
            "    graph [label={}, {style}, fontname=\"Helvetica\"];",
            quoted(&Graph::caption(group))
        );
        for &i in &group.nodes {
            let n = &graph.nodes[i];
            let (shape, caption) = match n.kind {
                Kind::Public => ("box, peripheries=2", format!("{} (public)", n.name)),
                Kind::Sentry => ("box", format!("{} (sentry)", n.name)),
                Kind::Validator => ("box3d", "validator node (private)".to_owned()),
            };
            let fill = match (n.own, n.kind) {
                (true, _) => FILL_OWN,
                (false, Kind::Validator) => FILL_PRIVATE,
                (false, _) => FILL,
            };
            let _ = writeln!(
                out,
                "    n{i} [label={}, shape={shape}, fillcolor=\"{fill}\", tooltip={}];",
                lines(
                    &caption,
                    &format!("{}@{}", &n.node_id.as_str()[..12], n.address)
                ),
                quoted(&format!("{}@{}", n.node_id, n.address))
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for l in &graph.links {
        let mut attributes = Vec::new();
        if l.kind == LinkKind::Private {
            attributes.push("style=dashed");
        }
        if l.unconditional {
            attributes.push("penwidth=2");
        }
        if !l.mutual {
            attributes.push("dir=forward");
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        let _ = writeln!(out, "  n{} -- n{}{attributes};", l.from, l.to);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_cannot_close_the_string_or_use_label_escapes() {
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
        assert_eq!(quoted("\\N\\l"), r#""\\N\\l""#);
        assert_eq!(quoted("x\ny"), r#""x\\ny""#);
        assert_eq!(quoted("\u{1b}[2J\u{202e}"), r#""\\u{1b}[2J\\u{202e}""#);
        assert_eq!(lines("a\"", "b"), r#""a\"\nb""#);
    }
}
