//! Node roles: a validator's private validator node behind one or more public sentries. Each
//! sentry has a name, a public endpoint template and its own node ID(s); the validator node keeps
//! the validator's node ID and is reached by its sentries at `private_endpoint`, which no other
//! operator ever sees.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::endpoint::EndpointTemplate;
use super::merge::SourceKind;
use super::{Field, InventoryError, invalid};
use crate::cosmos::node_id::NodeId;
use crate::input::name::check_label;
use crate::input::yaml::{Located, Origin, Spanned};

/// The directory and `{{node}}` name of the validator node itself; no sentry may take it.
pub(crate) const VALIDATOR_NODE: &str = "validator";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSentry {
    name: Spanned<String>,
    consumer_template: Option<Spanned<String>>,
    endpoint_source: Option<Spanned<String>>,
    node_id: Option<Spanned<String>>,
    node_ids: Option<BTreeMap<String, Spanned<String>>>,
    node_key_file: Option<Spanned<String>>,
    consumers: Option<Spanned<Vec<Spanned<String>>>>,
    srv: Option<Spanned<RawSrv>>,
}

/// `srv:` of a public node: the priority and weight of its SRV record (RFC 2782).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSrv {
    priority: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

/// The priority and weight a public node's SRV record carries (both 0 unless set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SrvRank {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
}

/// `srv:` of the node whose fields `f` names.
pub(super) fn parse_srv(
    file: &Arc<Path>,
    f: &dyn Fn(&str) -> String,
    raw: Option<Spanned<RawSrv>>,
) -> Result<SrvRank, InventoryError> {
    let Some(raw) = raw else {
        return Ok(SrvRank::default());
    };
    let field = |value: Option<Spanned<i64>>, name: &str| match value {
        None => Ok(0),
        Some(v) => u16::try_from(v.value).map_err(|_| {
            invalid(
                &Origin::of(file, &v),
                f(&format!("srv.{name}")),
                format!(
                    "{} is out of range: an SRV {name} is a whole number from 0 to 65535",
                    v.value
                ),
            )
        }),
    };
    Ok(SrvRank {
        priority: field(raw.value.priority, "priority")?,
        weight: field(raw.value.weight, "weight")?,
    })
}

/// Where a sentry's public endpoint comes from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SentryEndpoint {
    /// `consumer_template`, expanded per consumer.
    Template(Located<EndpointTemplate>),
    /// `endpoint_source: dns`: the sentry's own SRV owner, `_service._proto.<sentry>.<validator>-<slug>`,
    /// resolved into the snapshot by `peergen resolve`.
    Dns(Origin),
    /// `endpoint_source: registry`: node ID and address from the etcd registry key
    /// `<prefix>/<chain>/<operator>/<consumer>/<sentry name>`, locked into the snapshot by `fetch`.
    Registry(Origin),
}

/// A public node in front of a validator node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sentry {
    pub(crate) name: String,
    pub(crate) at: Origin,
    pub(crate) endpoint: SentryEndpoint,
    pub(crate) node_id: Field<NodeId>,
    pub(crate) node_ids: BTreeMap<String, Located<NodeId>>,
    /// `consumers:`: the consumer ids or chain ids this sentry serves; empty means every consumer.
    pub(crate) consumers: Vec<Located<String>>,
    pub(crate) srv: SrvRank,
}

impl Sentry {
    /// Whether this sentry serves the consumer (`consumers:` names it, or is not set).
    pub(crate) fn serves(&self, consumer_id: &str, chain_id: &str) -> bool {
        self.consumers.is_empty()
            || self
                .consumers
                .iter()
                .any(|c| c.value == consumer_id || c.value == chain_id)
    }

    /// The node ID this sentry uses on a consumer: per consumer id, then per chain id, then the default.
    pub(crate) fn node_id_for(&self, consumer_id: &str, chain_id: &str) -> Option<&NodeId> {
        node_id_for(&self.node_id, &self.node_ids, consumer_id, chain_id)
    }
}

/// Per consumer id, then per chain id, then the node's one ID.
pub(crate) fn node_id_for<'a>(
    node_id: &'a Field<NodeId>,
    node_ids: &'a BTreeMap<String, Located<NodeId>>,
    consumer_id: &str,
    chain_id: &str,
) -> Option<&'a NodeId> {
    node_ids
        .get(consumer_id)
        .or_else(|| node_ids.get(chain_id))
        .or(node_id.as_ref())
        .map(|l| &l.value)
}

/// Node IDs by consumer id or chain id.
pub(super) type PerConsumer = BTreeMap<String, Located<NodeId>>;

/// A node's IDs as written: `node_id`, `node_ids` (per consumer) and `node_key_file`.
pub(super) struct NodeIds {
    pub(super) node_id: Field<NodeId>,
    pub(super) node_ids: BTreeMap<String, Located<NodeId>>,
    pub(super) node_key_file: Field<NodeId>,
}

/// Parses a node's IDs; `f` names a field of this node for messages.
pub(super) fn parse_node_ids(
    file: &Arc<Path>,
    dir: &Path,
    f: &dyn Fn(&str) -> String,
    node_id: Option<Spanned<String>>,
    node_ids: Option<BTreeMap<String, Spanned<String>>>,
    node_key_file: Option<Spanned<String>>,
) -> Result<NodeIds, InventoryError> {
    let mut out = NodeIds {
        node_id: None,
        node_ids: BTreeMap::new(),
        node_key_file: None,
    };
    if let Some(id) = node_id {
        let at = Origin::of(file, &id);
        let value = NodeId::parse(id.value.trim())
            .map_err(|e| invalid(&at, f("node_id"), e.to_string()))?;
        out.node_id = Some(Located { value, at });
    }
    for (key, id) in node_ids.unwrap_or_default() {
        let at = Origin::of(file, &id);
        let value = NodeId::parse(id.value.trim()).map_err(|e| {
            invalid(
                &at,
                f(&format!("node_ids.{key}")),
                format!("consumer {key}: {e}"),
            )
        })?;
        out.node_ids.insert(key, Located { value, at });
    }
    if let Some(path) = node_key_file {
        let at = Origin::of(file, &path);
        let value = crate::cosmos::node_id::from_node_key_file(&dir.join(&path.value))
            .map_err(|e| invalid(&at, f("node_key_file"), e.to_string()))?;
        out.node_key_file = Some(Located { value, at });
    }
    Ok(out)
}

/// The one default node ID of a node: `node_id` and `node_key_file` must agree, and a node needs
/// at least one ID. `f` names a field of this node, `at` is where the node is described.
pub(super) fn default_node_id(
    ids: NodeIds,
    at: &Origin,
    f: &dyn Fn(&str) -> String,
    whole: &str,
) -> Result<(Field<NodeId>, PerConsumer), InventoryError> {
    let node_id = match (ids.node_id, ids.node_key_file) {
        (Some(id), Some(key)) if id.value != key.value => {
            return Err(invalid(
                &key.at,
                f("node_key_file"),
                format!(
                    "derives node ID {} but node_id (at {}) says {}; remove one of them",
                    key.value, id.at, id.value
                ),
            ));
        }
        (id, key) => id.or(key),
    };
    if node_id.is_none() && ids.node_ids.is_empty() {
        return Err(invalid(
            at,
            whole,
            "has no node ID: set node_id, node_ids (per consumer) or node_key_file",
        ));
    }
    Ok((node_id, ids.node_ids))
}

/// `sentries:` of validator `name`: names unique DNS labels other than `validator`, each with a
/// public endpoint template and a node ID.
pub(super) fn parse_sentries(
    file: &Arc<Path>,
    dir: &Path,
    name: &str,
    raw: Spanned<Vec<Spanned<RawSentry>>>,
) -> Result<Located<Vec<Sentry>>, InventoryError> {
    let list_at = Origin::of(file, &raw);
    if raw.value.is_empty() {
        return Err(invalid(
            &list_at,
            format!("validators.{name}.sentries"),
            "is empty; list at least one sentry, or remove `sentries:` to make the validator node public",
        ));
    }
    let mut sentries: Vec<Sentry> = Vec::new();
    for (i, s) in raw.value.into_iter().enumerate() {
        let at = Origin::of(file, &s);
        let s = s.value;
        let sentry_name = s.name.value.clone();
        let whole = format!("validators.{name}.sentries[{i}]");
        let f = |field: &str| format!("{whole}.{field}");
        let name_at = Origin::of(file, &s.name);
        check_label(&sentry_name).map_err(|r| {
            invalid(
                &name_at,
                f("name"),
                format!("{r}: a sentry name becomes a directory and a Kubernetes name"),
            )
        })?;
        if sentry_name == VALIDATOR_NODE {
            return Err(invalid(
                &name_at,
                f("name"),
                format!(
                    "{VALIDATOR_NODE:?} is the validator node's own name; give the sentry another"
                ),
            ));
        }
        if let Some(other) = sentries.iter().find(|o| o.name == sentry_name) {
            return Err(invalid(
                &name_at,
                f("name"),
                format!(
                    "{sentry_name:?} is also the name of the sentry at {}; sentry names are unique per validator",
                    other.at
                ),
            ));
        }
        // `endpoint_source: template` beside a consumer_template says what the default says.
        let source = s.endpoint_source.filter(|src| {
            s.consumer_template.is_none()
                || SourceKind::parse(&src.value) != Some(SourceKind::Template)
        });
        let endpoint = match (s.consumer_template, source) {
            (Some(t), None) => {
                let tat = Origin::of(file, &t);
                let value = EndpointTemplate::parse(&t.value)
                    .map_err(|m| invalid(&tat, f("consumer_template"), m))?;
                SentryEndpoint::Template(Located { value, at: tat })
            }
            (None, Some(src)) => {
                let sat = Origin::of(file, &src);
                match SourceKind::parse(&src.value) {
                    Some(SourceKind::Dns) => SentryEndpoint::Dns(sat),
                    Some(SourceKind::Template) => {
                        return Err(invalid(
                            &sat,
                            f("endpoint_source"),
                            "`template` needs the sentry's consumer_template, e.g. `sentry-a-{{chain-id}}.example.com:{{port}}` (a template is the default: `endpoint_source:` can then go)",
                        ));
                    }
                    Some(SourceKind::Registry) => SentryEndpoint::Registry(sat),
                    Some(SourceKind::ChainRegistry) => {
                        return Err(invalid(
                            &sat,
                            f("endpoint_source"),
                            "`chain-registry` applies to the whole validator: set `endpoint_source: chain-registry` on validators.{name} and remove `sentries:`; its sentries are then its provider's chain.json entries (docs/registry.md)".replace("{name}", name),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            &sat,
                            f("endpoint_source"),
                            format!(
                                "{:?} is not an endpoint source; valid on a sentry: dns, registry (or give a consumer_template; `chain-registry` is set on the validator)",
                                src.value
                            ),
                        ));
                    }
                }
            }
            (Some(t), Some(src)) => {
                return Err(invalid(
                    &Origin::of(file, &src),
                    f("endpoint_source"),
                    format!(
                        "conflicts with consumer_template at {}; keep one of them",
                        Origin::of(file, &t)
                    ),
                ));
            }
            (None, None) => {
                return Err(invalid(
                    &at,
                    f("consumer_template"),
                    "missing: a sentry is public and needs its endpoint, e.g. `sentry-a-{{chain-id}}.example.com:{{port}}`, or `endpoint_source: dns`",
                ));
            }
        };
        let consumers = match s.consumers {
            None => Vec::new(),
            Some(list) if list.value.is_empty() => {
                return Err(invalid(
                    &Origin::of(file, &list),
                    f("consumers"),
                    "is empty; list the consumer ids or chain ids this sentry serves, or remove `consumers:` to serve every consumer",
                ));
            }
            Some(list) => list
                .value
                .into_iter()
                .map(|c| Located {
                    at: Origin::of(file, &c),
                    value: c.value,
                })
                .collect(),
        };
        if let (SentryEndpoint::Dns(_), Some(srv)) = (&endpoint, &s.srv) {
            return Err(invalid(
                &Origin::of(file, srv),
                f("srv"),
                "does not apply with `endpoint_source: dns`: the sentry's own SRV record carries its priority and weight",
            ));
        }
        let srv = parse_srv(file, &f, s.srv)?;
        let ids = parse_node_ids(file, dir, &f, s.node_id, s.node_ids, s.node_key_file)?;
        let (node_id, node_ids) = match &endpoint {
            // Its node ID is the one in its registry entry: the inventory giving another would
            // be a second truth.
            SentryEndpoint::Registry(sat) => {
                let set = [
                    ("node_id", ids.node_id.as_ref().map(|l| &l.at)),
                    ("node_ids", ids.node_ids.values().next().map(|l| &l.at)),
                    ("node_key_file", ids.node_key_file.as_ref().map(|l| &l.at)),
                ];
                if let Some((field, Some(fat))) = set.into_iter().find(|(_, a)| a.is_some()) {
                    return Err(invalid(
                        fat,
                        f(field),
                        format!(
                            "does not apply with `endpoint_source: registry` (at {sat}): the sentry's node ID and address come from its registry entry"
                        ),
                    ));
                }
                (None, BTreeMap::new())
            }
            _ => default_node_id(ids, &at, &f, &whole)?,
        };
        sentries.push(Sentry {
            name: sentry_name,
            at,
            endpoint,
            node_id,
            node_ids,
            consumers,
            srv,
        });
    }
    Ok(Located {
        value: sentries,
        at: list_at,
    })
}
