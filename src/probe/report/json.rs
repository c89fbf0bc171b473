//! The report as JSON (`peergen/probe/v1`): for scripts; the same facts as the text table.

use serde_json::{Value, json};

use super::Report;
use crate::input::printable::is_bidi_control;

pub(crate) const FORMAT: &str = "peergen/probe/v1";

pub(crate) fn json(report: &Report) -> String {
    let peers: Vec<Value> = report
        .peers
        .iter()
        .map(|o| {
            json!({
                "network": o.target.network.name(),
                "consumer_id": o.target.network.consumer_id(),
                "peer": o.target.peer,
                "address": o.target.address.to_string(),
                "resolved": o.resolved.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "expected_node_id": o.target.node_id,
                "verdict": o.verdict.name(),
                "detail": o.verdict.detail(),
                "seen": o.seen.as_ref().map(|s| json!({
                    "node_id": s.node_id,
                    "network": s.network,
                    "moniker": s.moniker,
                    "version": s.version,
                })),
                "seconds": o.seconds,
            })
        })
        .collect();
    let nodes: Vec<Value> = report
        .nodes
        .iter()
        .map(|n| {
            json!({
                "network": n.node.network.name(),
                "consumer_id": n.node.network.consumer_id(),
                "node": n.node.node,
                "rpc": n.node.address.to_string(),
                "expected_node_id": n.node.node_id,
                "ok": n.is_ok(),
                "problems": n.problems(),
                "status": n.result.as_ref().ok().map(|f| json!({
                    "node_id": f.node_id,
                    "network": f.network,
                    "latest_height": f.latest_height,
                    "catching_up": f.catching_up,
                })),
                "net_info": n.result.as_ref().ok().map(|f| json!({
                    "outbound": f.outbound,
                    "inbound": f.inbound,
                    "max_inbound": n.node.max_inbound,
                    "planned_not_connected": f.missing.iter().map(|p| json!({"peer": p.label, "node_id": p.node_id})).collect::<Vec<_>>(),
                    "connected_not_planned": f.unplanned,
                })),
            })
        })
        .collect();
    let stellar: Vec<Value> = report
        .stellar
        .iter()
        .map(|s| {
            json!({
                "node": s.node.node,
                "admin": s.node.address.to_string(),
                "ok": s.problems().is_empty(),
                "problems": s.problems(),
                "info": s.result.as_ref().ok().map(|i| json!({
                    "state": i.state,
                    "ledger": i.ledger,
                    "ledger_age": i.ledger_age,
                    "authenticated_peers": i.authenticated_peers,
                    "pending_peers": i.pending_peers,
                })),
            })
        })
        .collect();
    let doc = json!({
        "format": FORMAT,
        "matches_plan": !report.has_mismatch(),
        "summary": report.summary(),
        "peers": peers,
        "nodes": nodes,
        "stellar_nodes": stellar,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    // serde_json escapes control characters but writes bidi overrides raw; as `\uXXXX` escapes
    // they decode to the same strings and cannot reorder a terminal's view of the report.
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if is_bidi_control(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    out
}
