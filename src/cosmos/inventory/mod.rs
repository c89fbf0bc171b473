//! The validator inventory (YAML, schema version 1): parsed once into validated types. Several files
//! may be given; they merge per validator and per setting, and a setting made twice is an error.

pub(crate) mod dns;
pub(crate) mod endpoint;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::cosmos::inventory::dns::{DnsName, DnsSettings, ZoneSettings};
use crate::cosmos::inventory::endpoint::{EndpointTemplate, PortRange, TemplatePort};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::port::PortStrategy;
use crate::cosmos::peers::selection::Selection;
use crate::input::address::Endpoint;
use crate::input::yaml::{self, Located, Origin, Spanned, YamlError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum InventoryError {
    #[error("{path}: cannot read inventory: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{at}: {field}: {message}")]
    Invalid {
        at: Origin,
        field: String,
        message: String,
    },
    #[error(
        "{at}: {field} is also set at {first}; a setting may be made in one inventory file only"
    )]
    Conflict {
        at: Origin,
        first: Origin,
        field: String,
    },
}

fn invalid(at: &Origin, field: impl Into<String>, message: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        at: at.clone(),
        field: field.into(),
        message: message.into(),
    }
}

type Field<T> = Option<Located<T>>;

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
    p2p: Option<Spanned<RawP2p>>,
    exclude: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: Option<Spanned<String>>,
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawP2p {
    addr_book_strict: Option<Spanned<bool>>,
    pex: Option<Spanned<bool>>,
    unconditional_peer_ids: Option<Spanned<Vec<String>>>,
    private_peer_ids: Option<Spanned<Vec<String>>>,
    seeds: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    operator_address: Option<Spanned<String>>,
    moniker: Option<Spanned<String>>,
    provider_endpoint: Option<Spanned<String>>,
    consumer_template: Option<Spanned<String>>,
    node_id: Option<Spanned<String>>,
    node_ids: Option<BTreeMap<String, Spanned<String>>>,
    node_key_file: Option<Spanned<String>>,
    ports: Option<Spanned<String>>,
    port_overrides: Option<BTreeMap<String, Spanned<String>>>,
    endpoint_source: Option<Spanned<String>>,
    dns_zone: Option<Spanned<String>>,
}

// ---------------------------------------------------------------- validated types

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    StatefulSet,
    Deployment,
    DaemonSet,
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

/// A Kubernetes name pattern with `{{validator}}`, `{{chain_id}}` (or `{{chain-id}}`) and `{{consumer_id}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NamePattern(String);

impl NamePattern {
    fn parse(text: &str) -> Result<NamePattern, String> {
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in {text:?}"))?;
            match after[..end].trim() {
                "validator" | "chain_id" | "chain-id" | "consumer_id" | "consumer-id" => {}
                other => {
                    return Err(format!(
                        "unknown variable `{{{{{other}}}}}` in {text:?}; known: {{{{validator}}}}, {{{{chain_id}}}}, {{{{consumer_id}}}}"
                    ));
                }
            }
            rest = &after[end + 2..];
        }
        Ok(NamePattern(text.to_owned()))
    }

    pub(crate) fn expand(&self, validator: &str, chain_id: &str, consumer_id: &str) -> String {
        let mut out = String::new();
        let mut rest = self.0.as_str();
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find("}}").expect("checked at parse");
            out.push_str(match after[..end].trim() {
                "validator" => validator,
                "consumer_id" | "consumer-id" => consumer_id,
                _ => chain_id,
            });
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
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
}

/// Per-consumer settings as written in one place (`defaults:` or one `consumers:` entry).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SettingsLayer {
    pub(crate) selection: Field<Selection>,
    pub(crate) port: Field<PortStrategy>,
    pub(crate) namespace: Field<NamePattern>,
    pub(crate) configmap: Field<NamePattern>,
    pub(crate) workload: Field<Workload>,
    pub(crate) p2p: P2pSettings,
    pub(crate) exclude: Vec<Located<String>>,
}

/// Settings in force for one consumer, after defaults and overrides are applied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub(crate) selection: Selection,
    pub(crate) port: Located<PortStrategy>,
    pub(crate) namespace: NamePattern,
    pub(crate) configmap: NamePattern,
    pub(crate) workload: Option<Workload>,
    pub(crate) p2p: P2pSettings,
    pub(crate) exclude: Vec<Located<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValidatorPorts {
    Fixed(u16),
    Range(PortRange),
}

/// Where a validator's consumer endpoints come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EndpointSource {
    /// `consumer_template`, expanded per consumer.
    Template(Located<EndpointTemplate>),
    /// `endpoint_source: dns`: the SRV answers `peergen resolve` locked into the snapshot.
    Dns(Origin),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Validator {
    pub(crate) name: String,
    pub(crate) at: Origin,
    pub(crate) operator_address: Option<String>,
    pub(crate) moniker: String,
    pub(crate) provider_endpoint: Option<Endpoint>,
    pub(crate) endpoint: EndpointSource,
    /// `dns_zone:`; else `dns.default_zone` applies (see [`Inventory::zone_for`]).
    pub(crate) dns_zone: Option<Located<DnsName>>,
    pub(crate) node_id: Field<NodeId>,
    pub(crate) node_ids: BTreeMap<String, Located<NodeId>>,
    pub(crate) ports: Field<ValidatorPorts>,
    pub(crate) port_overrides: BTreeMap<String, Located<u16>>,
}

/// Credentials for a private provider endpoint: the inventory names an environment variable, so
/// the secret itself is never committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProviderAuth {
    BearerTokenEnv(String),
    /// The variable holds `user:password`.
    BasicAuthEnv(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProviderSettings {
    pub(crate) chain_id: Option<String>,
    pub(crate) rest: Option<String>,
    pub(crate) bech32_prefix: String,
    pub(crate) auth: Option<ProviderAuth>,
    /// `fetch` refuses a snapshot in which a consumer loses more than this share of its validators.
    pub(crate) max_drop_percent: Option<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Inventory {
    pub(crate) files: Vec<Arc<Path>>,
    pub(crate) provider: ProviderSettings,
    /// Default snapshot path (`state:`), relative paths resolved against the declaring file.
    pub(crate) state: Option<PathBuf>,
    pub(crate) defaults: SettingsLayer,
    /// `consumers:` entries, keyed by consumer id or chain id, in file order of keys.
    pub(crate) consumers: Vec<(String, Located<SettingsLayer>)>,
    pub(crate) validators: BTreeMap<String, Validator>,
    /// The `dns:` section: zones to write and the SRV naming used to publish and resolve endpoints.
    pub(crate) dns: Option<Located<DnsSettings>>,
    pub(crate) warnings: Vec<String>,
}

// ---------------------------------------------------------------- loading

/// A validator as one file describes it; files are merged before the validator is complete.
struct PartialValidator {
    at: Origin,
    operator_address: Field<String>,
    moniker: Field<String>,
    provider_endpoint: Field<Endpoint>,
    consumer_template: Field<EndpointTemplate>,
    node_id: Field<NodeId>,
    node_ids: BTreeMap<String, Located<NodeId>>,
    node_key_file: Field<NodeId>,
    ports: Field<ValidatorPorts>,
    port_overrides: BTreeMap<String, Located<u16>>,
    endpoint_source_dns: Field<bool>,
    dns_zone: Field<DnsName>,
}

struct Partial {
    version: Field<u32>,
    provider_chain_id: Field<String>,
    provider_rest: Field<String>,
    bech32_prefix: Field<String>,
    provider_auth: Field<ProviderAuth>,
    max_drop_percent: Field<u8>,
    state: Field<PathBuf>,
    defaults: Option<Located<SettingsLayer>>,
    consumers: BTreeMap<String, Located<SettingsLayer>>,
    validators: BTreeMap<String, PartialValidator>,
    dns: Option<Located<DnsSettings>>,
}

pub(crate) fn load(paths: &[PathBuf]) -> Result<Inventory, InventoryError> {
    let mut merged: Option<Partial> = None;
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.clone(),
            source,
        })?;
        let file: Arc<Path> = Arc::from(path.as_path());
        let partial = parse_file(&file, &text)?;
        files.push(file);
        merged = Some(match merged {
            None => partial,
            Some(acc) => merge(acc, partial)?,
        });
    }
    let partial = merged.ok_or_else(|| InventoryError::Read {
        path: PathBuf::from("-i/--inventory"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no inventory file given"),
    })?;
    complete(files, partial)
}

fn located<S, T>(file: &Arc<Path>, s: &Spanned<S>, value: T) -> Located<T> {
    Located {
        value,
        at: Origin::of(file, s),
    }
}

fn parse_file(file: &Arc<Path>, text: &str) -> Result<Partial, InventoryError> {
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
        let pv = parse_validator(file, &dir, &name, at, v.value)?;
        validators.insert(name, pv);
    }
    let dns = match raw.dns {
        Some(d) => Some(crate::cosmos::inventory::dns::parse(file, d)?),
        None => None,
    };
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
    if let Some(p2p) = raw.p2p {
        let p2p = p2p.value;
        layer.p2p.addr_book_strict = p2p.addr_book_strict.map(|b| located(file, &b, b.value));
        layer.p2p.pex = p2p.pex.map(|b| located(file, &b, b.value));
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
    }
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
        node_id: None,
        node_ids: BTreeMap::new(),
        node_key_file: None,
        ports: None,
        port_overrides: BTreeMap::new(),
        endpoint_source_dns: None,
        dns_zone: None,
    };
    if let Some(s) = raw.endpoint_source {
        let at = Origin::of(file, &s);
        let dns = match s.value.as_str() {
            "dns" => true,
            "template" => false,
            other => {
                return Err(invalid(
                    &at,
                    f("endpoint_source"),
                    format!(
                        "{other:?} is not an endpoint source; expected `template` (consumer_template) or `dns` (SRV records)"
                    ),
                ));
            }
        };
        v.endpoint_source_dns = Some(Located { value: dns, at });
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
    if let Some(id) = raw.node_id {
        let at = Origin::of(file, &id);
        let node_id = NodeId::parse(id.value.trim())
            .map_err(|e| invalid(&at, f("node_id"), e.to_string()))?;
        v.node_id = Some(Located { value: node_id, at });
    }
    for (key, id) in raw.node_ids.unwrap_or_default() {
        let at = Origin::of(file, &id);
        let node_id = NodeId::parse(id.value.trim()).map_err(|e| {
            invalid(
                &at,
                f(&format!("node_ids.{key}")),
                format!("consumer {key}: {e}"),
            )
        })?;
        v.node_ids.insert(key, Located { value: node_id, at });
    }
    if let Some(path) = raw.node_key_file {
        let at = Origin::of(file, &path);
        let node_id = crate::cosmos::node_id::from_node_key_file(&dir.join(&path.value))
            .map_err(|e| invalid(&at, f("node_key_file"), e.to_string()))?;
        v.node_key_file = Some(Located { value: node_id, at });
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

fn take<T>(field: &str, a: Field<T>, b: Field<T>) -> Result<Field<T>, InventoryError> {
    match (a, b) {
        (Some(first), Some(second)) => Err(InventoryError::Conflict {
            at: second.at,
            first: first.at,
            field: field.to_owned(),
        }),
        (a, b) => Ok(a.or(b)),
    }
}

fn take_map<T>(
    field: &str,
    mut a: BTreeMap<String, Located<T>>,
    b: BTreeMap<String, Located<T>>,
) -> Result<BTreeMap<String, Located<T>>, InventoryError> {
    for (k, v) in b {
        if let Some(first) = a.get(&k) {
            return Err(InventoryError::Conflict {
                at: v.at,
                first: first.at.clone(),
                field: format!("{field}.{k}"),
            });
        }
        a.insert(k, v);
    }
    Ok(a)
}

fn merge(mut a: Partial, b: Partial) -> Result<Partial, InventoryError> {
    a.version = take("version", a.version, b.version)?;
    a.provider_chain_id = take(
        "provider.chain_id",
        a.provider_chain_id,
        b.provider_chain_id,
    )?;
    a.provider_rest = take("provider.rest", a.provider_rest, b.provider_rest)?;
    a.bech32_prefix = take("provider.bech32_prefix", a.bech32_prefix, b.bech32_prefix)?;
    a.provider_auth = take("provider.auth", a.provider_auth, b.provider_auth)?;
    a.max_drop_percent = take(
        "provider.max_drop_percent",
        a.max_drop_percent,
        b.max_drop_percent,
    )?;
    a.state = take("state", a.state, b.state)?;
    a.defaults = take("defaults", a.defaults, b.defaults)?;
    a.consumers = take_map("consumers", a.consumers, b.consumers)?;
    a.dns = take("dns", a.dns, b.dns)?;
    for (name, vb) in b.validators {
        let va = match a.validators.remove(&name) {
            None => vb,
            Some(va) => {
                let f = |field: &str| format!("validators.{name}.{field}");
                PartialValidator {
                    at: va.at,
                    operator_address: take(
                        &f("operator_address"),
                        va.operator_address,
                        vb.operator_address,
                    )?,
                    moniker: take(&f("moniker"), va.moniker, vb.moniker)?,
                    provider_endpoint: take(
                        &f("provider_endpoint"),
                        va.provider_endpoint,
                        vb.provider_endpoint,
                    )?,
                    consumer_template: take(
                        &f("consumer_template"),
                        va.consumer_template,
                        vb.consumer_template,
                    )?,
                    node_id: take(&f("node_id"), va.node_id, vb.node_id)?,
                    node_ids: take_map(&f("node_ids"), va.node_ids, vb.node_ids)?,
                    node_key_file: take(&f("node_key_file"), va.node_key_file, vb.node_key_file)?,
                    ports: take(&f("ports"), va.ports, vb.ports)?,
                    port_overrides: take_map(
                        &f("port_overrides"),
                        va.port_overrides,
                        vb.port_overrides,
                    )?,
                    endpoint_source_dns: take(
                        &f("endpoint_source"),
                        va.endpoint_source_dns,
                        vb.endpoint_source_dns,
                    )?,
                    dns_zone: take(&f("dns_zone"), va.dns_zone, vb.dns_zone)?,
                }
            }
        };
        a.validators.insert(name, va);
    }
    Ok(a)
}

fn complete(files: Vec<Arc<Path>>, p: Partial) -> Result<Inventory, InventoryError> {
    let mut warnings = Vec::new();
    let mut validators = BTreeMap::new();
    for (name, v) in p.validators {
        let f = |field: &str| format!("validators.{name}.{field}");
        let endpoint = endpoint_source(&name, &v, p.dns.as_ref())?;
        let node_id = match (v.node_id, v.node_key_file) {
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
        if node_id.is_none() && v.node_ids.is_empty() {
            return Err(invalid(
                &v.at,
                format!("validators.{name}"),
                "has no node ID: set node_id, node_ids (per consumer) or node_key_file",
            ));
        }
        if let (Some(ports), EndpointSource::Template(template)) = (&v.ports, &endpoint)
            && let TemplatePort::Range(_) | TemplatePort::Fixed(_) = template.value.port
        {
            return Err(invalid(
                &ports.at,
                f("ports"),
                format!(
                    "conflicts with the port written in consumer_template {:?}; keep one of them",
                    template.value.as_str()
                ),
            ));
        }
        if v.operator_address.is_none() {
            warnings.push(format!(
                "{}: validators.{name} has no operator_address; it is matched to provider state by moniker {:?}, which any validator can claim",
                v.at,
                v.moniker.as_ref().map_or(name.as_str(), |m| m.value.as_str())
            ));
        }
        validators.insert(
            name.clone(),
            Validator {
                moniker: v.moniker.map_or_else(|| name.clone(), |m| m.value),
                name,
                at: v.at,
                operator_address: v.operator_address.map(|o| o.value),
                provider_endpoint: v.provider_endpoint.map(|e| e.value),
                endpoint,
                dns_zone: v.dns_zone,
                node_id,
                node_ids: v.node_ids,
                ports: v.ports,
                port_overrides: v.port_overrides,
            },
        );
    }
    // A moniker is all that links a validator without operator_address to provider state, so two
    // such validators with one moniker would silently become one.
    let mut by_moniker: BTreeMap<&str, &Validator> = BTreeMap::new();
    for v in validators.values().filter(|v| v.operator_address.is_none()) {
        if let Some(other) = by_moniker.insert(v.moniker.as_str(), v) {
            return Err(invalid(
                &v.at,
                format!("validators.{}.moniker", v.name),
                format!(
                    "{:?} is also the moniker of validators.{} (at {}), and neither has an operator_address to tell them apart; set operator_address",
                    v.moniker, other.name, other.at
                ),
            ));
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for v in validators.values() {
        if let Some(op) = &v.operator_address
            && let Some(other) = seen.insert(op.as_str(), v.name.as_str())
        {
            return Err(invalid(
                &v.at,
                format!("validators.{}.operator_address", v.name),
                format!(
                    "{op} is also the operator address of validator {other}; each provider validator may appear once"
                ),
            ));
        }
    }
    Ok(Inventory {
        files,
        provider: ProviderSettings {
            chain_id: p.provider_chain_id.map(|c| c.value),
            auth: p.provider_auth.map(|a| a.value),
            max_drop_percent: p.max_drop_percent.map(|m| m.value),
            rest: p.provider_rest.map(|r| r.value),
            bech32_prefix: p
                .bech32_prefix
                .map_or_else(|| "cosmos".to_owned(), |b| b.value),
        },
        state: p.state.map(|s| s.value),
        defaults: p.defaults.map(|d| d.value).unwrap_or_default(),
        consumers: p.consumers.into_iter().collect(),
        validators,
        dns: p.dns,
        warnings,
    })
}

/// `consumer_template` or `endpoint_source: dns`, never both; DNS-sourced endpoints take their port
/// from the SRV record, so port settings and a missing zone are errors here rather than surprises later.
fn endpoint_source(
    name: &str,
    v: &PartialValidator,
    dns: Option<&Located<DnsSettings>>,
) -> Result<EndpointSource, InventoryError> {
    let f = |field: &str| format!("validators.{name}.{field}");
    if let Some(zone) = &v.dns_zone {
        let Some(dns) = dns else {
            return Err(invalid(
                &zone.at,
                f("dns_zone"),
                "there is no `dns:` section declaring zones",
            ));
        };
        if !dns.value.zones.contains_key(&zone.value) {
            return Err(invalid(
                &zone.at,
                f("dns_zone"),
                format!("{} is not one of dns.zones", zone.value),
            ));
        }
    }
    match (&v.endpoint_source_dns, &v.consumer_template) {
        (Some(src), Some(t)) if src.value => Err(invalid(
            &t.at,
            f("consumer_template"),
            format!(
                "conflicts with `endpoint_source: dns` at {}; keep one of them",
                src.at
            ),
        )),
        (Some(src), None) if src.value => {
            let has_zone =
                v.dns_zone.is_some() || dns.is_some_and(|d| d.value.default_zone.is_some());
            if !has_zone {
                return Err(invalid(
                    &src.at,
                    f("endpoint_source"),
                    format!(
                        "`dns` needs a zone to look in: set {} or dns.default_zone",
                        f("dns_zone")
                    ),
                ));
            }
            if let Some(p) = &v.ports {
                return Err(invalid(
                    &p.at,
                    f("ports"),
                    "does not apply with `endpoint_source: dns`: the port comes from the SRV record",
                ));
            }
            if let Some(p) = v.port_overrides.values().next() {
                return Err(invalid(
                    &p.at,
                    f("port_overrides"),
                    "does not apply with `endpoint_source: dns`: the port comes from the SRV record",
                ));
            }
            Ok(EndpointSource::Dns(src.at.clone()))
        }
        (_, Some(t)) => Ok(EndpointSource::Template(t.clone())),
        (_, None) => Err(invalid(
            &v.at,
            f("consumer_template"),
            "missing: every validator needs the endpoint of its consumer nodes, e.g. `alice-{{chain-id}}.example.com:{{port}}`, or `endpoint_source: dns`",
        )),
    }
}

impl SettingsLayer {
    /// Applies `over` on top of `self`: set fields replace, `exclude` lists add up.
    fn overlay(&mut self, over: &SettingsLayer) {
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
        self.exclude.extend(over.exclude.iter().cloned());
    }
}

impl Inventory {
    /// Settings for one consumer: defaults, then a `consumers:` entry keyed by its chain id, then one
    /// keyed by its consumer id (the most specific wins).
    pub(crate) fn settings_for(&self, consumer_id: &str, chain_id: &str) -> Settings {
        let mut layer = self.defaults.clone();
        for key in [chain_id, consumer_id] {
            if let Some((_, over)) = self.consumers.iter().find(|(k, _)| k == key) {
                layer.overlay(&over.value);
            }
        }
        let builtin = |text: &str| NamePattern(text.to_owned());
        let first = self.files.first().map(Origin::file);
        Settings {
            selection: layer
                .selection
                .map_or(Selection::ConsumerValidators, |s| s.value),
            port: layer.port.unwrap_or_else(|| Located {
                value: PortStrategy::Hash,
                at: first.clone().expect("an inventory has a file"),
            }),
            namespace: layer
                .namespace
                .map_or_else(|| builtin("{{validator}}-{{chain_id}}"), |n| n.value),
            configmap: layer
                .configmap
                .map_or_else(|| builtin("{{chain_id}}-peers"), |n| n.value),
            workload: layer.workload.map(|w| w.value),
            p2p: layer.p2p,
            exclude: layer.exclude,
        }
    }

    /// The zone validator `v` belongs to: its `dns_zone`, else `dns.default_zone`.
    pub(crate) fn zone_for(&self, v: &Validator) -> Option<&ZoneSettings> {
        let dns = &self.dns.as_ref()?.value;
        let name = v
            .dns_zone
            .as_ref()
            .map(|z| &z.value)
            .or(dns.default_zone.as_ref())?;
        dns.zones.get(name)
    }

    /// The node ID validator `v` uses on a consumer: per consumer id, then per chain id, then the default.
    pub(crate) fn node_id_for<'a>(
        v: &'a Validator,
        consumer_id: &str,
        chain_id: &str,
    ) -> Option<&'a NodeId> {
        v.node_ids
            .get(consumer_id)
            .or_else(|| v.node_ids.get(chain_id))
            .or(v.node_id.as_ref())
            .map(|l| &l.value)
    }
}
