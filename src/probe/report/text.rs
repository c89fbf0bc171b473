//! The text table: one row per planned peer and per own node, the verdict coloured on a terminal;
//! every string from the network or the inventory made printable.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Report, resolved};
use crate::input::printable::printable;

fn paint(text: &str, ok: bool, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let style = Style::new().fg_color(Some(
        if ok { AnsiColor::Green } else { AnsiColor::Red }.into(),
    ));
    format!("{style}{text}{style:#}")
}

/// Cells padded to their column's width (computed before colouring).
fn table(rows: &[Vec<String>], first_ok: &[bool], color: bool) -> String {
    let mut widths = vec![0; rows.first().map_or(0, Vec::len)];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (j, (cell, w)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            let shown = if j == 0 && i > 0 {
                paint(cell, first_ok[i - 1], color)
            } else {
                cell.clone()
            };
            let _ = write!(line, "{shown}{pad}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn text(report: &Report, color: bool) -> String {
    let mut out = String::new();
    if !report.peers.is_empty() {
        let mut rows = vec![
            [
                "VERDICT", "NETWORK", "PEER", "ADDRESS", "RESOLVED", "DETAIL",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        let mut oks = Vec::new();
        for o in &report.peers {
            oks.push(o.verdict.is_ok());
            let network = match o.target.network.consumer_id() {
                Some(id) => format!("{} ({id})", o.target.network.name()),
                None => o.target.network.name().to_owned(),
            };
            rows.push(
                [
                    o.verdict.name().to_owned(),
                    network,
                    o.target.peer.clone(),
                    o.target.address.to_string(),
                    resolved(o),
                    o.verdict.detail(),
                ]
                .map(|c| printable(&c).replace('\n', "\\n"))
                .to_vec(),
            );
        }
        out.push_str(&table(&rows, &oks, color));
    }
    for n in &report.nodes {
        out.push('\n');
        let problems = n.problems();
        let _ = writeln!(
            out,
            "{} node {} on {} ({}), RPC {}",
            verdict_word(problems.is_empty(), color),
            printable(&n.node.node),
            printable(n.node.network.name()),
            printable(n.node.network.consumer_id().unwrap_or_default()),
            n.node.address
        );
        if let Ok(f) = &n.result {
            let _ = writeln!(
                out,
                "  height {}{}, {} planned peers, {} outbound and {} inbound connected (inbound budget {} of {})",
                f.latest_height,
                if f.catching_up { " (catching up)" } else { "" },
                n.node.planned.len(),
                f.outbound,
                f.inbound,
                f.inbound,
                n.node.max_inbound
            );
            if !f.unplanned.is_empty() {
                let _ = writeln!(
                    out,
                    "  connected but not planned: {}",
                    printable(&f.unplanned.join(", "))
                );
            }
        }
        for p in problems {
            let _ = writeln!(out, "  {}", printable(&p));
        }
    }
    for s in &report.stellar {
        out.push('\n');
        let problems = s.problems();
        let _ = writeln!(
            out,
            "{} node {}, admin {}",
            verdict_word(problems.is_empty(), color),
            printable(&s.node.node),
            s.node.address
        );
        if let Ok(i) = &s.result {
            let _ = writeln!(
                out,
                "  state {}, ledger {} ({} s old), {} authenticated and {} pending peers",
                printable(&i.state),
                i.ledger,
                i.ledger_age,
                i.authenticated_peers,
                i.pending_peers
            );
        }
        for p in problems {
            let _ = writeln!(out, "  {}", printable(&p));
        }
    }
    out.push('\n');
    out.push_str(&report.summary());
    out.push('\n');
    out
}

/// `ok` or `mismatch`, painted as such, for an own node's heading.
fn verdict_word(ok: bool, color: bool) -> String {
    paint(if ok { "ok" } else { "mismatch" }, ok, color)
}
