//! Per-consumer settings as the inventory writes them (`defaults:` and `consumers:` layers) and
//! as they are in force for one consumer: selection mode, port strategy, Kubernetes names,
//! workload and `[p2p]` extras. Each name table lives beside its type.

use std::fmt;
use std::str::FromStr;

use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;
use crate::input::yaml::{Located, Origin};

use super::Field;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Selection {
    ConsumerValidators,
    OptedIn,
    AllBonded,
    /// Rank by sha256(consumer_id ‖ 0x00 ‖ operator_address), take ceil(n·percent/100).
    Subset {
        percent: u8,
    },
    /// `SelectValidatorSubset(consumerID, ratio)` of ICS Monitor commit 65c1f29, bit for bit.
    IcsMonitorV1 {
        ratio: f64,
    },
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::ConsumerValidators => f.write_str("consumer-validators"),
            Selection::OptedIn => f.write_str("opted-in"),
            Selection::AllBonded => f.write_str("all-bonded"),
            Selection::Subset { percent } => write!(f, "subset ({percent}%)"),
            Selection::IcsMonitorV1 { ratio } => write!(f, "ics-monitor-v1 (ratio {ratio})"),
        }
    }
}

impl Selection {
    /// Every mode's name, in the order messages list them.
    pub(crate) const NAMES: [&'static str; 5] = [
        "consumer-validators",
        "opted-in",
        "all-bonded",
        "subset",
        "ics-monitor-v1",
    ];

    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Selection::ConsumerValidators => "consumer-validators",
            Selection::OptedIn => "opted-in",
            Selection::AllBonded => "all-bonded",
            Selection::Subset { .. } => "subset",
            Selection::IcsMonitorV1 { .. } => "ics-monitor-v1",
        }
    }
}

/// A mode by name, with the default percent (67) or ratio (0.67) where the mode takes one.
impl FromStr for Selection {
    type Err = String;

    fn from_str(name: &str) -> Result<Selection, String> {
        Ok(match name {
            "consumer-validators" => Selection::ConsumerValidators,
            "opted-in" => Selection::OptedIn,
            "all-bonded" => Selection::AllBonded,
            "subset" => Selection::Subset { percent: 67 },
            "ics-monitor-v1" => Selection::IcsMonitorV1 { ratio: 0.67 },
            other => {
                return Err(format!(
                    "{other:?} is not a selection mode; expected one of {}",
                    Selection::NAMES.join(", ")
                ));
            }
        })
    }
}

/// How a consumer's public nodes are linked (`topology:`); the graph itself is
/// [`crate::cosmos::peers::topology`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Topology {
    FullMesh,
    /// Every node gets 2·⌈K/2⌉ ring neighbours (all others once that covers everyone), so the
    /// graph survives the loss of any K − 1 nodes. Precondition: K ≥ 1, which the inventory
    /// validates; K = 0 is not rejected here but yields a graph without edges.
    KConnected(u16),
}

/// How a consumer's port is chosen when the validator's endpoint does not fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortStrategy {
    /// `26656 + 100 + (BE_u32(sha256(consumer_id)[0..4]) % 1000) * 10`, as the ICS Monitor advertised.
    Hash,
    Fixed(u16),
}

impl PortStrategy {
    pub(crate) fn parse(text: &str) -> Result<PortStrategy, String> {
        match text.trim() {
            "hash" => Ok(PortStrategy::Hash),
            other => crate::input::address::parse_port(other)
                .map(PortStrategy::Fixed)
                .map_err(|_| {
                    format!(
                        "{other:?} is not a port strategy: expected `hash` or a port number 1-65535"
                    )
                }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    StatefulSet,
    Deployment,
    DaemonSet,
}

impl FromStr for WorkloadKind {
    type Err = String;

    fn from_str(kind: &str) -> Result<WorkloadKind, String> {
        match kind {
            "StatefulSet" => Ok(WorkloadKind::StatefulSet),
            "Deployment" => Ok(WorkloadKind::Deployment),
            "DaemonSet" => Ok(WorkloadKind::DaemonSet),
            other => Err(format!(
                "{other:?} is not StatefulSet, Deployment or DaemonSet"
            )),
        }
    }
}

impl WorkloadKind {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Workload {
    pub(crate) kind: WorkloadKind,
    pub(crate) name: NamePattern,
}

/// The ConfigMap name pattern when none is set.
pub(crate) const DEFAULT_CONFIGMAP: &str = "{{chain_id}}-peers";

/// The default for the nodes of a validator with sentries, which each get their own ConfigMap.
pub(crate) const DEFAULT_NODE_CONFIGMAP: &str = "{{chain_id}}-{{node}}-peers";

/// A Kubernetes name pattern with `{{validator}}`, `{{chain_id}}` (or `{{chain-id}}`) and `{{consumer_id}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NamePattern(String);

impl NamePattern {
    /// A pattern peergen supplies itself, known to be well-formed.
    pub(crate) fn builtin(text: &str) -> NamePattern {
        NamePattern(text.to_owned())
    }

    pub(super) fn parse(text: &str) -> Result<NamePattern, String> {
        check_variables(text, &["validator", "chain_id", "consumer_id", "node"])?;
        Ok(NamePattern(text.to_owned()))
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn expand(
        &self,
        validator: &str,
        chain_id: &str,
        consumer_id: &str,
        node: &str,
    ) -> String {
        expand_variables(&self.0, |name| match name {
            "validator" => validator,
            "consumer_id" => consumer_id,
            "node" => node,
            _ => chain_id,
        })
    }
}

/// `[p2p]` extras, each `None` when not configured (then the fragment leaves CometBFT's default).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct P2pSettings {
    pub(crate) addr_book_strict: Field<bool>,
    pub(crate) pex: Field<bool>,
    pub(crate) unconditional_peer_ids: Field<Vec<NodeId>>,
    pub(crate) private_peer_ids: Field<Vec<NodeId>>,
    pub(crate) seeds: Field<Vec<(NodeId, Endpoint)>>,
    /// CometBFT's inbound cap; the budget check uses [`DEFAULT_MAX_INBOUND`] when unset.
    pub(crate) max_num_inbound_peers: Field<u16>,
    pub(crate) allow_duplicate_ip: Field<bool>,
    /// Whether every mesh peer of a node is also unconditional for it (default true).
    pub(crate) unconditional_mesh: Field<bool>,
    /// A CometBFT duration such as `30s`; [`DEFAULT_MAX_DIAL_PERIOD`] when unset.
    pub(crate) max_dial_period: Field<String>,
}

/// CometBFT's default `max_num_inbound_peers`.
pub(crate) const DEFAULT_MAX_INBOUND: u16 = 40;

/// peergen's default `persistent_peers_max_dial_period`: CometBFT's own default (`0s`) gives up
/// redialling a lost persistent peer after about eight hours.
pub(crate) const DEFAULT_MAX_DIAL_PERIOD: &str = "30s";

/// A CometBFT (Go `time.ParseDuration`) duration peergen accepts: whole numbers of `ms`, `s`, `m`
/// or `h`, one or more, such as `30s` or `1m30s`.
pub(crate) fn check_duration(text: &str) -> Result<(), String> {
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let unit = ["ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest[digits..].starts_with(u));
        match unit {
            Some(u) if digits > 0 && digits <= 9 => rest = &rest[digits + u.len()..],
            _ => {
                return Err(format!(
                    "{text:?} is not a duration such as 30s, 2m or 1m30s (whole numbers of ms, s, m, h)"
                ));
            }
        }
        parts += 1;
    }
    if parts == 0 {
        return Err("the duration is empty; write for example 30s".to_owned());
    }
    Ok(())
}

/// Checks that every `{{variable}}` of the pattern `text` is one of `known` (each `_` name may be
/// written with `-`, as the seed's `{{chain-id}}` is).
pub(super) fn check_variables(text: &str, known: &[&str]) -> Result<(), String> {
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in {text:?}"))?;
        let written = after[..end].trim();
        if !known.contains(&written.replace('-', "_").as_str()) {
            let list: Vec<String> = known.iter().map(|k| format!("{{{{{k}}}}}")).collect();
            return Err(format!(
                "unknown variable `{{{{{written}}}}}` in {text:?}; known: {}",
                list.join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// `pattern` with each `{{variable}}` replaced by `value(name)` (`-` in a name read as `_`); the
/// pattern passed [`check_variables`].
pub(super) fn expand_variables<'a>(pattern: &str, value: impl Fn(&str) -> &'a str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find("}}").expect("checked at parse");
        out.push_str(value(&after[..end].trim().replace('-', "_")));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Per-consumer settings as written in one place (`defaults:` or one `consumers:` entry).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SettingsLayer {
    pub(crate) selection: Field<Selection>,
    pub(crate) port: Field<PortStrategy>,
    pub(crate) namespace: Field<NamePattern>,
    pub(crate) configmap: Field<NamePattern>,
    pub(crate) workload: Field<Workload>,
    pub(crate) topology: Field<Topology>,
    pub(crate) p2p: P2pSettings,
    pub(crate) exclude: Vec<Located<String>>,
    /// `chain_registry: true`: write the operator's sentries in chain-registry's `peers` shape.
    pub(crate) chain_registry: Field<bool>,
}

/// Settings in force for one consumer, after defaults and overrides are applied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub(crate) selection: Selection,
    pub(crate) port: Located<PortStrategy>,
    pub(crate) namespace: NamePattern,
    pub(crate) configmap: NamePattern,
    pub(crate) workload: Option<Workload>,
    pub(crate) topology: Topology,
    pub(crate) p2p: P2pSettings,
    pub(crate) exclude: Vec<Located<String>>,
    pub(crate) chain_registry: bool,
    /// Where the name patterns in force were written; `None` for peergen's built-in defaults.
    pub(crate) pattern_at: PatternOrigins,
}

/// The inventory positions of a consumer's `namespace`, `configmap` and `workload` patterns, for
/// errors about the names they make.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PatternOrigins {
    pub(crate) namespace: Option<Origin>,
    pub(crate) configmap: Option<Origin>,
    pub(crate) workload: Option<Origin>,
}

impl P2pSettings {
    pub(crate) fn max_inbound(&self) -> u16 {
        self.max_num_inbound_peers
            .as_ref()
            .map_or(DEFAULT_MAX_INBOUND, |m| m.value)
    }

    pub(crate) fn unconditional_mesh(&self) -> bool {
        self.unconditional_mesh.as_ref().is_none_or(|u| u.value)
    }

    pub(crate) fn allow_duplicate_ip(&self) -> bool {
        self.allow_duplicate_ip.as_ref().is_some_and(|a| a.value)
    }

    pub(crate) fn max_dial_period(&self) -> &str {
        self.max_dial_period
            .as_ref()
            .map_or(DEFAULT_MAX_DIAL_PERIOD, |d| d.value.as_str())
    }
}

impl SettingsLayer {
    /// Applies `over` on top of `self`: set fields replace, `exclude` lists add up.
    pub(super) fn overlay(&mut self, over: &SettingsLayer) {
        fn set<T: Clone>(slot: &mut Field<T>, over: &Field<T>) {
            if over.is_some() {
                slot.clone_from(over);
            }
        }
        set(&mut self.selection, &over.selection);
        set(&mut self.port, &over.port);
        set(&mut self.namespace, &over.namespace);
        set(&mut self.configmap, &over.configmap);
        set(&mut self.workload, &over.workload);
        set(&mut self.p2p.addr_book_strict, &over.p2p.addr_book_strict);
        set(&mut self.p2p.pex, &over.p2p.pex);
        set(
            &mut self.p2p.unconditional_peer_ids,
            &over.p2p.unconditional_peer_ids,
        );
        set(&mut self.p2p.private_peer_ids, &over.p2p.private_peer_ids);
        set(&mut self.p2p.seeds, &over.p2p.seeds);
        set(
            &mut self.p2p.max_num_inbound_peers,
            &over.p2p.max_num_inbound_peers,
        );
        set(
            &mut self.p2p.allow_duplicate_ip,
            &over.p2p.allow_duplicate_ip,
        );
        set(
            &mut self.p2p.unconditional_mesh,
            &over.p2p.unconditional_mesh,
        );
        set(&mut self.p2p.max_dial_period, &over.p2p.max_dial_period);
        set(&mut self.topology, &over.topology);
        set(&mut self.chain_registry, &over.chain_registry);
        self.exclude.extend(over.exclude.iter().cloned());
    }
}
