//! Reading one inventory file: the raw serde schema, and each raw value turned into its validated
//! type with the file, line and column it came from.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;

use super::dns::DnsName;
use super::endpoint::{EndpointTemplate, PortRange};
use super::merge::{Partial, PartialValidator, SourceKind};
use super::roles::{RawSentry, RawSrv, parse_node_ids, parse_sentries, parse_srv};
use super::settings::{
    NamePattern, PortStrategy, Selection, SettingsLayer, Topology, Workload, WorkloadKind,
    check_duration,
};
use super::{InventoryError, ProviderAuth, ValidatorPorts, invalid};
use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;
use crate::input::yaml::{self, Bool, Located, Origin, RawWorkload, Spanned};

// ---------------------------------------------------------------- raw schema (serde only)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    version: Option<Spanned<u32>>,
    network: Option<Spanned<String>>,
    provider: Option<Spanned<RawProvider>>,
    state: Option<Spanned<String>>,
    defaults: Option<Spanned<RawSettings>>,
    consumers: Option<BTreeMap<String, Spanned<RawSettings>>>,
    validators: Option<BTreeMap<String, Spanned<RawValidator>>>,
    dns: Option<Spanned<crate::cosmos::inventory::dns::RawDns>>,
    registry: Option<Spanned<super::registry::RawRegistry>>,
    chain_registry: Option<Spanned<super::registry::RawChainRegistry>>,
    monitoring: Option<Spanned<super::monitoring::RawMonitoring>>,
    allowlist: Option<Spanned<super::monitoring::RawAllowlist>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    chain_id: Option<Spanned<String>>,
    rest: Option<Spanned<String>>,
    bech32_prefix: Option<Spanned<String>>,
    auth: Option<Spanned<RawAuth>>,
    max_drop_percent: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    bearer_token_env: Option<Spanned<String>>,
    basic_auth_env: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    selection: Option<Spanned<String>>,
    percent: Option<Spanned<u32>>,
    ratio: Option<Spanned<f64>>,
    port: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    configmap: Option<Spanned<String>>,
    workload: Option<Spanned<RawWorkload>>,
    topology: Option<Spanned<Json>>,
    p2p: Option<Spanned<RawP2p>>,
    exclude: Option<Spanned<Vec<String>>>,
    chain_registry: Option<Spanned<Bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawP2p {
    addr_book_strict: Option<Spanned<Bool>>,
    pex: Option<Spanned<Bool>>,
    unconditional_peer_ids: Option<Spanned<Vec<String>>>,
    private_peer_ids: Option<Spanned<Vec<String>>>,
    seeds: Option<Spanned<Vec<String>>>,
    max_num_inbound_peers: Option<Spanned<Json>>,
    allow_duplicate_ip: Option<Spanned<Bool>>,
    unconditional_mesh: Option<Spanned<Bool>>,
    persistent_peers_max_dial_period: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    operator_address: Option<Spanned<String>>,
    moniker: Option<Spanned<String>>,
    provider_endpoint: Option<Spanned<String>>,
    consumer_template: Option<Spanned<String>>,
    rpc_template: Option<Spanned<String>>,
    node_id: Option<Spanned<String>>,
    node_ids: Option<BTreeMap<String, Spanned<String>>>,
    node_key_file: Option<Spanned<String>>,
    ports: Option<Spanned<String>>,
    port_overrides: Option<BTreeMap<String, Spanned<String>>>,
    endpoint_source: Option<Spanned<String>>,
    dns_zone: Option<Spanned<String>>,
    private_endpoint: Option<Spanned<String>>,
    sentries: Option<Spanned<Vec<Spanned<RawSentry>>>>,
    srv: Option<Spanned<RawSrv>>,
}

/// The output directory of zone files, which no validator's directory may take.
const RESERVED_VALIDATOR: &str = "dns";

/// `full-mesh` or `{k-connected: K}` with K ≥ 1.
fn parse_topology(value: &Json) -> Result<Topology, String> {
    let wanted = "expected `full-mesh` or `{k-connected: K}` with a whole number K ≥ 1";
    if value.as_str() == Some("full-mesh") {
        return Ok(Topology::FullMesh);
    }
    let k = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("k-connected"))
        .ok_or_else(|| format!("{value} is not a topology; {wanted}"))?;
    match k.as_u64() {
        Some(0) => Err(
            "k-connected: 0 links nothing; K is the number of nodes that may fail with the graph still connected, at least 1 (K ≥ n−1 is the full mesh)"
                .to_owned(),
        ),
        Some(k) => Ok(Topology::KConnected(u16::try_from(k).unwrap_or(u16::MAX))),
        None => Err(format!("k-connected: {k} is not a whole number; {wanted}")),
    }
}

fn located<S, T>(file: &Arc<Path>, s: &Spanned<S>, value: T) -> Located<T> {
    Located {
        value,
        at: Origin::of(file, s),
    }
}

pub(super) fn parse_file(file: &Arc<Path>, text: &str) -> Result<Partial, InventoryError> {
    let raw: RawInventory = yaml::parse(file, text)?;
    let version = match raw.version {
        Some(v) if v.value != 1 => {
            return Err(invalid(
                &Origin::of(file, &v),
                "version",
                format!(
                    "schema version {} is not supported; this peergen reads version 1",
                    v.value
                ),
            ));
        }
        Some(v) => Some(located(file, &v, v.value)),
        None => None,
    };
    if let Some(n) = &raw.network
        && n.value != "cosmos"
    {
        return Err(invalid(
            &Origin::of(file, n),
            "network",
            format!(
                "{:?} is not a network this command handles; expected `cosmos`",
                n.value
            ),
        ));
    }
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let (mut chain_id, mut rest, mut prefix) = (None, None, None);
    let (mut provider_auth, mut max_drop_percent) = (None, None);
    if let Some(p) = raw.provider {
        let p = p.value;
        if let Some(a) = p.auth {
            let at = Origin::of(file, &a);
            provider_auth = Some(Located {
                value: parse_auth(file, &at, a.value)?,
                at,
            });
        }
        if let Some(m) = p.max_drop_percent {
            let at = Origin::of(file, &m);
            let value = u8::try_from(m.value)
                .ok()
                .filter(|v| *v <= 100)
                .ok_or_else(|| {
                    invalid(
                        &at,
                        "provider.max_drop_percent",
                        format!("{} is not a percentage from 0 to 100", m.value),
                    )
                })?;
            max_drop_percent = Some(Located { value, at });
        }
        chain_id = p.chain_id.map(|s| located(file, &s, s.value.clone()));
        rest = p.rest.map(|s| located(file, &s, s.value.clone()));
        if let Some(s) = p.bech32_prefix {
            if s.value.is_empty()
                || !s
                    .value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(invalid(
                    &Origin::of(file, &s),
                    "provider.bech32_prefix",
                    format!("{:?} is not a bech32 prefix such as `cosmos`", s.value),
                ));
            }
            prefix = Some(located(file, &s, s.value.clone()));
        }
    }
    let state = raw.state.map(|s| located(file, &s, dir.join(&s.value)));
    let defaults = match raw.defaults {
        Some(d) => Some(Located {
            at: Origin::of(file, &d),
            value: parse_settings(file, "defaults", d.value)?,
        }),
        None => None,
    };
    let mut consumers = BTreeMap::new();
    for (key, s) in raw.consumers.unwrap_or_default() {
        let at = Origin::of(file, &s);
        let layer = parse_settings(file, &format!("consumers.{key}"), s.value)?;
        consumers.insert(key, Located { value: layer, at });
    }
    let mut validators = BTreeMap::new();
    for (name, v) in raw.validators.unwrap_or_default() {
        let at = Origin::of(file, &v);
        crate::input::name::check_label(&name)
            .map_err(|r| {
                format!("{r}: a validator name becomes a directory, a namespace and a DNS label")
            })
            .map_err(|m| invalid(&at, format!("validators.{name}"), m))?;
        if name == RESERVED_VALIDATOR {
            return Err(invalid(
                &at,
                format!("validators.{name}"),
                "is reserved: `dns/` in the output holds the zone files; give the validator another key (its moniker may stay `dns`)",
            ));
        }
        let pv = parse_validator(file, &dir, &name, at, v.value)?;
        validators.insert(name, pv);
    }
    let dns = match raw.dns {
        Some(d) => Some(crate::cosmos::inventory::dns::parse(file, d)?),
        None => None,
    };
    let registry = match raw.registry {
        Some(r) => Some(super::registry::parse(file, &dir, r)?),
        None => None,
    };
    let chain_registry = match raw.chain_registry {
        Some(r) => Some(super::registry::parse_chain_registry(file, &dir, r)?),
        None => None,
    };
    let monitoring = raw
        .monitoring
        .map(|m| super::monitoring::parse_monitoring(file, m))
        .transpose()?;
    let allowlist = raw
        .allowlist
        .map(|a| super::monitoring::parse_allowlist(file, a))
        .transpose()?;
    Ok(Partial {
        version,
        provider_chain_id: chain_id,
        provider_rest: rest,
        bech32_prefix: prefix,
        provider_auth,
        max_drop_percent,
        state,
        defaults,
        consumers,
        validators,
        dns,
        registry,
        chain_registry,
        monitoring,
        allowlist,
    })
}

fn parse_auth(file: &Arc<Path>, at: &Origin, raw: RawAuth) -> Result<ProviderAuth, InventoryError> {
    let (field, name, make): (&str, Spanned<String>, fn(String) -> ProviderAuth) =
        match (raw.bearer_token_env, raw.basic_auth_env) {
            (Some(n), None) => ("bearer_token_env", n, ProviderAuth::BearerTokenEnv),
            (None, Some(n)) => ("basic_auth_env", n, ProviderAuth::BasicAuthEnv),
            _ => {
                return Err(invalid(
                    at,
                    "provider.auth",
                    "set exactly one of bearer_token_env or basic_auth_env",
                ));
            }
        };
    let valid = name
        .value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(invalid(
            &Origin::of(file, &name),
            format!("provider.auth.{field}"),
            format!(
                "{:?} is not an environment variable name; give the name of the variable, never the secret",
                name.value
            ),
        ));
    }
    Ok(make(name.value))
}

fn parse_settings(
    file: &Arc<Path>,
    scope: &str,
    raw: RawSettings,
) -> Result<SettingsLayer, InventoryError> {
    let mut layer = SettingsLayer::default();
    let percent = match raw.percent {
        Some(p) => {
            let at = Origin::of(file, &p);
            if !(1..=100).contains(&p.value) {
                return Err(invalid(
                    &at,
                    format!("{scope}.percent"),
                    format!("{} is not a whole percentage from 1 to 100", p.value),
                ));
            }
            Some(Located {
                value: u8::try_from(p.value).expect("≤ 100"),
                at,
            })
        }
        None => None,
    };
    let ratio = match raw.ratio {
        Some(r) => {
            let at = Origin::of(file, &r);
            if !(r.value > 0.0 && r.value <= 1.0) {
                return Err(invalid(
                    &at,
                    format!("{scope}.ratio"),
                    format!("{} is not a ratio in (0, 1]", r.value),
                ));
            }
            Some(Located { value: r.value, at })
        }
        None => None,
    };
    if let Some(s) = raw.selection {
        let at = Origin::of(file, &s);
        let selection = match s.value.as_str() {
            "consumer-validators" => Selection::ConsumerValidators,
            "opted-in" => Selection::OptedIn,
            "all-bonded" => Selection::AllBonded,
            "subset" => Selection::Subset {
                percent: percent.as_ref().map_or(67, |p| p.value),
            },
            "ics-monitor-v1" => Selection::IcsMonitorV1 {
                ratio: ratio.as_ref().map_or(0.67, |r| r.value),
            },
            other => {
                return Err(invalid(
                    &at,
                    format!("{scope}.selection"),
                    format!(
                        "{other:?} is not a selection mode; expected one of consumer-validators, opted-in, all-bonded, subset, ics-monitor-v1"
                    ),
                ));
            }
        };
        layer.selection = Some(Located {
            value: selection,
            at,
        });
    }
    let selection_is =
        |f: fn(&Selection) -> bool| layer.selection.as_ref().is_some_and(|s| f(&s.value));
    if let Some(p) = &percent
        && !selection_is(|s| matches!(s, Selection::Subset { .. }))
    {
        return Err(invalid(
            &p.at,
            format!("{scope}.percent"),
            "only applies with `selection: subset` in the same block",
        ));
    }
    if let Some(r) = &ratio
        && !selection_is(|s| matches!(s, Selection::IcsMonitorV1 { .. }))
    {
        return Err(invalid(
            &r.at,
            format!("{scope}.ratio"),
            "only applies with `selection: ics-monitor-v1` in the same block",
        ));
    }
    if let Some(p) = raw.port {
        let at = Origin::of(file, &p);
        let strategy =
            PortStrategy::parse(&p.value).map_err(|m| invalid(&at, format!("{scope}.port"), m))?;
        layer.port = Some(Located {
            value: strategy,
            at,
        });
    }
    for (field, raw_pattern, slot) in [
        ("namespace", raw.namespace, &mut layer.namespace),
        ("configmap", raw.configmap, &mut layer.configmap),
    ] {
        if let Some(p) = raw_pattern {
            let at = Origin::of(file, &p);
            let pattern = NamePattern::parse(&p.value)
                .map_err(|m| invalid(&at, format!("{scope}.{field}"), m))?;
            *slot = Some(Located { value: pattern, at });
        }
    }
    if let Some(w) = raw.workload {
        let at = Origin::of(file, &w);
        let kind = match w.value.kind.as_ref().map(|k| k.value.as_str()) {
            None | Some("StatefulSet") => WorkloadKind::StatefulSet,
            Some("Deployment") => WorkloadKind::Deployment,
            Some("DaemonSet") => WorkloadKind::DaemonSet,
            Some(other) => {
                return Err(invalid(
                    &at,
                    format!("{scope}.workload.kind"),
                    format!("{other:?} is not StatefulSet, Deployment or DaemonSet"),
                ));
            }
        };
        let name_at = Origin::of(file, &w.value.name);
        let name = NamePattern::parse(&w.value.name.value)
            .map_err(|m| invalid(&name_at, format!("{scope}.workload.name"), m))?;
        layer.workload = Some(Located {
            value: Workload { kind, name },
            at,
        });
    }
    if let Some(t) = raw.topology {
        let at = Origin::of(file, &t);
        let topology =
            parse_topology(&t.value).map_err(|m| invalid(&at, format!("{scope}.topology"), m))?;
        layer.topology = Some(Located {
            value: topology,
            at,
        });
    }
    if let Some(p2p) = raw.p2p {
        let p2p = p2p.value;
        layer.p2p.addr_book_strict = p2p.addr_book_strict.map(|b| located(file, &b, b.value.0));
        layer.p2p.pex = p2p.pex.map(|b| located(file, &b, b.value.0));
        for (field, list, slot) in [
            (
                "unconditional_peer_ids",
                p2p.unconditional_peer_ids,
                &mut layer.p2p.unconditional_peer_ids,
            ),
            (
                "private_peer_ids",
                p2p.private_peer_ids,
                &mut layer.p2p.private_peer_ids,
            ),
        ] {
            if let Some(list) = list {
                let at = Origin::of(file, &list);
                let mut ids = list
                    .value
                    .iter()
                    .map(|s| NodeId::parse(s.trim()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid(&at, format!("{scope}.p2p.{field}"), e.to_string()))?;
                ids.sort();
                ids.dedup();
                *slot = Some(Located { value: ids, at });
            }
        }
        if let Some(seeds) = p2p.seeds {
            let at = Origin::of(file, &seeds);
            let mut parsed = Vec::new();
            for s in &seeds.value {
                let (id, addr) = s.trim().split_once('@').ok_or_else(|| {
                    invalid(
                        &at,
                        format!("{scope}.p2p.seeds"),
                        format!("{s:?} is not NODE_ID@HOST:PORT"),
                    )
                })?;
                let id = NodeId::parse(id)
                    .map_err(|e| invalid(&at, format!("{scope}.p2p.seeds"), e.to_string()))?;
                let ep = Endpoint::parse(addr)
                    .map_err(|e| invalid(&at, format!("{scope}.p2p.seeds"), e.to_string()))?;
                parsed.push((id, ep));
            }
            parsed.sort();
            parsed.dedup();
            layer.p2p.seeds = Some(Located { value: parsed, at });
        }
        if let Some(m) = p2p.max_num_inbound_peers {
            let at = Origin::of(file, &m);
            let value = m
                .value
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid(
                        &at,
                        format!("{scope}.p2p.max_num_inbound_peers"),
                        format!("{} is not a whole number from 1 to 65535", m.value),
                    )
                })?;
            layer.p2p.max_num_inbound_peers = Some(Located { value, at });
        }
        layer.p2p.allow_duplicate_ip = p2p.allow_duplicate_ip.map(|b| located(file, &b, b.value.0));
        layer.p2p.unconditional_mesh = p2p.unconditional_mesh.map(|b| located(file, &b, b.value.0));
        if let Some(d) = p2p.persistent_peers_max_dial_period {
            let at = Origin::of(file, &d);
            check_duration(&d.value).map_err(|m| {
                invalid(
                    &at,
                    format!("{scope}.p2p.persistent_peers_max_dial_period"),
                    m,
                )
            })?;
            layer.p2p.max_dial_period = Some(Located { value: d.value, at });
        }
    }
    layer.chain_registry = raw.chain_registry.map(|b| located(file, &b, b.value.0));
    if let Some(ex) = raw.exclude {
        let at = Origin::of(file, &ex);
        layer.exclude = ex
            .value
            .into_iter()
            .map(|value| Located {
                value,
                at: at.clone(),
            })
            .collect();
    }
    Ok(layer)
}

fn parse_validator(
    file: &Arc<Path>,
    dir: &Path,
    name: &str,
    at: Origin,
    raw: RawValidator,
) -> Result<PartialValidator, InventoryError> {
    let f = |field: &str| format!("validators.{name}.{field}");
    let mut v = PartialValidator {
        at,
        operator_address: None,
        moniker: raw.moniker.map(|m| located(file, &m, m.value.clone())),
        provider_endpoint: None,
        consumer_template: None,
        rpc_template: None,
        node_id: None,
        node_ids: BTreeMap::new(),
        node_key_file: None,
        ports: None,
        port_overrides: BTreeMap::new(),
        endpoint_source: None,
        dns_zone: None,
        private_endpoint: None,
        sentries: None,
        srv: None,
    };
    if let Some(srv) = raw.srv {
        let at = Origin::of(file, &srv);
        v.srv = Some(Located {
            value: parse_srv(file, &f, Some(srv))?,
            at,
        });
    }
    if let Some(s) = raw.endpoint_source {
        let at = Origin::of(file, &s);
        let Some(kind) = SourceKind::parse(&s.value) else {
            return Err(invalid(
                &at,
                f("endpoint_source"),
                format!(
                    "{:?} is not an endpoint source; expected `template` (consumer_template), `dns` (SRV records), `registry` (etcd) or `chain-registry` (chain.json peers; docs/registry.md)",
                    s.value
                ),
            ));
        };
        v.endpoint_source = Some(Located { value: kind, at });
    }
    if let Some(z) = raw.dns_zone {
        let at = Origin::of(file, &z);
        let zone = DnsName::parse(&z.value).map_err(|m| invalid(&at, f("dns_zone"), m))?;
        v.dns_zone = Some(Located { value: zone, at });
    }
    if let Some(op) = raw.operator_address {
        let at = Origin::of(file, &op);
        crate::input::name::check_operator_address(&op.value)
            .map_err(|m| invalid(&at, f("operator_address"), m))?;
        v.operator_address = Some(Located {
            value: op.value,
            at,
        });
    }
    if let Some(ep) = raw.provider_endpoint {
        let at = Origin::of(file, &ep);
        let endpoint = Endpoint::parse(ep.value.trim())
            .map_err(|e| invalid(&at, f("provider_endpoint"), e.to_string()))?;
        v.provider_endpoint = Some(Located {
            value: endpoint,
            at,
        });
    }
    if let Some(t) = raw.consumer_template {
        let at = Origin::of(file, &t);
        let template = EndpointTemplate::parse(&t.value)
            .map_err(|m| invalid(&at, f("consumer_template"), m))?;
        v.consumer_template = Some(Located {
            value: template,
            at,
        });
    }
    if let Some(t) = raw.rpc_template {
        let at = Origin::of(file, &t);
        v.rpc_template = Some(Located {
            value: super::endpoint::RpcTemplate::parse(&t.value)
                .map_err(|m| invalid(&at, f("rpc_template"), m))?,
            at,
        });
    }
    let ids = parse_node_ids(file, dir, &f, raw.node_id, raw.node_ids, raw.node_key_file)?;
    v.node_id = ids.node_id;
    v.node_ids = ids.node_ids;
    v.node_key_file = ids.node_key_file;
    if let Some(t) = raw.private_endpoint {
        let at = Origin::of(file, &t);
        let template = EndpointTemplate::parse(&t.value)
            .map_err(|m| invalid(&at, f("private_endpoint"), m))?;
        v.private_endpoint = Some(Located {
            value: template,
            at,
        });
    }
    if let Some(list) = raw.sentries {
        v.sentries = Some(parse_sentries(file, dir, name, list)?);
    }
    if let Some(p) = raw.ports {
        let at = Origin::of(file, &p);
        let text = p.value.trim();
        let ports = if text.contains('-') {
            ValidatorPorts::Range(PortRange::parse(text).map_err(|m| invalid(&at, f("ports"), m))?)
        } else {
            ValidatorPorts::Fixed(crate::input::address::parse_port(text).map_err(|e| {
                invalid(&at, f("ports"), format!("{e}; or give a range FIRST-LAST"))
            })?)
        };
        v.ports = Some(Located { value: ports, at });
    }
    for (key, p) in raw.port_overrides.unwrap_or_default() {
        let at = Origin::of(file, &p);
        let port = crate::input::address::parse_port(p.value.trim())
            .map_err(|e| invalid(&at, f(&format!("port_overrides.{key}")), e.to_string()))?;
        v.port_overrides.insert(key, Located { value: port, at });
    }
    Ok(v)
}
