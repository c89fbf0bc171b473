//! A probe run's findings in four formats: a text table, a Markdown comment, JSON, and Prometheus
//! text exposition for the node-exporter textfile collector. All sorted as the scope is; only
//! measured times and resolved addresses vary between runs of the same network.

pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod prometheus;
pub(crate) mod text;

use super::rpc::NodeCheck;
use super::run::Outcome;
use super::stellar::InfoCheck;
use super::verdict::Verdict;

/// Everything one run found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) peers: Vec<Outcome>,
    pub(crate) nodes: Vec<NodeCheck>,
    pub(crate) stellar: Vec<InfoCheck>,
}

impl Report {
    /// True when any peer or own node does not match the plan.
    pub(crate) fn has_mismatch(&self) -> bool {
        self.peers.iter().any(|o| !o.verdict.is_ok())
            || self.nodes.iter().any(|n| !n.is_ok())
            || self.stellar.iter().any(|s| !s.problems().is_empty())
    }

    /// `3 peers: 2 ok, 1 timeout; 1 own node: mismatch`.
    pub(crate) fn summary(&self) -> String {
        let counts: Vec<String> = Verdict::NAMES
            .iter()
            .filter_map(|name| {
                let n = self
                    .peers
                    .iter()
                    .filter(|o| o.verdict.name() == *name)
                    .count();
                (n > 0).then(|| format!("{n} {name}"))
            })
            .collect();
        let mut out = format!(
            "{} planned peer{}",
            self.peers.len(),
            if self.peers.len() == 1 { "" } else { "s" }
        );
        if !counts.is_empty() {
            out.push_str(": ");
            out.push_str(&counts.join(", "));
        }
        let own = self.nodes.len() + self.stellar.len();
        if own > 0 {
            let bad = self.nodes.iter().filter(|n| !n.is_ok()).count()
                + self
                    .stellar
                    .iter()
                    .filter(|s| !s.problems().is_empty())
                    .count();
            out.push_str(&format!(
                "; {own} own node{}: {} ok, {bad} not matching",
                if own == 1 { "" } else { "s" },
                own - bad
            ));
        }
        out
    }
}

/// The resolved addresses as one cell: empty when the plan names an IP.
fn resolved(o: &Outcome) -> String {
    if o.target.address.ip().is_some() {
        return String::new();
    }
    o.resolved
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The remote's node ID and network as seen in the handshake.
fn seen(o: &Outcome) -> String {
    o.seen
        .as_ref()
        .map(|s| {
            format!(
                "{} on {} ({} {})",
                s.node_id, s.network, s.moniker, s.version
            )
        })
        .unwrap_or_default()
}
