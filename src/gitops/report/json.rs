//! The plan as JSON for machines (`peergen/plan/v1`).

use serde_json::json;

use crate::gitops::changes::{Changes, Peer};

pub(crate) fn json(changes: &Changes, prefix: &str) -> String {
    let checksum = &changes.checksum;
    let c = changes.counts();
    let peer = |p: &Peer| json!({"node_id": p.node_id, "address": p.address, "moniker": p.moniker});
    let value = json!({
        "format": "peergen/plan/v1",
        "checksum": checksum,
        "path": prefix,
        "changed": !changes.is_empty(),
        "summary": {
            "add": c.added,
            "change": c.changed,
            "remove": c.removed,
            "unchanged": changes.unchanged,
        },
        "files": changes.files.iter().map(|f| json!({"path": f.path, "action": f.action.as_str()})).collect::<Vec<_>>(),
        "peers": changes.peers.iter().map(|p| json!({
            "validator": p.validator,
            "consumer": p.slug,
            "consumer_id": p.consumer_id,
            "chain_id": p.chain_id,
            "before": p.before,
            "after": p.after,
            "added": p.added.iter().map(peer).collect::<Vec<_>>(),
            "removed": p.removed.iter().map(peer).collect::<Vec<_>>(),
            "moved": p.moved.iter().map(|m| json!({
                "node_id": m.node_id,
                "moniker": m.moniker,
                "from": m.from,
                "to": m.to,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "removed_consumers": changes.removed_consumers,
        "needs_force": changes.needs_force,
        "zones": changes.zones.iter().map(|z| json!({"path": z.path, "serial_from": z.from, "serial_to": z.to, "records_added": z.added, "records_removed": z.removed})).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always serializes");
    text.push('\n');
    text
}
