//! The pure, deterministic core: for every active consumer, which inventory validators are in its
//! set, at which endpoint and node ID, and so each validator's peers. No I/O happens here.

pub(crate) mod port;
pub(crate) mod selection;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sha2::{Digest, Sha256};

use self::selection::{Selected, SelectionError};
use crate::cosmos::inventory::endpoint::{TemplatePort, Vars};
use crate::cosmos::inventory::settings::PortStrategy;
use crate::cosmos::inventory::settings::{NamePattern, Settings};
use crate::cosmos::inventory::{EndpointSource, Inventory, Validator, ValidatorPorts};
use crate::cosmos::node_id::NodeId;
use crate::cosmos::state::{Phase, ProviderState, ResolvedEndpoint};
use crate::input::address::{AddressError, Endpoint, Host};
use crate::input::name::{check_label, check_label_value, check_subdomain};
use crate::input::yaml::Origin;

/// Why a member has the port it has; collision messages name the setting to change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PortSource {
    ValidatorOverride(Origin),
    Template(Origin),
    ValidatorRange(Origin),
    ValidatorFixed(Origin),
    Consumer {
        strategy: PortStrategy,
        at: Origin,
    },
    /// The SRV record `peergen resolve` locked into the snapshot.
    Resolved {
        query: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    pub(crate) validator: String,
    pub(crate) moniker: String,
    pub(crate) operator_address: String,
    pub(crate) node_id: NodeId,
    pub(crate) endpoint: Endpoint,
    pub(crate) port_source: PortSource,
}

impl Member {
    pub(crate) fn peer_string(&self) -> String {
        format!("{}@{}", self.node_id, self.endpoint)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConsumerPlan {
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// Directory name: the chain id, or `<chain_id>--<consumer_id>` when an active consumer with a
    /// lower consumer id has the same chain id. Consumer ids only grow, so registering a new consumer
    /// never renames a running one.
    pub(crate) slug: String,
    pub(crate) phase: Phase,
    pub(crate) settings: Settings,
    /// Inventory validators in the selected set, sorted by name.
    pub(crate) members: Vec<Member>,
    /// Selected provider validators the inventory does not describe: reported, never invented.
    pub(crate) missing: Vec<Selected>,
    /// Selected validators removed by `exclude:`.
    pub(crate) excluded: Vec<String>,
    /// Opted-in valcons addresses that neither the bonded set nor the consumer's set names.
    pub(crate) unresolved: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InactiveConsumer {
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    pub(crate) phase: Phase,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) consumers: Vec<ConsumerPlan>,
    pub(crate) inactive: Vec<InactiveConsumer>,
    pub(crate) warnings: Vec<String>,
}

/// One validator's view of one consumer: what its node's peer config says.
#[derive(Clone, Debug)]
pub(crate) struct View<'a> {
    pub(crate) consumer: &'a ConsumerPlan,
    pub(crate) member: &'a Member,
    pub(crate) peers: Vec<&'a Member>,
    pub(crate) persistent_peers: String,
    pub(crate) peers_sha256: String,
    pub(crate) namespace: String,
    pub(crate) configmap: String,
    pub(crate) workload: Option<String>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum PlanError {
    Selection(SelectionError),
    NoNodeId {
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
    },
    Endpoint {
        validator: String,
        consumer_id: String,
        chain_id: String,
        template: String,
        at: Origin,
        error: AddressError,
    },
    PortCollision {
        validator: String,
        endpoint: Endpoint,
        first: (String, String, PortSource),
        second: (String, String, PortSource),
        suggestion: Option<u16>,
    },
    SharedAddress {
        endpoint: Endpoint,
        first: (String, String, String),
        second: (String, String, String),
    },
    NodeIdConflict {
        consumer_id: String,
        node_id: NodeId,
        a: String,
        b: String,
    },
    AmbiguousMoniker {
        consumer_id: String,
        moniker: String,
        validator: String,
    },
    BadName {
        validator: String,
        consumer_id: String,
        what: &'static str,
        value: String,
        reason: String,
    },
    DuplicateName {
        validator: String,
        what: String,
        consumers: (String, String),
    },
    /// A validator with `endpoint_source: dns` has no usable resolved endpoint.
    Dns {
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
        problem: String,
    },
}

/// One SRV name `peergen resolve` must look up: a DNS-sourced validator × a consumer it is selected for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DnsLookup {
    pub(crate) validator: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// Absolute name without trailing dot: `_service._proto.<validator>-<slug>.<zone>`.
    pub(crate) query: String,
}

/// How members with `endpoint_source: dns` get their endpoint.
enum DnsMode<'a> {
    /// From the snapshot's resolved endpoints; a missing one is an error.
    Snapshot(&'a [ResolvedEndpoint]),
    /// Collect the names to resolve instead; such members stay out of the plan.
    Collect(&'a mut Vec<DnsLookup>),
}

fn describe_port_source(s: &PortSource, consumer_id: &str) -> String {
    match s {
        PortSource::ValidatorOverride(at) => format!("port_overrides entry at {at}"),
        PortSource::Template(at) => format!("the port written in consumer_template at {at}"),
        PortSource::ValidatorRange(at) => {
            format!("the validator's port range at {at} (consumer id mod range size)")
        }
        PortSource::ValidatorFixed(at) => format!("the validator's fixed `ports` at {at}"),
        PortSource::Consumer {
            strategy: PortStrategy::Hash,
            ..
        } => {
            format!("the `hash` port strategy (sha256 of consumer id {consumer_id:?})")
        }
        PortSource::Consumer {
            strategy: PortStrategy::Fixed(_),
            at,
        } => format!("the fixed `port` at {at}"),
        PortSource::Resolved { query } => {
            format!("the SRV record {query} resolved into the snapshot")
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Selection(e) => write!(f, "{e}"),
            PlanError::NoNodeId {
                validator,
                consumer_id,
                chain_id,
                at,
            } => write!(
                f,
                "{at}: validators.{validator}: no node ID for consumer {consumer_id} ({chain_id}): set node_id, node_ids.{consumer_id} or node_key_file"
            ),
            PlanError::Endpoint {
                validator,
                consumer_id,
                chain_id,
                template,
                at,
                error,
            } => write!(
                f,
                "{at}: validators.{validator}.consumer_template: {template:?} for consumer {consumer_id} ({chain_id}) gives an invalid peer address: {error}"
            ),
            PlanError::PortCollision {
                validator,
                endpoint,
                first,
                second,
                suggestion,
            } => {
                write!(
                    f,
                    "port collision: validator {validator} would serve consumer {} ({}) and consumer {} ({}) both at {endpoint}; \
                     {}'s port comes from {} and {}'s from {}. peergen never moves a port silently: \
                     give one consumer its own port, e.g. `consumers: {{\"{}\": {{port: {}}}}}` in the inventory",
                    first.0,
                    first.1,
                    second.0,
                    second.1,
                    first.0,
                    describe_port_source(&first.2, &first.0),
                    second.0,
                    describe_port_source(&second.2, &second.0),
                    second.0,
                    suggestion.map_or_else(|| "PORT".to_owned(), |p| p.to_string()),
                )?;
                if matches!(
                    second.2,
                    PortSource::ValidatorRange(_)
                        | PortSource::Template(_)
                        | PortSource::ValidatorFixed(_)
                ) {
                    write!(
                        f,
                        ", or `validators.{validator}.port_overrides: {{\"{}\": PORT}}`",
                        second.0
                    )?;
                }
                Ok(())
            }
            PlanError::SharedAddress {
                endpoint,
                first,
                second,
            } => write!(
                f,
                "address collision: validator {} on consumer {} ({}) and validator {} on consumer {} ({}) would both be reached at {endpoint}; \
                 one host:port is one node: give each its own consumer_template host or port",
                first.0, first.1, first.2, second.0, second.1, second.2
            ),
            PlanError::NodeIdConflict {
                consumer_id,
                node_id,
                a,
                b,
            } => write!(
                f,
                "consumer {consumer_id}: validators {a} and {b} both claim node ID {node_id} with different endpoints; a node ID names one node"
            ),
            PlanError::AmbiguousMoniker {
                consumer_id,
                moniker,
                validator,
            } => write!(
                f,
                "consumer {consumer_id}: several selected provider validators have moniker {moniker:?}, so validators.{validator} cannot be matched by moniker: set its operator_address"
            ),
            PlanError::BadName {
                validator,
                consumer_id,
                what,
                value,
                reason,
            } => write!(
                f,
                "validator {validator}, consumer {consumer_id}: {what} {value:?} is not a valid Kubernetes name: {reason}; change the `{what}` pattern"
            ),
            PlanError::DuplicateName {
                validator,
                what,
                consumers,
            } => write!(
                f,
                "validator {validator}: consumers {} and {} both get {what}; make the name pattern include {{{{chain_id}}}} or {{{{consumer_id}}}}",
                consumers.0, consumers.1
            ),
            PlanError::Dns {
                validator,
                consumer_id,
                chain_id,
                at,
                problem,
            } => write!(
                f,
                "{at}: validators.{validator} (endpoint_source: dns), consumer {consumer_id} ({chain_id}): {problem}"
            ),
        }
    }
}

/// Every problem found, not only the first, so one run shows the whole fix list.
#[derive(Debug, thiserror::Error)]
pub(crate) struct PlanErrors(pub(crate) Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

pub(crate) fn plan(inventory: &Inventory, state: &ProviderState) -> Result<Plan, PlanErrors> {
    plan_with(
        inventory,
        state,
        &mut DnsMode::Snapshot(&state.resolved_endpoints),
    )
}

/// The SRV names to resolve: every `endpoint_source: dns` validator × consumer it is selected for.
pub(crate) fn dns_lookups(
    inventory: &Inventory,
    state: &ProviderState,
) -> Result<Vec<DnsLookup>, PlanErrors> {
    let mut lookups = Vec::new();
    plan_with(inventory, state, &mut DnsMode::Collect(&mut lookups))?;
    Ok(lookups)
}

fn plan_with(
    inventory: &Inventory,
    state: &ProviderState,
    dns: &mut DnsMode<'_>,
) -> Result<Plan, PlanErrors> {
    let mut errors = Vec::new();
    let mut warnings = inventory.warnings.clone();
    let mut consumers = Vec::new();
    let mut inactive = Vec::new();

    let mut first_with_chain: BTreeMap<&str, &str> = BTreeMap::new();
    for c in state.consumers.iter().filter(|c| c.phase.is_active()) {
        first_with_chain
            .entry(c.chain_id.as_str())
            .and_modify(|first| {
                if crate::cosmos::state::consumer_id_order(&c.consumer_id, first).is_lt() {
                    *first = &c.consumer_id;
                }
            })
            .or_insert(&c.consumer_id);
    }
    for (key, over) in &inventory.consumers {
        if !state
            .consumers
            .iter()
            .any(|c| &c.consumer_id == key || &c.chain_id == key)
        {
            warnings.push(format!(
                "{}: consumers.{key} matches no consumer id or chain id in the provider state",
                over.at
            ));
        }
    }
    let known = |key: &str| {
        state
            .consumers
            .iter()
            .any(|c| c.consumer_id == key || c.chain_id == key)
    };
    for v in inventory.validators.values() {
        let keyed = v
            .node_ids
            .iter()
            .map(|(k, l)| ("node_ids", k, &l.at))
            .chain(
                v.port_overrides
                    .iter()
                    .map(|(k, l)| ("port_overrides", k, &l.at)),
            );
        for (field, key, at) in keyed {
            if !known(key) {
                warnings.push(format!(
                    "{at}: validators.{}.{field}.{key} matches no consumer id or chain id in the provider state",
                    v.name
                ));
            }
        }
    }

    for consumer in &state.consumers {
        if !consumer.phase.is_active() {
            inactive.push(InactiveConsumer {
                consumer_id: consumer.consumer_id.clone(),
                chain_id: consumer.chain_id.clone(),
                phase: consumer.phase,
            });
            continue;
        }
        let settings = inventory.settings_for(&consumer.consumer_id, &consumer.chain_id);
        let selection::Selections {
            selected,
            unresolved,
        } = match selection::select(settings.selection, consumer, state) {
            Ok(s) => s,
            Err(e) => {
                errors.push(PlanError::Selection(e));
                continue;
            }
        };
        let slug = if first_with_chain.get(consumer.chain_id.as_str())
            == Some(&consumer.consumer_id.as_str())
        {
            consumer.chain_id.clone()
        } else {
            format!("{}--{}", consumer.chain_id, consumer.consumer_id)
        };
        let mut cp = ConsumerPlan {
            consumer_id: consumer.consumer_id.clone(),
            chain_id: consumer.chain_id.clone(),
            slug,
            phase: consumer.phase,
            settings,
            members: Vec::new(),
            missing: Vec::new(),
            excluded: Vec::new(),
            unresolved,
        };
        for valcons in &cp.unresolved {
            warnings.push(format!(
                "consumer {} ({}): opted-in validator {valcons} is neither bonded nor in the consumer's set, so its operator address is unknown; it gets no peer entry",
                cp.consumer_id, cp.chain_id
            ));
        }
        let mut used_excludes = BTreeSet::new();
        for s in &selected {
            let Some(v) = match_validator(inventory, &selected, s, &cp.consumer_id, &mut errors)
            else {
                cp.missing.push(s.clone());
                continue;
            };
            if let Some(ex) = cp
                .settings
                .exclude
                .iter()
                .find(|e| e.value == v.name || e.value == s.operator_address)
            {
                used_excludes.insert(ex.value.clone());
                cp.excluded.push(v.name.clone());
                continue;
            }
            if let Some(m) = member(inventory, v, s, consumer, &cp, dns, &mut errors) {
                cp.members.push(m);
            }
        }
        for ex in &cp.settings.exclude {
            if !used_excludes.contains(&ex.value)
                && !cp.missing.iter().any(|m| m.operator_address == ex.value)
            {
                warnings.push(format!(
                    "{}: exclude entry {:?} matches no selected validator of consumer {}",
                    ex.at, ex.value, cp.consumer_id
                ));
            }
        }
        cp.members.sort_by(|a, b| a.validator.cmp(&b.validator));
        for m in &cp.missing {
            warnings.push(format!(
                "consumer {} ({}): selected validator {} ({:?}) is not in the inventory; it gets no peer entry",
                cp.consumer_id, cp.chain_id, m.operator_address, m.moniker
            ));
        }
        check_node_ids(&cp, &mut errors, &mut warnings);
        if cp
            .settings
            .p2p
            .addr_book_strict
            .as_ref()
            .is_none_or(|s| s.value)
            && cp.members.iter().any(|m| !m.endpoint.host.is_routable())
        {
            warnings.push(format!(
                "consumer {} ({}): some peers have private addresses, which CometBFT drops while addr_book_strict is true; set `p2p: {{addr_book_strict: false}}`",
                cp.consumer_id, cp.chain_id
            ));
        }
        consumers.push(cp);
    }
    for v in inventory.validators.values() {
        let serves = consumers
            .iter()
            .any(|cp| cp.members.iter().any(|m| m.validator == v.name));
        if !serves {
            warnings.push(format!(
                "{}: validators.{} is in no active consumer's selected set, so it gets no peer config; check its operator_address",
                v.at, v.name
            ));
        }
    }
    check_collisions(&consumers, &mut errors);
    let plan = Plan {
        consumers,
        inactive,
        warnings,
    };
    check_names(&plan, &mut errors);
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(PlanErrors(errors))
    }
}

fn match_validator<'a>(
    inventory: &'a Inventory,
    selected: &[Selected],
    s: &Selected,
    consumer_id: &str,
    errors: &mut Vec<PlanError>,
) -> Option<&'a Validator> {
    if let Some(v) = inventory
        .validators
        .values()
        .find(|v| v.operator_address.as_deref() == Some(s.operator_address.as_str()))
    {
        return Some(v);
    }
    let v = inventory
        .validators
        .values()
        .find(|v| v.operator_address.is_none() && v.moniker == s.moniker)?;
    if selected.iter().filter(|o| o.moniker == s.moniker).count() > 1 {
        errors.push(PlanError::AmbiguousMoniker {
            consumer_id: consumer_id.to_owned(),
            moniker: s.moniker.clone(),
            validator: v.name.clone(),
        });
        return None;
    }
    Some(v)
}

fn member(
    inventory: &Inventory,
    v: &Validator,
    s: &Selected,
    consumer: &crate::cosmos::state::Consumer,
    cp: &ConsumerPlan,
    dns: &mut DnsMode<'_>,
    errors: &mut Vec<PlanError>,
) -> Option<Member> {
    let settings = &cp.settings;
    let (cid, chain) = (consumer.consumer_id.as_str(), consumer.chain_id.as_str());
    let Some(node_id) = Inventory::node_id_for(v, cid, chain) else {
        errors.push(PlanError::NoNodeId {
            validator: v.name.clone(),
            consumer_id: cid.to_owned(),
            chain_id: chain.to_owned(),
            at: v.at.clone(),
        });
        return None;
    };
    let template = match &v.endpoint {
        EndpointSource::Template(t) => t,
        EndpointSource::Dns(at) => {
            let endpoint = dns_endpoint(inventory, v, cp, dns).map_err(|problem| PlanError::Dns {
                validator: v.name.clone(),
                consumer_id: cid.to_owned(),
                chain_id: chain.to_owned(),
                at: at.clone(),
                problem,
            });
            return match endpoint {
                Ok(Some((endpoint, query))) => Some(Member {
                    validator: v.name.clone(),
                    moniker: s.moniker.clone(),
                    operator_address: s.operator_address.clone(),
                    node_id: node_id.clone(),
                    endpoint,
                    port_source: PortSource::Resolved { query },
                }),
                Ok(None) => None,
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
        }
    };
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
    let endpoint = match template.value.expand(&vars, port) {
        Ok(e) => e,
        Err(error) => {
            errors.push(PlanError::Endpoint {
                validator: v.name.clone(),
                consumer_id: cid.to_owned(),
                chain_id: chain.to_owned(),
                template: template.value.as_str().to_owned(),
                at: template.at.clone(),
                error,
            });
            return None;
        }
    };
    Some(Member {
        validator: v.name.clone(),
        moniker: s.moniker.clone(),
        operator_address: s.operator_address.clone(),
        node_id: node_id.clone(),
        endpoint,
        port_source,
    })
}

/// The endpoint of a DNS-sourced member from the snapshot, or `None` after noting the lookup in
/// collect mode.
fn dns_endpoint(
    inventory: &Inventory,
    v: &Validator,
    cp: &ConsumerPlan,
    mode: &mut DnsMode<'_>,
) -> Result<Option<(Endpoint, String)>, String> {
    let consumer_id = cp.consumer_id.as_str();
    let (Some(dns), Some(zone)) = (inventory.dns.as_ref(), inventory.zone_for(v)) else {
        return Err("no DNS zone: set dns_zone or dns.default_zone".to_owned());
    };
    let query = dns.value.srv_query(&zone.name, &v.name, &cp.slug)?;
    match mode {
        DnsMode::Collect(lookups) => {
            lookups.push(DnsLookup {
                validator: v.name.clone(),
                consumer_id: consumer_id.to_owned(),
                chain_id: cp.chain_id.clone(),
                query,
            });
            Ok(None)
        }
        DnsMode::Snapshot(resolved) => {
            let r = resolved
                .iter()
                .find(|r| r.validator == v.name && r.consumer_id == consumer_id)
                .ok_or_else(|| format!("the snapshot has no resolved endpoint for {query}: run `peergen resolve` to look it up"))?;
            if r.query != query {
                return Err(format!(
                    "the snapshot's endpoint was resolved from {} but the inventory now names {query}: run `peergen resolve` again",
                    r.query
                ));
            }
            let endpoint = Endpoint::parse(&format!("{}:{}", r.host, r.port))
                .map_err(|e| format!("resolved endpoint: {e}"))?;
            Ok(Some((endpoint, query)))
        }
    }
}

fn check_node_ids(cp: &ConsumerPlan, errors: &mut Vec<PlanError>, warnings: &mut Vec<String>) {
    let mut by_id: BTreeMap<&NodeId, &Member> = BTreeMap::new();
    for m in &cp.members {
        if let Some(other) = by_id.insert(&m.node_id, m) {
            if other.endpoint == m.endpoint {
                warnings.push(format!(
                    "consumer {}: validators {} and {} describe the same node {}; it is listed once",
                    cp.consumer_id, other.validator, m.validator, m.peer_string()
                ));
            } else {
                errors.push(PlanError::NodeIdConflict {
                    consumer_id: cp.consumer_id.clone(),
                    node_id: m.node_id.clone(),
                    a: other.validator.clone(),
                    b: m.validator.clone(),
                });
            }
        }
    }
}

/// Which consumer and member entry first claimed each host:port.
type EndpointOwners<'a> = BTreeMap<(&'a Host, u16), (&'a ConsumerPlan, &'a Member)>;

/// One host:port is one node. A validator serving two consumers there, or two validators sharing
/// it, would send peers to the wrong chain or node; the only tolerated repeat is one node listed by
/// two validator entries of the same consumer (same node ID too), which dedup handles.
fn check_collisions(consumers: &[ConsumerPlan], errors: &mut Vec<PlanError>) {
    let mut owners: EndpointOwners<'_> = BTreeMap::new();
    let mut used: BTreeMap<&Host, BTreeSet<u16>> = BTreeMap::new();
    for m in consumers.iter().flat_map(|cp| &cp.members) {
        used.entry(&m.endpoint.host)
            .or_default()
            .insert(m.endpoint.port);
    }
    for cp in consumers {
        for m in &cp.members {
            let key = (&m.endpoint.host, m.endpoint.port);
            let Some(&(first_cp, first_m)) = owners.get(&key) else {
                owners.insert(key, (cp, m));
                continue;
            };
            if first_m.validator != m.validator {
                if first_cp.consumer_id != cp.consumer_id || first_m.node_id != m.node_id {
                    errors.push(PlanError::SharedAddress {
                        endpoint: m.endpoint.clone(),
                        first: (
                            first_m.validator.clone(),
                            first_cp.consumer_id.clone(),
                            first_cp.chain_id.clone(),
                        ),
                        second: (
                            m.validator.clone(),
                            cp.consumer_id.clone(),
                            cp.chain_id.clone(),
                        ),
                    });
                }
                continue;
            }
            let taken = &used[&m.endpoint.host];
            let suggestion = (m.endpoint.port..=u16::MAX)
                .skip(1)
                .find(|p| !taken.contains(p));
            errors.push(PlanError::PortCollision {
                validator: m.validator.clone(),
                endpoint: m.endpoint.clone(),
                first: (
                    first_cp.consumer_id.clone(),
                    first_cp.chain_id.clone(),
                    first_m.port_source.clone(),
                ),
                second: (
                    cp.consumer_id.clone(),
                    cp.chain_id.clone(),
                    m.port_source.clone(),
                ),
                suggestion,
            });
        }
    }
}

/// The Kubernetes names one validator's objects get on one consumer.
struct Names {
    namespace: String,
    configmap: String,
    workload: Option<String>,
}

impl Names {
    fn of(cp: &ConsumerPlan, member: &Member) -> Names {
        let expand = |p: &NamePattern| p.expand(&member.validator, &cp.slug, &cp.consumer_id);
        Names {
            namespace: expand(&cp.settings.namespace),
            configmap: expand(&cp.settings.configmap),
            workload: cp.settings.workload.as_ref().map(|w| expand(&w.name)),
        }
    }
}

fn check_names(plan: &Plan, errors: &mut Vec<PlanError>) {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for cp in &plan.consumers {
        for m in &cp.members {
            let view = Names::of(cp, m);
            let bad = |what: &'static str, value: &str, reason: String| PlanError::BadName {
                validator: m.validator.clone(),
                consumer_id: cp.consumer_id.clone(),
                what,
                value: value.to_owned(),
                reason,
            };
            if let Err(r) = check_label(&view.namespace) {
                errors.push(bad("namespace", &view.namespace, r));
            }
            if let Err(r) = check_subdomain(&view.configmap) {
                errors.push(bad("configmap", &view.configmap, r));
            }
            if let Some(w) = &view.workload
                && let Err(r) = check_subdomain(w)
            {
                errors.push(bad("workload", w, r));
            }
            for (what, value) in [
                ("chain id label", cp.chain_id.as_str()),
                ("consumer id label", cp.consumer_id.as_str()),
            ] {
                if let Err(r) = check_label_value(value) {
                    errors.push(bad(what, value, r));
                }
            }
            let key = (
                m.validator.clone(),
                format!("ConfigMap {}/{}", view.namespace, view.configmap),
            );
            if let Some(other) = seen.insert(key.clone(), cp.consumer_id.clone()) {
                errors.push(PlanError::DuplicateName {
                    validator: m.validator.clone(),
                    what: key.1,
                    consumers: (other, cp.consumer_id.clone()),
                });
            }
        }
    }
}

impl Plan {
    pub(crate) fn view<'a>(&'a self, cp: &'a ConsumerPlan, member: &'a Member) -> View<'a> {
        let mut peers: Vec<(String, &Member)> = cp
            .members
            .iter()
            .filter(|m| m.validator != member.validator && m.node_id != member.node_id)
            .map(|m| (m.peer_string(), m))
            .collect();
        peers.sort_by(|a, b| a.0.cmp(&b.0));
        peers.dedup_by(|a, b| a.1.node_id == b.1.node_id);
        let persistent_peers = peers
            .iter()
            .map(|(address, _)| address.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let peers_sha256 = hex::encode(Sha256::digest(persistent_peers.as_bytes()));
        let names = Names::of(cp, member);
        View {
            consumer: cp,
            member,
            peers: peers.into_iter().map(|(_, m)| m).collect(),
            persistent_peers,
            peers_sha256,
            namespace: names.namespace,
            configmap: names.configmap,
            workload: names.workload,
        }
    }

    /// Every (consumer, validator) view, optionally only validator `only`'s, in output order.
    pub(crate) fn views<'a>(
        &'a self,
        only: Option<&'a str>,
    ) -> impl Iterator<Item = View<'a>> + 'a {
        self.consumers.iter().flat_map(move |cp| {
            cp.members
                .iter()
                .filter(move |m| only.is_none_or(|o| o == m.validator))
                .map(move |m| self.view(cp, m))
        })
    }
}
