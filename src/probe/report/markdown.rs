//! The Markdown report for a pull-request or issue comment: a stable marker, a summary, a table
//! of peers that do not match (then the ones that do, folded), own nodes. Every string from the
//! network or the inventory is an inert code span, as in the plan comment.

use std::fmt::Write as _;

use super::{Report, resolved, seen};
use crate::output::escape::md_code_span as md;

/// First line of every probe report, so a workflow can find and update its one comment.
pub(crate) const MARKER: &str = "<!-- peergen-probe -->";

/// GitHub refuses comments over 65 536 characters; rows beyond this budget are counted, not shown.
const LIMIT: usize = 60_000;

fn row(out: &mut String, cut: &mut usize, line: &str) {
    if *cut > 0 || out.len() + line.len() + 200 > LIMIT {
        *cut += 1;
    } else {
        out.push_str(line);
        out.push('\n');
    }
}

pub(crate) fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let verdict = if report.has_mismatch() {
        "does not match the plan"
    } else {
        "matches the plan"
    };
    let _ = writeln!(out, "### peergen probe: the network {verdict}\n");
    let _ = writeln!(out, "{}\n", report.summary());
    let mut cut = 0;
    let header =
        "| Verdict | Network | Peer | Address | Resolved | Detail |\n|---|---|---|---|---|---|";
    let cells = |o: &crate::probe::run::Outcome| {
        let network = match o.target.network.consumer_id() {
            Some(id) => format!("{} ({id})", o.target.network.name()),
            None => o.target.network.name().to_owned(),
        };
        let detail = if o.verdict.is_ok() {
            seen(o)
        } else {
            o.verdict.detail()
        };
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            o.verdict.name(),
            md(&network),
            md(&o.target.peer),
            md(&o.target.address.to_string()),
            md(&resolved(o)),
            md(&detail)
        )
    };
    let (bad, good): (Vec<_>, Vec<_>) = report.peers.iter().partition(|o| !o.verdict.is_ok());
    if !bad.is_empty() {
        let _ = writeln!(out, "{header}");
        for o in &bad {
            row(&mut out, &mut cut, &cells(o));
        }
        out.push('\n');
    }
    if !good.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{} matching peer{}</summary>\n\n{header}",
            good.len(),
            if good.len() == 1 { "" } else { "s" }
        );
        for o in &good {
            row(&mut out, &mut cut, &cells(o));
        }
        out.push_str("\n</details>\n\n");
    }
    if !report.nodes.is_empty() || !report.stellar.is_empty() {
        let _ = writeln!(out, "#### Own nodes\n");
        let _ = writeln!(
            out,
            "| Node | Network | Endpoint | Facts | Problems |\n|---|---|---|---|---|"
        );
        for n in &report.nodes {
            let facts = match &n.result {
                Ok(f) => format!(
                    "height {}{}; {} outbound, {} inbound of {}; {} planned, {} connected but not planned",
                    f.latest_height,
                    if f.catching_up { " (catching up)" } else { "" },
                    f.outbound,
                    f.inbound,
                    n.node.max_inbound,
                    n.node.planned.len(),
                    f.unplanned.len()
                ),
                Err(_) => String::new(),
            };
            let network = format!(
                "{} ({})",
                n.node.network.name(),
                n.node.network.consumer_id().unwrap_or_default()
            );
            let line = format!(
                "| {} | {} | {} | {} | {} |",
                md(&n.node.node),
                md(&network),
                md(&n.node.address.to_string()),
                md(&facts),
                md(&n.problems().join("; "))
            );
            row(&mut out, &mut cut, &line);
        }
        for s in &report.stellar {
            let facts = match &s.result {
                Ok(i) => format!(
                    "{}; ledger {} ({} s old); {} authenticated, {} pending peers",
                    i.state, i.ledger, i.ledger_age, i.authenticated_peers, i.pending_peers
                ),
                Err(_) => String::new(),
            };
            let line = format!(
                "| {} | stellar | {} | {} | {} |",
                md(&s.node.node),
                md(&s.node.address.to_string()),
                md(&facts),
                md(&s.problems().join("; "))
            );
            row(&mut out, &mut cut, &line);
        }
        out.push('\n');
    }
    if cut > 0 {
        let _ = writeln!(
            out,
            "_{cut} more rows are not shown (comment size limit); run `peergen probe --format text` for all._"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::run::Outcome;
    use crate::probe::scope::{Address, Network, Target};
    use crate::probe::verdict::Verdict;

    #[test]
    fn a_large_report_stays_within_the_comment_limit_and_says_what_it_cut() {
        let peers = (0..3000)
            .map(|i| Outcome {
                target: Target {
                    network: Network::Cosmos {
                        consumer_id: "0".to_owned(),
                        chain_id: "pion-1".to_owned(),
                    },
                    peer: format!("validator-{i:04}"),
                    address: Address {
                        host: format!("validator-{i:04}.example.org"),
                        port: 26656,
                    },
                    node_id: None,
                },
                resolved: Vec::new(),
                verdict: Verdict::Refused("connection refused".to_owned()),
                seen: None,
                seconds: None,
            })
            .collect();
        let report = Report {
            peers,
            ..Report::default()
        };
        let text = markdown(&report);
        assert!(text.len() <= LIMIT, "{} bytes", text.len());
        assert!(text.starts_with(MARKER));
        let shown = text.matches("| refused |").count();
        assert!(shown > 100 && shown < 3000, "{shown} rows");
        assert!(
            text.contains(&format!("_{} more rows are not shown", 3000 - shown)),
            "{}",
            &text[text.len() - 300..]
        );
    }
}
