//! Merging several inventory files (per validator and per setting; a setting made twice is an
//! error naming both places) and completing the merged result into an [`Inventory`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dns::{DnsName, DnsSettings};
use super::endpoint::{EndpointTemplate, TemplatePort};
use super::monitoring::{Allowlist, Monitoring};
use super::registry::ChainRegistrySettings;
use super::roles::{NodeIds, Sentry, SentryEndpoint, SrvRank, default_node_id};
use super::settings::SettingsLayer;
use super::{
    EndpointSource, Field, Inventory, InventoryError, ProviderAuth, ProviderSettings,
    RegistrySettings, Validator, ValidatorPorts, invalid,
};
use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;
use crate::input::yaml::{Located, Origin};

// ---------------------------------------------------------------- loading

/// A validator as one file describes it; files are merged before the validator is complete.
pub(super) struct PartialValidator {
    pub(super) at: Origin,
    pub(super) operator_address: Field<String>,
    pub(super) moniker: Field<String>,
    pub(super) provider_endpoint: Field<Endpoint>,
    pub(super) consumer_template: Field<EndpointTemplate>,
    pub(super) rpc_template: Field<super::endpoint::RpcTemplate>,
    pub(super) node_id: Field<NodeId>,
    pub(super) node_ids: BTreeMap<String, Located<NodeId>>,
    pub(super) node_key_file: Field<NodeId>,
    pub(super) ports: Field<ValidatorPorts>,
    pub(super) port_overrides: BTreeMap<String, Located<u16>>,
    pub(super) endpoint_source: Field<SourceKind>,
    pub(super) dns_zone: Field<DnsName>,
    pub(super) private_endpoint: Field<EndpointTemplate>,
    pub(super) sentries: Field<Vec<Sentry>>,
    pub(super) srv: Field<SrvRank>,
}

pub(super) struct Partial {
    pub(super) version: Field<u32>,
    pub(super) provider_chain_id: Field<String>,
    pub(super) provider_rest: Field<String>,
    pub(super) bech32_prefix: Field<String>,
    pub(super) provider_auth: Field<ProviderAuth>,
    pub(super) max_drop_percent: Field<u8>,
    pub(super) state: Field<PathBuf>,
    pub(super) defaults: Option<Located<SettingsLayer>>,
    pub(super) consumers: BTreeMap<String, Located<SettingsLayer>>,
    pub(super) validators: BTreeMap<String, PartialValidator>,
    pub(super) dns: Option<Located<DnsSettings>>,
    pub(super) monitoring: Option<Located<Monitoring>>,
    pub(super) allowlist: Option<Located<Allowlist>>,
    pub(super) registry: Option<Located<RegistrySettings>>,
    pub(super) chain_registry: Option<Located<ChainRegistrySettings>>,
}

/// `endpoint_source:` as written, on a validator or a sentry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SourceKind {
    Template,
    Dns,
    Registry,
    ChainRegistry,
}

impl SourceKind {
    /// The one vocabulary of `endpoint_source:`, `None` for a word outside it.
    pub(super) fn parse(word: &str) -> Option<Self> {
        match word {
            "template" => Some(Self::Template),
            "dns" => Some(Self::Dns),
            "registry" => Some(Self::Registry),
            "chain-registry" => Some(Self::ChainRegistry),
            _ => None,
        }
    }
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

pub(super) fn merge(mut a: Partial, b: Partial) -> Result<Partial, InventoryError> {
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
    a.registry = take("registry", a.registry, b.registry)?;
    a.chain_registry = take("chain_registry", a.chain_registry, b.chain_registry)?;
    a.monitoring = take("monitoring", a.monitoring, b.monitoring)?;
    a.allowlist = take("allowlist", a.allowlist, b.allowlist)?;
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
                    rpc_template: take(&f("rpc_template"), va.rpc_template, vb.rpc_template)?,
                    node_id: take(&f("node_id"), va.node_id, vb.node_id)?,
                    node_ids: take_map(&f("node_ids"), va.node_ids, vb.node_ids)?,
                    node_key_file: take(&f("node_key_file"), va.node_key_file, vb.node_key_file)?,
                    ports: take(&f("ports"), va.ports, vb.ports)?,
                    port_overrides: take_map(
                        &f("port_overrides"),
                        va.port_overrides,
                        vb.port_overrides,
                    )?,
                    endpoint_source: take(
                        &f("endpoint_source"),
                        va.endpoint_source,
                        vb.endpoint_source,
                    )?,
                    dns_zone: take(&f("dns_zone"), va.dns_zone, vb.dns_zone)?,
                    private_endpoint: take(
                        &f("private_endpoint"),
                        va.private_endpoint,
                        vb.private_endpoint,
                    )?,
                    sentries: take(&f("sentries"), va.sentries, vb.sentries)?,
                    srv: take(&f("srv"), va.srv, vb.srv)?,
                }
            }
        };
        a.validators.insert(name, va);
    }
    Ok(a)
}

pub(super) fn complete(files: Vec<Arc<Path>>, p: Partial) -> Result<Inventory, InventoryError> {
    let mut warnings = Vec::new();
    let mut validators = BTreeMap::new();
    for (name, v) in p.validators {
        let f = |field: &str| format!("validators.{name}.{field}");
        let endpoint = endpoint_source(
            &name,
            &v,
            p.dns.as_ref(),
            p.registry.as_ref().map(|r| &r.at),
            p.chain_registry.as_ref().map(|r| &r.at),
        )?;
        if let (Some(srv), false) = (&v.srv, matches!(endpoint, EndpointSource::Template(_))) {
            return Err(invalid(
                &srv.at,
                format!("validators.{name}.srv"),
                "only applies to a validator whose one public node has a consumer_template: with sentries set `srv:` on each sentry; with `endpoint_source: dns` the validator publishes its own records",
            ));
        }
        let ids = NodeIds {
            node_id: v.node_id,
            node_ids: v.node_ids,
            node_key_file: v.node_key_file,
        };
        // A registry-sourced validator's node IDs are the ones its operator published.
        let (node_id, node_ids) = if matches!(
            endpoint,
            EndpointSource::Registry(_) | EndpointSource::ChainRegistry(_)
        ) {
            (None, BTreeMap::new())
        } else {
            default_node_id(ids, &v.at, &f, &format!("validators.{name}"))?
        };
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
                rpc: v.rpc_template,
                dns_zone: v.dns_zone,
                srv: v.srv.map(|s| s.value).unwrap_or_default(),
                node_id,
                node_ids,
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
        registry: p.registry.map(|r| r.value),
        chain_registry: p.chain_registry.map(|r| r.value),
        monitoring: p.monitoring,
        allowlist: p.allowlist,
        warnings,
    })
}

/// `consumer_template` or `endpoint_source: dns`, never both; DNS-sourced endpoints take their port
/// from the SRV record, so port settings and a missing zone are errors here rather than surprises later.
fn endpoint_source(
    name: &str,
    v: &PartialValidator,
    dns: Option<&Located<DnsSettings>>,
    registry: Option<&Origin>,
    chain_registry: Option<&Origin>,
) -> Result<EndpointSource, InventoryError> {
    let f = |field: &str| format!("validators.{name}.{field}");
    if let Some(src) = v
        .endpoint_source
        .as_ref()
        .filter(|s| matches!(s.value, SourceKind::Registry | SourceKind::ChainRegistry))
    {
        return registry_sourced(name, v, src, registry, chain_registry);
    }
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
    if let Some(sentries) = &v.sentries {
        return sentried(name, v, sentries, dns, registry.is_some());
    }
    if let Some(p) = &v.private_endpoint {
        return Err(invalid(
            &p.at,
            f("private_endpoint"),
            "only applies with `sentries:`: it is where the sentries reach their private validator node",
        ));
    }
    let dns_source = v.endpoint_source.as_ref().map(|s| Located {
        value: s.value == SourceKind::Dns,
        at: s.at.clone(),
    });
    match (&dns_source, &v.consumer_template) {
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

/// `endpoint_source: registry`: every node (its one public node, or its sentries), node ID and
/// address comes from the registry its operator published to, so the inventory describing any of
/// them too would be a second, contradicting source.
fn registry_sourced(
    name: &str,
    v: &PartialValidator,
    src: &Located<SourceKind>,
    registry: Option<&Origin>,
    chain_registry: Option<&Origin>,
) -> Result<EndpointSource, InventoryError> {
    let f = |field: &str| format!("validators.{name}.{field}");
    let chain = src.value == SourceKind::ChainRegistry;
    let source_name = if chain { "chain-registry" } else { "registry" };
    if (if chain { chain_registry } else { registry }).is_none() {
        return Err(invalid(
            &src.at,
            f("endpoint_source"),
            if chain {
                "`chain-registry` needs a `chain_registry:` section naming each consumer's chain.json and the provider names".to_owned()
            } else {
                "`registry` needs a `registry:` section naming the etcd endpoints and key prefix"
                    .to_owned()
            },
        ));
    }
    if v.operator_address.is_none() {
        return Err(invalid(
            &src.at,
            f("operator_address"),
            "missing: registry keys are named by operator address (every operator names validators differently), so a registry-sourced validator needs one",
        ));
    }
    let written = [
        (
            "consumer_template",
            v.consumer_template.as_ref().map(|l| &l.at),
        ),
        ("node_id", v.node_id.as_ref().map(|l| &l.at)),
        ("node_ids", v.node_ids.values().next().map(|l| &l.at)),
        ("node_key_file", v.node_key_file.as_ref().map(|l| &l.at)),
        ("ports", v.ports.as_ref().map(|l| &l.at)),
        (
            "port_overrides",
            v.port_overrides.values().next().map(|l| &l.at),
        ),
        ("dns_zone", v.dns_zone.as_ref().map(|l| &l.at)),
        (
            "private_endpoint",
            v.private_endpoint.as_ref().map(|l| &l.at),
        ),
        ("sentries", v.sentries.as_ref().map(|l| &l.at)),
    ];
    if let Some((field, at)) = written
        .into_iter()
        .find_map(|(field, at)| at.map(|at| (field, at)))
    {
        return Err(invalid(
            at,
            f(field),
            format!(
                "does not apply with `endpoint_source: {source_name}` (at {}): the validator's nodes, node IDs and addresses come from the registry",
                src.at
            ),
        ));
    }
    Ok(if chain {
        EndpointSource::ChainRegistry(src.at.clone())
    } else {
        EndpointSource::Registry(src.at.clone())
    })
}

/// The endpoint source of a validator behind sentries: its node has no public address, so a
/// `consumer_template` or `endpoint_source: dns` of its own is a contradiction, and its sentries
/// need `private_endpoint` to reach it.
fn sentried(
    name: &str,
    v: &PartialValidator,
    sentries: &Located<Vec<Sentry>>,
    dns: Option<&Located<DnsSettings>>,
    has_registry: bool,
) -> Result<EndpointSource, InventoryError> {
    let f = |field: &str| format!("validators.{name}.{field}");
    let has_zone = v.dns_zone.is_some() || dns.is_some_and(|d| d.value.default_zone.is_some());
    for s in &sentries.value {
        if let SentryEndpoint::Registry(at) = &s.endpoint {
            let field = format!("validators.{name}.sentries.{}.endpoint_source", s.name);
            if !has_registry {
                return Err(invalid(
                    at,
                    field,
                    "`registry` needs a `registry:` section naming the etcd endpoints and key prefix",
                ));
            }
            if v.operator_address.is_none() {
                return Err(invalid(
                    at,
                    field,
                    format!(
                        "`registry` needs {}: registry keys are named by operator address",
                        f("operator_address")
                    ),
                ));
            }
        }
        if let (SentryEndpoint::Dns(at), false) = (&s.endpoint, has_zone) {
            return Err(invalid(
                at,
                format!("validators.{name}.sentries.{}.endpoint_source", s.name),
                format!(
                    "`dns` needs a zone to look in: set {} or dns.default_zone",
                    f("dns_zone")
                ),
            ));
        }
    }
    if let Some(t) = &v.consumer_template {
        return Err(invalid(
            &t.at,
            f("consumer_template"),
            format!(
                "a validator with sentries (at {}) keeps its validator node private: the sentries' consumer_template are its public endpoints; remove this one, or the sentries",
                sentries.at
            ),
        ));
    }
    if let Some(src) = v
        .endpoint_source
        .as_ref()
        .filter(|s| s.value == SourceKind::Dns)
    {
        return Err(invalid(
            &src.at,
            f("endpoint_source"),
            format!(
                "a validator with sentries (at {}) publishes its sentries, not its validator node; to look the sentries up in DNS, set `endpoint_source: dns` on each sentry",
                sentries.at
            ),
        ));
    }
    for (field, set) in [
        ("ports", v.ports.as_ref().map(|p| &p.at)),
        (
            "port_overrides",
            v.port_overrides.values().next().map(|p| &p.at),
        ),
    ] {
        if let Some(at) = set {
            return Err(invalid(
                at,
                f(field),
                "does not apply to a validator with sentries: write each sentry's port in its consumer_template",
            ));
        }
    }
    let Some(private_endpoint) = v.private_endpoint.clone() else {
        return Err(invalid(
            &sentries.at,
            f("private_endpoint"),
            "missing: sentries reach their validator node at this address (it is never published), e.g. `alice-validator-{{chain_id}}.alice.svc.cluster.local:26656`",
        ));
    };
    let ids_of = |s: &Sentry| {
        s.node_id
            .iter()
            .chain(s.node_ids.values())
            .map(|l| (l.value.clone(), l.at.clone()))
            .collect::<Vec<_>>()
    };
    let own: Vec<&Located<NodeId>> = v
        .node_id
        .iter()
        .chain(v.node_key_file.iter())
        .chain(v.node_ids.values())
        .collect();
    for s in &sentries.value {
        for (id, at) in ids_of(s) {
            if let Some(mine) = own.iter().find(|o| o.value == id) {
                return Err(invalid(
                    &at,
                    format!("validators.{name}.sentries.{}", s.name),
                    format!(
                        "node ID {id} is the validator node's own (at {}); a sentry is another node with its own node key",
                        mine.at
                    ),
                ));
            }
        }
    }
    Ok(EndpointSource::Sentries {
        private_endpoint,
        sentries: sentries.value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::cosmos::inventory::from_texts;

    const ALICE: &str = "validators:\n  alice:\n    operator_address: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg\n    consumer_template: alice-{{chain_id}}.example.com\n";
    const ALICE_ID: &str = "validators:\n  alice:\n    node_id: 529A2B1B52C1A79A57989BB89630C08D1AAAA689\n    node_ids:\n      pion-1: 2b0ea5e4e9a1c0b3b0c2c1d1e0f0a0b0c0d0e0f0\n";

    #[test]
    fn one_validator_merges_across_files() {
        let inv = from_texts(&[
            (Path::new("endpoints.yaml"), ALICE.to_owned()),
            (Path::new("ids.yaml"), ALICE_ID.to_owned()),
        ])
        .unwrap();
        let alice = &inv.validators["alice"];
        assert_eq!(
            alice.node_id.as_ref().unwrap().value.as_str(),
            "529a2b1b52c1a79a57989bb89630c08d1aaaa689",
            "node IDs are normalised to lowercase"
        );
        assert_eq!(alice.node_ids["pion-1"].at.to_string(), "ids.yaml:5:15");
        assert_eq!(
            alice.at.to_string(),
            "endpoints.yaml:3:5",
            "the first file names it"
        );
        assert_eq!(inv.files.len(), 2);
    }

    #[test]
    fn a_sentry_takes_the_validators_endpoint_source_words() {
        use crate::cosmos::inventory::{EndpointSource, roles::SentryEndpoint};
        let inv = |source: &str| {
            from_texts(&[(
                Path::new("inv.yaml"),
                format!(
                    "dns:\n  default_zone: v.zone\n  zones:\n    v.zone:\n      hostmaster: h@v.zone\n      ns: [ns1.v.zone]\n\
                     validators:\n  alice:\n    operator_address: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg\n\
                     \x20   node_id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    private_endpoint: alice-validator.alice.svc:26656\n\
                     \x20   sentries:\n      - name: s1\n        node_id: 1111111111111111111111111111111111111111\n{source}"
                ),
            )])
        };
        let sentry = |source: &str| match inv(source).unwrap().validators["alice"].endpoint.clone()
        {
            EndpointSource::Sentries { sentries, .. } => sentries[0].endpoint.clone(),
            other => panic!("not sentried: {other:?}"),
        };
        assert!(matches!(
            sentry(
                "        consumer_template: s1-{{chain_id}}.example.com:26656\n        endpoint_source: template\n"
            ),
            SentryEndpoint::Template(_)
        ));
        assert!(matches!(
            sentry("        endpoint_source: dns\n"),
            SentryEndpoint::Dns(_)
        ));
        let e = inv("        endpoint_source: chain-registry\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "set `endpoint_source: chain-registry` on validators.alice and remove `sentries:`"
            ),
            "{e}"
        );
        let e = inv("        endpoint_source: registry\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("node_id: does not apply with `endpoint_source: registry`"),
            "{e}"
        );
        let e = inv("        endpoint_source: template\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`template` needs the sentry's consumer_template"),
            "{e}"
        );
    }

    #[test]
    fn a_setting_made_twice_names_both_places() {
        let e = from_texts(&[
            (
                Path::new("a.yaml"),
                format!("{ALICE}    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689\n"),
            ),
            (Path::new("b.yaml"), ALICE_ID.to_owned()),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "b.yaml:3:14: validators.alice.node_id is also set at a.yaml:5:14; a setting may be made in one inventory file only"
        );
    }

    #[test]
    fn per_consumer_maps_merge_key_by_key_and_refuse_a_repeated_key() {
        let more = "validators:\n  alice:\n    node_ids:\n      neutron-1: 529a2b1b52c1a79a57989bb89630c08d1aaaa689\n";
        let inv = from_texts(&[
            (
                Path::new("a.yaml"),
                format!("{ALICE}{}", &ALICE_ID["validators:\n  alice:\n".len()..]),
            ),
            (Path::new("b.yaml"), more.to_owned()),
        ])
        .unwrap();
        let keys: Vec<&str> = inv.validators["alice"]
            .node_ids
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["neutron-1", "pion-1"]);
        let e = from_texts(&[
            (
                Path::new("a.yaml"),
                format!("{ALICE}{}", &more["validators:\n  alice:\n".len()..]),
            ),
            (Path::new("b.yaml"), more.to_owned()),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "b.yaml:4:18: validators.alice.node_ids.neutron-1 is also set at a.yaml:"
            ),
            "{e}"
        );
    }
}
