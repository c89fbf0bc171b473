//! The plan as JSON for machines (`peergen/plan/v1`).

use serde::Serialize;

use crate::gitops::changes::{Changes, Counts, FileChange, PeerChange, ZoneChange};

/// The document `plan --format json` prints; its shape is `peergen/plan/v1` (docs/gitops.md).
#[derive(Serialize)]
struct PlanDocument<'a> {
    format: &'static str,
    checksum: &'a str,
    path: &'a str,
    changed: bool,
    summary: Summary,
    files: &'a [FileChange],
    peers: &'a [PeerChange],
    removed_consumers: &'a [String],
    needs_force: &'a [String],
    zones: &'a [ZoneChange],
    restarts: usize,
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    counts: Counts,
    unchanged: usize,
}

pub(crate) fn json(changes: &Changes, prefix: &str) -> String {
    let document = PlanDocument {
        format: "peergen/plan/v1",
        checksum: &changes.checksum,
        path: prefix,
        changed: !changes.is_empty(),
        summary: Summary {
            counts: changes.counts(),
            unchanged: changes.unchanged,
        },
        files: &changes.files,
        peers: &changes.peers,
        removed_consumers: &changes.removed_consumers,
        needs_force: &changes.needs_force,
        zones: &changes.zones,
        restarts: changes.restarts,
    };
    let mut text = serde_json::to_string_pretty(&document).expect("a plan always serializes");
    text.push('\n');
    text
}
