//! One selected provider validator as a plan member: matched to its inventory entry, with its
//! node ID, endpoint and the source of its port.

use std::collections::HashMap;

use super::selection::Selected;
use super::{ConsumerPlan, DnsLookup, DnsMode, Member, PlanError, PortSource, Role, port};
use crate::cosmos::inventory::endpoint::{EndpointTemplate, TemplatePort, Vars};
use crate::cosmos::inventory::roles::{Sentry, SentryEndpoint, VALIDATOR_NODE};
use crate::cosmos::inventory::settings::Settings;
use crate::cosmos::inventory::{EndpointSource, Inventory, Validator, ValidatorPorts};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::state::registry::{ChainRegistrySource, RegistryState};
use crate::input::address::Endpoint;
use crate::input::yaml::Located;

/// The inventory's validators by what the provider reports of them, built once per plan: every
/// consumer matches its whole selected set against it.
pub(super) struct Matcher<'a> {
    by_operator: HashMap<&'a str, &'a Validator>,
    /// Validators without an operator address, by moniker; the first by name wins.
    by_moniker: HashMap<&'a str, &'a Validator>,
}

impl<'a> Matcher<'a> {
    pub(super) fn new(inventory: &'a Inventory) -> Matcher<'a> {
        let mut m = Matcher {
            by_operator: HashMap::new(),
            by_moniker: HashMap::new(),
        };
        for v in inventory.validators.values() {
            match &v.operator_address {
                Some(op) => m.by_operator.entry(op.as_str()).or_insert(v),
                None => m.by_moniker.entry(v.moniker.as_str()).or_insert(v),
            };
        }
        m
    }

    /// The inventory entry of `s` (one of `selected`): by operator address, else by moniker when
    /// that moniker is unambiguous in the selected set (`monikers` counts them).
    pub(super) fn find(
        &self,
        monikers: &HashMap<&str, usize>,
        s: &Selected,
        consumer_id: &str,
        errors: &mut Vec<PlanError>,
    ) -> Option<&'a Validator> {
        if let Some(v) = self.by_operator.get(s.operator_address.as_str()) {
            return Some(v);
        }
        let v = *self.by_moniker.get(s.moniker.as_str())?;
        if monikers.get(s.moniker.as_str()).copied().unwrap_or(0) > 1 {
            errors.push(PlanError::AmbiguousMoniker {
                consumer_id: consumer_id.to_owned(),
                moniker: s.moniker.clone(),
                validator: v.name.clone(),
            });
            return None;
        }
        Some(v)
    }
}

/// How often each moniker occurs in a consumer's selected set.
pub(super) fn moniker_counts(selected: &[Selected]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for s in selected {
        *counts.entry(s.moniker.as_str()).or_insert(0) += 1;
    }
    counts
}

/// The plan's nodes of one selected validator: its public node, or its sentries and its private
/// validator node.
pub(super) struct Nodes {
    pub(super) public: Vec<Member>,
    pub(super) private: Option<Member>,
}

/// Where endpoints that are not templates come from: SRV answers and registry entries.
pub(super) struct Sources<'a, 'b> {
    pub(super) dns: &'a mut DnsMode<'b>,
    pub(super) registry: Option<&'a RegistryState>,
    pub(super) chain_registry: &'a [ChainRegistrySource],
}

pub(super) fn member(
    inventory: &Inventory,
    v: &Validator,
    s: &Selected,
    consumer: &crate::cosmos::state::Consumer,
    cp: &ConsumerPlan,
    sources: Sources<'_, '_>,
    errors: &mut Vec<PlanError>,
) -> Option<Nodes> {
    let settings = &cp.settings;
    let (cid, chain) = (consumer.consumer_id.as_str(), consumer.chain_id.as_str());
    let dns = sources.dns;
    let published = match &v.endpoint {
        EndpointSource::Registry(at) => {
            Some(("registry", at, registry_nodes(v, s, cid, sources.registry)))
        }
        EndpointSource::ChainRegistry(at) => Some((
            "chain-registry",
            at,
            chain_registry_nodes(v, s, cid, sources.chain_registry),
        )),
        _ => None,
    };
    if let Some((source, at, nodes)) = published {
        return match nodes {
            Ok(public) => Some(Nodes {
                public,
                private: None,
            }),
            Err(problem) => {
                errors.push(PlanError::Registry {
                    source,
                    validator: v.name.clone(),
                    consumer_id: cid.to_owned(),
                    chain_id: chain.to_owned(),
                    at: at.clone(),
                    problem,
                });
                None
            }
        };
    }
    let no_node_id = |node: Option<&str>| PlanError::NoNodeId {
        validator: node.map_or_else(|| v.name.clone(), |n| format!("{}.sentries.{n}", v.name)),
        consumer_id: cid.to_owned(),
        chain_id: chain.to_owned(),
        at: v.at.clone(),
    };
    let Some(node_id) = Inventory::node_id_for(v, cid, chain) else {
        errors.push(no_node_id(None));
        return None;
    };
    let node = |role: Role, node_id: &NodeId, endpoint: Endpoint, port_source: PortSource| Member {
        validator: v.name.clone(),
        moniker: s.moniker.clone(),
        operator_address: s.operator_address.clone(),
        peer: Member::peer_of(node_id, &endpoint),
        node_id: node_id.clone(),
        endpoint,
        port_source,
        role,
    };
    let template = match &v.endpoint {
        EndpointSource::Template(t) => t,
        EndpointSource::Registry(_) | EndpointSource::ChainRegistry(_) => {
            unreachable!("registry-sourced validators returned above")
        }
        EndpointSource::Dns(at) => {
            let endpoint = dns_endpoint(inventory, v, None, cp, dns)
                .map_err(|problem| dns_error(v, cid, chain, at, problem));
            return match endpoint {
                Ok(Some((endpoint, query))) => Some(Nodes {
                    public: vec![node(
                        Role::Public,
                        node_id,
                        endpoint,
                        PortSource::Resolved { query },
                    )],
                    private: None,
                }),
                Ok(None) => None,
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
        }
        EndpointSource::Sentries {
            private_endpoint,
            sentries,
        } => {
            let serving: Vec<&Sentry> = sentries.iter().filter(|s| s.serves(cid, chain)).collect();
            if serving.is_empty() {
                errors.push(PlanError::NoSentry {
                    validator: v.name.clone(),
                    consumer_id: cid.to_owned(),
                    chain_id: chain.to_owned(),
                    at: v.at.clone(),
                });
                return None;
            }
            let mut public = Vec::new();
            let mut collecting = false;
            for sentry in serving {
                if let SentryEndpoint::Registry(at) = &sentry.endpoint {
                    match registry_sentry(v, s, &sentry.name, cid, sources.registry) {
                        Ok(m) => public.push(m),
                        Err(problem) => errors.push(PlanError::Registry {
                            source: "registry",
                            validator: format!("{}.sentries.{}", v.name, sentry.name),
                            consumer_id: cid.to_owned(),
                            chain_id: chain.to_owned(),
                            at: at.clone(),
                            problem,
                        }),
                    }
                    continue;
                }
                let Some(id) = sentry.node_id_for(cid, chain) else {
                    errors.push(no_node_id(Some(&sentry.name)));
                    continue;
                };
                let role = Role::Sentry(sentry.name.clone());
                match &sentry.endpoint {
                    SentryEndpoint::Template(t) => match endpoint_of(t, v, cid, chain, settings) {
                        Ok((endpoint, source)) => public.push(node(role, id, endpoint, source)),
                        Err(e) => errors.push(*e),
                    },
                    SentryEndpoint::Registry(_) => {
                        unreachable!("registry sentries are taken above")
                    }
                    SentryEndpoint::Dns(at) => {
                        match dns_endpoint(inventory, v, Some(&sentry.name), cp, dns) {
                            Ok(Some((endpoint, query))) => public.push(node(
                                role,
                                id,
                                endpoint,
                                PortSource::Resolved { query },
                            )),
                            Ok(None) => collecting = true,
                            Err(problem) => errors.push(dns_error(v, cid, chain, at, problem)),
                        }
                    }
                }
            }
            if collecting {
                return None;
            }
            let private = match endpoint_of(private_endpoint, v, cid, chain, settings) {
                Ok((endpoint, source)) => Some(node(Role::Validator, node_id, endpoint, source)),
                Err(e) => {
                    errors.push(*e);
                    None
                }
            };
            return Some(Nodes { public, private });
        }
    };
    match endpoint_of(template, v, cid, chain, settings) {
        Ok((endpoint, source)) => Some(Nodes {
            public: vec![node(Role::Public, node_id, endpoint, source)],
            private: None,
        }),
        Err(e) => {
            errors.push(*e);
            None
        }
    }
}

/// The public nodes a registry-sourced validator published for one consumer: its one public node
/// (`validator`), or its sentries; its validator node behind sentries is never published.
fn registry_nodes(
    v: &Validator,
    s: &Selected,
    cid: &str,
    registry: Option<&RegistryState>,
) -> Result<Vec<Member>, String> {
    let entries: Vec<_> = registry
        .map(|r| r.nodes(&v.name, cid).collect())
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(match registry {
            None => "the snapshot holds no registry read: run `peergen fetch` to read the registry"
                .to_owned(),
            Some(r) => format!(
                "the registry (read at revision {}) has no entry under {}{}/{cid}/: its operator has not run `peergen publish` for this consumer",
                r.revision, r.prefix, s.operator_address
            ),
        });
    }
    if entries.len() > 1 && entries.iter().any(|e| e.node == VALIDATOR_NODE) {
        return Err(format!(
            "the registry lists node {VALIDATOR_NODE:?} beside sentries; a validator publishes either its one public node or its sentries, never a validator node behind them"
        ));
    }
    Ok(entries
        .into_iter()
        .map(|e| {
            published_node(
                v,
                s,
                &e.node,
                &e.node_id,
                &e.address,
                PortSource::Registry {
                    revision: e.revision,
                },
            )
        })
        .collect())
}

/// The node an inventory sentry with `endpoint_source: registry` published for one consumer,
/// under its own name in its validator's key range.
fn registry_sentry(
    v: &Validator,
    s: &Selected,
    sentry: &str,
    cid: &str,
    registry: Option<&RegistryState>,
) -> Result<Member, String> {
    let r = registry.ok_or_else(|| {
        "the snapshot holds no registry read: run `peergen fetch` to read the registry".to_owned()
    })?;
    let e = r.nodes(&v.name, cid).find(|e| e.node == sentry).ok_or_else(|| {
        format!(
            "the registry (read at revision {}) has no entry at {}{}/{cid}/{sentry}: the sentry's node ID and address have not been published for this consumer",
            r.revision, r.prefix, s.operator_address
        )
    })?;
    Ok(published_node(
        v,
        s,
        &e.node,
        &e.node_id,
        &e.address,
        PortSource::Registry {
            revision: e.revision,
        },
    ))
}

/// The entries of a chain-registry-sourced validator's providers in the consumer's chain.json.
fn chain_registry_nodes(
    v: &Validator,
    s: &Selected,
    cid: &str,
    sources: &[ChainRegistrySource],
) -> Result<Vec<Member>, String> {
    let source = sources.iter().find(|c| c.consumer_id == cid).ok_or_else(|| {
        "the snapshot holds no chain.json for this consumer: name one in chain_registry.sources and run `peergen fetch`".to_owned()
    })?;
    let peers: Vec<Member> = source
        .peers
        .iter()
        .filter(|p| p.validator == v.name)
        .map(|p| {
            published_node(
                v,
                s,
                &p.node,
                &p.node_id,
                &p.address,
                PortSource::ChainRegistry {
                    source: source.source.clone(),
                },
            )
        })
        .collect();
    if peers.is_empty() {
        return Err(format!(
            "{} lists no valid peer of a provider chain_registry.providers maps to this validator",
            source.source
        ));
    }
    Ok(peers)
}

/// A node some registry published: `validator` is a validator's one public node, any other name
/// a sentry.
fn published_node(
    v: &Validator,
    s: &Selected,
    node: &str,
    node_id: &NodeId,
    address: &Endpoint,
    port_source: PortSource,
) -> Member {
    Member {
        validator: v.name.clone(),
        moniker: s.moniker.clone(),
        operator_address: s.operator_address.clone(),
        peer: Member::peer_of(node_id, address),
        node_id: node_id.clone(),
        endpoint: address.clone(),
        port_source,
        role: if node == VALIDATOR_NODE {
            Role::Public
        } else {
            Role::Sentry(node.to_owned())
        },
    }
}

/// Expands `template` for one consumer, its port from (in order) the validator's per-consumer
/// override, the template itself, the validator's `ports`, the consumer's port strategy.
fn endpoint_of(
    template: &Located<EndpointTemplate>,
    v: &Validator,
    cid: &str,
    chain: &str,
    settings: &Settings,
) -> Result<(Endpoint, PortSource), Box<PlanError>> {
    let (port, port_source) = if let Some(o) = v
        .port_overrides
        .get(cid)
        .or_else(|| v.port_overrides.get(chain))
    {
        (o.value, PortSource::ValidatorOverride(o.at.clone()))
    } else {
        match (template.value.port, &v.ports) {
            (TemplatePort::Fixed(p), _) => (p, PortSource::Template(template.at.clone())),
            (TemplatePort::Range(r), _) => (
                port::range_port(r, cid),
                PortSource::ValidatorRange(template.at.clone()),
            ),
            (TemplatePort::Consumer, Some(p)) => match p.value {
                ValidatorPorts::Fixed(port) => (port, PortSource::ValidatorFixed(p.at.clone())),
                ValidatorPorts::Range(r) => (
                    port::range_port(r, cid),
                    PortSource::ValidatorRange(p.at.clone()),
                ),
            },
            (TemplatePort::Consumer, None) => (
                port::consumer_port(settings.port.value, cid),
                PortSource::Consumer {
                    strategy: settings.port.value,
                    at: settings.port.at.clone(),
                },
            ),
        }
    };
    let vars = Vars {
        chain_id: chain,
        consumer_id: cid,
        validator: &v.name,
    };
    template
        .value
        .expand(&vars, port)
        .map(|e| (e, port_source))
        .map_err(|error| {
            Box::new(PlanError::Endpoint {
                validator: v.name.clone(),
                consumer_id: cid.to_owned(),
                chain_id: chain.to_owned(),
                template: template.value.as_str().to_owned(),
                at: template.at.clone(),
                error,
            })
        })
}

/// The endpoint of a DNS-sourced member from the snapshot, or `None` after noting the lookup in
/// collect mode.
fn dns_error(
    v: &Validator,
    consumer_id: &str,
    chain_id: &str,
    at: &crate::input::yaml::Origin,
    problem: String,
) -> PlanError {
    PlanError::Dns {
        validator: v.name.clone(),
        consumer_id: consumer_id.to_owned(),
        chain_id: chain_id.to_owned(),
        at: at.clone(),
        problem,
    }
}

fn dns_endpoint(
    inventory: &Inventory,
    v: &Validator,
    node: Option<&str>,
    cp: &ConsumerPlan,
    mode: &mut DnsMode<'_>,
) -> Result<Option<(Endpoint, String)>, String> {
    let consumer_id = cp.consumer_id.as_str();
    let (Some(dns), Some(zone)) = (inventory.dns.as_ref(), inventory.zone_for(v)) else {
        return Err("no DNS zone: set dns_zone or dns.default_zone".to_owned());
    };
    let query = dns.value.srv_query(&zone.name, &v.name, &cp.slug, node)?;
    match mode {
        DnsMode::Collect(lookups) => {
            lookups.push(DnsLookup {
                validator: v.name.clone(),
                consumer_id: consumer_id.to_owned(),
                chain_id: cp.chain_id.clone(),
                node: node.map(str::to_owned),
                query,
            });
            Ok(None)
        }
        DnsMode::Snapshot(resolved) => {
            let r = resolved
                .iter()
                .find(|r| {
                    r.validator == v.name && r.consumer_id == consumer_id && r.node.as_deref() == node
                })
                .ok_or_else(|| format!("the snapshot has no resolved endpoint for {query}: run `peergen resolve` to look it up"))?;
            if r.query != query {
                return Err(format!(
                    "the snapshot's endpoint was resolved from {} but the inventory now names {query}: run `peergen resolve` again",
                    r.query
                ));
            }
            let endpoint = r.endpoint();
            Ok(Some((endpoint, query)))
        }
    }
}
