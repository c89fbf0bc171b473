//! Alert rules from the plan: per validator one `PrometheusRule` whose thresholds are the plan's
//! own numbers (each node's planned peer count) and whose probe alerts name exactly the planned
//! peers. Every string placed in a PromQL matcher goes through `escape::promql_string`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cosmos::inventory::monitoring::{Monitoring, NodeVars};
use crate::cosmos::peers::View;
use crate::output::escape::promql_string;

/// The probe's gauges (`peergen probe --format prometheus`), per consumer and planned peer, with
/// labels `chain_id` and `peer` (the planned node ID), and `consumer` (the consumer id), which the
/// rules match only where two active consumers share a chain id.
pub(crate) const PROBE_UP: &str = "peergen_probe_up";
pub(crate) const PROBE_ID_MATCH: &str = "peergen_probe_id_match";

pub(crate) const PEERS_BELOW_PLAN: &str = "PeergenPeersBelowPlan";
pub(crate) const PEERS_METRIC_ABSENT: &str = "PeergenPeersMetricAbsent";
pub(crate) const PLANNED_PEER_DOWN: &str = "PeergenPlannedPeerDown";
pub(crate) const PLANNED_PEER_ID_MISMATCH: &str = "PeergenPlannedPeerIdMismatch";

/// One alerting rule as the template prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Rule {
    pub(crate) alert: &'static str,
    pub(crate) expr: String,
    #[serde(rename = "for")]
    pub(crate) for_duration: String,
    pub(crate) labels: BTreeMap<&'static str, String>,
    pub(crate) annotations: BTreeMap<&'static str, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) rules: Vec<Rule>,
    /// Consumer id and chain id, for the probe rules added once all its nodes are seen.
    #[serde(skip)]
    consumer: (String, String),
}

/// One validator's rule file: the template context and what verification expects back.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct RuleFile {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) validator: String,
    pub(crate) groups: Vec<Group>,
}

/// The matchers selecting one node's CometBFT metrics: its chain id, then the configured labels.
fn node_selector(monitoring: &Monitoring, view: &View<'_>) -> String {
    let cp = view.consumer;
    let vars = NodeVars {
        validator: &view.member.validator,
        slug: &cp.slug,
        consumer_id: &cp.consumer_id,
        node: view.member.node_name(),
        namespace: &view.namespace,
    };
    let mut matchers = vec![format!("chain_id={}", promql_string(&cp.chain_id))];
    for (name, pattern) in &monitoring.labels {
        matchers.push(format!("{name}={}", promql_string(&pattern.expand(&vars))));
    }
    format!("{{{}}}", matchers.join(", "))
}

/// An error when two rendered nodes of one consumer would select the same series: each node's
/// alert would then fire for the other's peers.
#[derive(Debug, thiserror::Error)]
#[error(
    "monitoring.labels select the same metrics {selector} for {first} and {second} on consumer {consumer_id} ({chain_id}); add a label that tells the nodes apart, e.g. `pod: \"{{{{chain_id}}}}-{{{{node}}}}-0\"`"
)]
pub(crate) struct SelectorClash {
    pub(crate) selector: String,
    pub(crate) first: String,
    pub(crate) second: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
}

/// Builds every validator's rule file from the views of one render (all validators' views, so
/// selector clashes between validators are caught too), keyed by validator.
pub(crate) fn rule_files(
    monitoring: &Monitoring,
    views: &[View<'_>],
) -> Result<BTreeMap<String, RuleFile>, SelectorClash> {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut files: BTreeMap<String, RuleFile> = BTreeMap::new();
    // Planned peer IDs per (validator, consumer), for the probe rules.
    let mut probed: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let labels = |view: &View<'_>| {
        BTreeMap::from([
            ("severity", monitoring.severity.clone()),
            ("validator", view.member.validator.clone()),
            ("consumer_id", view.consumer.consumer_id.clone()),
            ("chain_id", view.consumer.chain_id.clone()),
            ("node", view.member.node_name().to_owned()),
        ])
    };
    for view in views {
        let cp = view.consumer;
        let selector = node_selector(monitoring, view);
        if let Some(first) = seen.insert(
            (cp.consumer_id.clone(), selector.clone()),
            view.member.label(),
        ) {
            return Err(SelectorClash {
                selector,
                first,
                second: view.member.label(),
                consumer_id: cp.consumer_id.clone(),
                chain_id: cp.chain_id.clone(),
            });
        }
        let file = files
            .entry(view.member.validator.clone())
            .or_insert_with(|| RuleFile {
                name: format!("peergen-{}", view.member.validator),
                namespace: monitoring.rule_namespace.clone(),
                validator: view.member.validator.clone(),
                groups: Vec::new(),
            });
        let group_name = format!("peergen.{}.{}", view.member.validator, cp.slug);
        if file.groups.last().is_none_or(|g| g.name != group_name) {
            file.groups.push(Group {
                name: group_name,
                rules: Vec::new(),
                consumer: (cp.consumer_id.clone(), cp.chain_id.clone()),
            });
        }
        let group = file.groups.last_mut().expect("pushed above");
        let metric = format!("{}_p2p_peers", monitoring.metric_namespace);
        let expected = view.peers.len();
        let who = format!(
            "{} on {} (consumer {})",
            view.member.label(),
            cp.chain_id,
            cp.consumer_id
        );
        if expected > 0 {
            group.rules.push(Rule {
                alert: PEERS_BELOW_PLAN,
                expr: format!("{metric}{selector} < {expected}"),
                for_duration: monitoring.for_duration.clone(),
                labels: labels(view),
                annotations: BTreeMap::from([
                    (
                        "summary",
                        format!("{who} has fewer peers than the {expected} it is planned to keep"),
                    ),
                    (
                        "description",
                        format!(
                            "{metric} has stayed below {expected}, the node's persistent peers in the rendered plan; check `peergen probe` for the planned peers that are down or have changed their node ID"
                        ),
                    ),
                ]),
            });
        }
        group.rules.push(Rule {
            alert: PEERS_METRIC_ABSENT,
            expr: format!("absent({metric}{selector})"),
            for_duration: monitoring.for_duration.clone(),
            labels: labels(view),
            annotations: BTreeMap::from([
                ("summary", format!("{who} reports no {metric}")),
                (
                    "description",
                    format!(
                        "no series matches {metric}{selector}: the node is down, not scraped, or its metric namespace or labels differ from the inventory's monitoring section"
                    ),
                ),
            ]),
        });
        probed
            .entry((view.member.validator.clone(), cp.consumer_id.clone()))
            .or_default()
            .extend(view.peers.iter().map(|m| m.node_id.as_str().to_owned()));
    }
    let mut consumers_of_chain: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for v in views {
        consumers_of_chain
            .entry(v.consumer.chain_id.as_str())
            .or_default()
            .insert(v.consumer.consumer_id.as_str());
    }
    let shared_chain_ids: BTreeSet<&str> = consumers_of_chain
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(chain, _)| chain)
        .collect();
    for file in files.values_mut() {
        for group in &mut file.groups {
            let (consumer_id, chain_id) = group.consumer.clone();
            let peers = &probed[&(file.validator.clone(), consumer_id.clone())];
            if peers.is_empty() {
                continue;
            }
            let ids: Vec<&str> = peers.iter().map(String::as_str).collect();
            // Two active consumers may share a chain id; the probe's `consumer` label (the
            // consumer id) then tells their series apart.
            let consumer = if shared_chain_ids.contains(chain_id.as_str()) {
                format!("consumer={}, ", promql_string(&consumer_id))
            } else {
                String::new()
            };
            let probe = format!(
                "{{{consumer}chain_id={}, peer=~{}}}",
                promql_string(&chain_id),
                promql_string(&ids.join("|"))
            );
            let who = format!(
                "a planned peer of {} on {chain_id} (consumer {consumer_id})",
                file.validator
            );
            let labels = BTreeMap::from([
                ("severity", monitoring.severity.clone()),
                ("validator", file.validator.clone()),
                ("consumer_id", consumer_id.clone()),
                ("chain_id", chain_id.clone()),
            ]);
            group.rules.push(Rule {
                alert: PLANNED_PEER_DOWN,
                expr: format!("{PROBE_UP}{probe} == 0"),
                for_duration: monitoring.for_duration.clone(),
                labels: labels.clone(),
                annotations: BTreeMap::from([
                    ("summary", format!("{who} is down")),
                    (
                        "description",
                        "peergen probe could not complete the P2P handshake with this planned peer (refused, timed out, DNS failure or handshake failure)".to_owned(),
                    ),
                ]),
            });
            group.rules.push(Rule {
                alert: PLANNED_PEER_ID_MISMATCH,
                expr: format!(
                    "{PROBE_ID_MATCH}{probe} == 0 and on (consumer, chain_id, peer) {PROBE_UP}{probe} == 1"
                ),
                for_duration: monitoring.for_duration.clone(),
                labels,
                annotations: BTreeMap::from([
                    ("summary", format!("{who} answers with another node ID")),
                    (
                        "description",
                        "the peer at the planned address completed the handshake with a node key other than the planned one (CometBFT refuses it: \"conn.ID … dialed ID … mismatch\"); update its node_id in the inventory or ask its operator".to_owned(),
                    ),
                ]),
            });
        }
    }
    files.retain(|_, f| !f.groups.is_empty());
    Ok(files)
}

/// The parts of a PrometheusRule verification reads back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleDoc {
    api_version: String,
    kind: String,
    metadata: RuleMeta,
    spec: RuleSpec,
}

#[derive(Deserialize)]
struct RuleMeta {
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
struct RuleSpec {
    groups: Vec<GroupDoc>,
}

#[derive(Deserialize)]
struct GroupDoc {
    name: String,
    rules: Vec<RuleEntry>,
}

#[derive(Deserialize)]
struct RuleEntry {
    alert: String,
    expr: String,
    #[serde(default, rename = "for")]
    for_duration: Option<String>,
}

/// A group as verification compares it: its name and each rule's alert, expression and `for`.
type GroupShape = (String, Vec<(String, String, Option<String>)>);

/// Checks the rendered text is a `monitoring.coreos.com/v1` PrometheusRule with exactly the
/// planned groups, alerts, expressions and durations.
pub(crate) fn verify(text: &str, planned: &RuleFile) -> Result<(), String> {
    let doc: RuleDoc = serde_saphyr::from_str(text)
        .map_err(|e| format!("not a PrometheusRule: {}", e.without_snippet()))?;
    if doc.api_version != "monitoring.coreos.com/v1" || doc.kind != "PrometheusRule" {
        return Err("not a monitoring.coreos.com/v1 PrometheusRule".into());
    }
    if doc.metadata.name != planned.name || doc.metadata.namespace != planned.namespace {
        return Err(format!(
            "metadata is not {}/{}",
            planned.namespace, planned.name
        ));
    }
    let got: Vec<GroupShape> = doc
        .spec
        .groups
        .into_iter()
        .map(|g| {
            let rules = g
                .rules
                .into_iter()
                .map(|r| (r.alert, r.expr, r.for_duration))
                .collect();
            (g.name, rules)
        })
        .collect();
    let want: Vec<GroupShape> = planned
        .groups
        .iter()
        .map(|g| {
            let rules = g
                .rules
                .iter()
                .map(|r| {
                    (
                        r.alert.to_owned(),
                        r.expr.clone(),
                        Some(r.for_duration.clone()),
                    )
                })
                .collect();
            (g.name.clone(), rules)
        })
        .collect();
    if got != want {
        return Err("its groups, alerts or expressions differ from the plan's".into());
    }
    Ok(())
}
