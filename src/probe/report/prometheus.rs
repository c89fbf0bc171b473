//! Prometheus text exposition (format 0.0.4) for node-exporter's textfile collector: gauges per
//! network and planned peer, per own node. Label values come from the plan only (chain and
//! consumer ids, peer labels, planned addresses, verdict names), so the series stay bounded.
//! Names and meanings are documented in docs/probe.md, which alert rules rely on.

use std::fmt::Write as _;

use super::Report;
use crate::probe::run::Outcome;
use crate::probe::scope::Network;
use crate::probe::verdict::Verdict;

/// A label value escaped as the exposition format requires: `\`, `"` and line feed.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn network_labels<'a>(network: &'a Network, out: &mut Vec<(&'static str, &'a str)>) {
    out.push(("network", network.name()));
    if let Some(id) = network.consumer_id() {
        out.push(("consumer_id", id));
    }
}

fn peer_labels(o: &Outcome, address: &str) -> String {
    let mut pairs = Vec::new();
    network_labels(&o.target.network, &mut pairs);
    pairs.push(("peer", &o.target.peer));
    pairs.push(("address", address));
    labels(&pairs)
}

/// One metric family: its help, type and samples, written together as the format requires.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn start<'o>(out: &'o mut String, name: &str, help: &str) -> Family<'o> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{name}{labels} {value}");
    }
}

fn bit(b: bool) -> u8 {
    u8::from(b)
}

pub(crate) fn prometheus(report: &Report) -> String {
    let mut out = String::new();
    let peers: Vec<(&Outcome, String)> = report
        .peers
        .iter()
        .map(|o| (o, o.target.address.to_string()))
        .collect();
    let done = |o: &Outcome| o.seconds.is_some();
    let cosmos_done = |o: &Outcome| done(o) && o.target.node_id.is_some();

    let name = "peergen_probe_up";
    let mut f = Family::start(
        &mut out,
        name,
        "1 when the planned peer completed the P2P handshake (Cosmos) or accepted TCP (Stellar), else 0.",
    );
    for (o, a) in &peers {
        f.sample(name, &peer_labels(o, a), bit(done(o)));
    }
    let name = "peergen_probe_id_match";
    let mut f = Family::start(
        &mut out,
        name,
        "1 when the peer authenticated as the planned node ID, 0 when as another; absent when no handshake completed.",
    );
    for (o, a) in peers.iter().filter(|(o, _)| cosmos_done(o)) {
        let mismatch = matches!(o.verdict, Verdict::IdMismatch { .. });
        f.sample(name, &peer_labels(o, a), bit(!mismatch));
    }
    let name = "peergen_probe_network_match";
    let mut f = Family::start(
        &mut out,
        name,
        "1 when the peer's NodeInfo network is the planned chain id; absent when no handshake completed.",
    );
    for (o, a) in peers.iter().filter(|(o, _)| cosmos_done(o)) {
        let same = o.seen.as_ref().map(|s| s.network.as_str()) == Some(o.target.network.name());
        f.sample(name, &peer_labels(o, a), bit(same));
    }
    let name = "peergen_probe_handshake_seconds";
    let mut f = Family::start(
        &mut out,
        name,
        "Seconds from the lookup to the end of the handshake (Cosmos) or the TCP connect (Stellar); absent when it did not complete.",
    );
    for (o, a) in &peers {
        if let Some(s) = o.seconds {
            f.sample(name, &peer_labels(o, a), format!("{s:.3}"));
        }
    }
    let name = "peergen_probe_verdict";
    let mut f = Family::start(
        &mut out,
        name,
        "1 for the peer's verdict (ok, id-mismatch, wrong-network, refused, timeout, dns-failure, handshake-failed).",
    );
    for (o, a) in &peers {
        let mut l = peer_labels(o, a);
        l.insert_str(l.len() - 1, &format!(",verdict=\"{}\"", o.verdict.name()));
        f.sample(name, &l, 1);
    }

    if !report.nodes.is_empty() {
        let node_labels: Vec<String> = report
            .nodes
            .iter()
            .map(|n| {
                let mut pairs = Vec::new();
                network_labels(&n.node.network, &mut pairs);
                pairs.push(("node", &n.node.node));
                labels(&pairs)
            })
            .collect();
        let rows = || report.nodes.iter().zip(&node_labels);
        let name = "peergen_probe_rpc_up";
        let mut f = Family::start(
            &mut out,
            name,
            "1 when the own node's RPC answered /status and /net_info.",
        );
        for (n, l) in rows() {
            f.sample(name, l, bit(n.result.is_ok()));
        }
        let facts = || rows().filter_map(|(n, l)| n.result.as_ref().ok().map(|f| (n, f, l)));
        let name = "peergen_probe_rpc_id_match";
        let mut f = Family::start(&mut out, name, "1 when /status shows the planned node ID.");
        for (n, x, l) in facts() {
            f.sample(name, l, bit(x.node_id == n.node.node_id.as_str()));
        }
        let name = "peergen_probe_rpc_catching_up";
        let mut f = Family::start(
            &mut out,
            name,
            "1 while /status says the node is catching up.",
        );
        for (_, x, l) in facts() {
            f.sample(name, l, bit(x.catching_up));
        }
        let name = "peergen_probe_rpc_latest_height";
        let mut f = Family::start(&mut out, name, "The latest block height /status reports.");
        for (_, x, l) in facts() {
            f.sample(name, l, x.latest_height);
        }
        let name = "peergen_probe_rpc_peers";
        let mut f = Family::start(
            &mut out,
            name,
            "Connected peers by direction, from /net_info.",
        );
        for (_, x, l) in facts() {
            for (dir, n) in [("inbound", x.inbound), ("outbound", x.outbound)] {
                let mut l = l.clone();
                l.insert_str(l.len() - 1, &format!(",direction=\"{dir}\""));
                f.sample(name, &l, n);
            }
        }
        let name = "peergen_probe_rpc_max_inbound_peers";
        let mut f = Family::start(
            &mut out,
            name,
            "The node's planned max_num_inbound_peers (the inbound budget).",
        );
        for (n, _, l) in facts() {
            f.sample(name, l, n.node.max_inbound);
        }
        let name = "peergen_probe_rpc_planned_not_connected";
        let mut f = Family::start(
            &mut out,
            name,
            "Planned peers of the node that /net_info does not show connected.",
        );
        for (_, x, l) in facts() {
            f.sample(name, l, x.missing.len());
        }
        let name = "peergen_probe_rpc_connected_not_planned";
        let mut f = Family::start(
            &mut out,
            name,
            "Connected peers the node's [p2p] does not list.",
        );
        for (_, x, l) in facts() {
            f.sample(name, l, x.unplanned.len());
        }
    }

    if !report.stellar.is_empty() {
        let node_labels: Vec<String> = report
            .stellar
            .iter()
            .map(|s| labels(&[("network", "stellar"), ("node", &s.node.node)]))
            .collect();
        let rows = || report.stellar.iter().zip(&node_labels);
        let name = "peergen_probe_stellar_info_up";
        let mut f = Family::start(
            &mut out,
            name,
            "1 when the own stellar-core node's admin `info` answered.",
        );
        for (s, l) in rows() {
            f.sample(name, l, bit(s.result.is_ok()));
        }
        let infos = || rows().filter_map(|(s, l)| s.result.as_ref().ok().map(|i| (i, l)));
        let name = "peergen_probe_stellar_synced";
        let mut f = Family::start(
            &mut out,
            name,
            "1 when stellar-core's state is \"Synced!\".",
        );
        for (i, l) in infos() {
            f.sample(name, l, bit(i.state == crate::probe::stellar::SYNCED));
        }
        let name = "peergen_probe_stellar_ledger_age_seconds";
        let mut f = Family::start(
            &mut out,
            name,
            "Age of the last closed ledger, from `info`.",
        );
        for (i, l) in infos() {
            f.sample(name, l, i.ledger_age);
        }
        let name = "peergen_probe_stellar_peers";
        let mut f = Family::start(
            &mut out,
            name,
            "stellar-core's peers by state, from `info`.",
        );
        for (i, l) in infos() {
            for (state, n) in [
                ("authenticated", i.authenticated_peers),
                ("pending", i.pending_peers),
            ] {
                let mut l = l.clone();
                l.insert_str(l.len() - 1, &format!(",state=\"{state}\""));
                f.sample(name, &l, n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exposition format's reading of an escaped label value.
    fn unescape(text: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    proptest::proptest! {
        #[test]
        fn label_values_round_trip(value in proptest::prelude::any::<String>()) {
            let escaped = escape(&value);
            proptest::prop_assert!(!escaped.contains('\n'));
            proptest::prop_assert_eq!(unescape(&escaped), Some(value));
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(labels(&[("peer", "x\"y")]), "{peer=\"x\\\"y\"}");
    }
}
