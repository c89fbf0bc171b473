//! The pure, deterministic core: for every active consumer, which inventory validators are in its
//! set, at which endpoint and node ID, and so each validator's peers. No I/O happens here.

mod checks;
mod error;
mod member;
pub(crate) mod port;
mod port_fix;
pub(crate) mod seeds;
pub(crate) mod selection;
pub(crate) mod topology;

use std::collections::BTreeSet;

use self::selection::Selected;
use crate::cosmos::inventory::Inventory;
use crate::cosmos::inventory::roles::VALIDATOR_NODE;
use crate::cosmos::inventory::settings::PortStrategy;
use crate::cosmos::inventory::settings::Settings;
use crate::cosmos::node_id::NodeId;
use crate::cosmos::state::{Phase, ProviderState, ResolvedEndpoint};
use crate::input::address::Endpoint;
use crate::input::yaml::Origin;

use self::checks::{Names, check_admission, check_collisions, check_names, check_node_ids};
pub(crate) use self::error::{PlanError, PlanErrors};
use self::member::{Matcher, moniker_counts};

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
    /// The registry entry `fetch` locked into the snapshot, by its key's revision.
    Registry {
        revision: u64,
    },
    /// The chain.json `fetch` read the entry from.
    ChainRegistry {
        source: String,
    },
}

/// What a node is to the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A validator's only node, public (no sentries).
    Public,
    /// A public node in front of a private validator node.
    Sentry(String),
    /// A validator node behind sentries: peers with its own sentries only, never published.
    Validator,
}

/// One node of a selected validator on one consumer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    pub(crate) validator: String,
    pub(crate) moniker: String,
    pub(crate) operator_address: String,
    pub(crate) node_id: NodeId,
    /// Public for public nodes and sentries; the private address only its own sentries see for a
    /// validator node.
    pub(crate) endpoint: Endpoint,
    pub(crate) port_source: PortSource,
    pub(crate) role: Role,
    /// `node_id@host:port`, formatted once: every other node's view lists it.
    peer: String,
}

impl Member {
    pub(crate) fn peer_of(node_id: &NodeId, endpoint: &Endpoint) -> String {
        format!("{node_id}@{endpoint}")
    }

    pub(crate) fn peer_string(&self) -> &str {
        &self.peer
    }

    /// The node's `{{node}}` name: a sentry's own, `validator` for the validator's node.
    pub(crate) fn node_name(&self) -> &str {
        match &self.role {
            Role::Sentry(name) => name,
            Role::Public | Role::Validator => VALIDATOR_NODE,
        }
    }

    /// How messages name the node: the validator, or `validator/node` for nodes of a validator
    /// with sentries.
    pub(crate) fn label(&self) -> String {
        match self.role {
            Role::Public => self.validator.clone(),
            _ => format!("{}/{}", self.validator, self.node_name()),
        }
    }

    /// The node's output directory: `<validator>/<consumer>` for a validator's only node, one
    /// directory further for each node of a validator with sentries.
    pub(crate) fn dir(&self, slug: &str) -> String {
        match self.role {
            Role::Public => format!("{}/{slug}", self.validator),
            _ => format!("{}/{slug}/{}", self.validator, self.node_name()),
        }
    }

    /// The ring key of a public node: stable while the validator and node names are.
    fn graph_key(&self) -> String {
        match &self.role {
            Role::Sentry(name) => format!("{}/{name}", self.validator),
            _ => self.validator.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConsumerPlan {
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// Directory and object name: the chain id or `<chain_id>--<consumer_id>`, given once and
    /// kept in the snapshot (`state/names.rs`), so it never changes while the consumer runs.
    pub(crate) slug: String,
    pub(crate) phase: Phase,
    pub(crate) settings: Settings,
    /// The public nodes of inventory validators in the selected set: validator nodes without
    /// sentries, and sentries; sorted by validator, then node.
    pub(crate) members: Vec<Member>,
    /// Validator nodes behind sentries, sorted by validator.
    pub(crate) private: Vec<Member>,
    /// The topology over `members`: neighbour indices of each, symmetric.
    pub(crate) graph: Vec<BTreeSet<usize>>,
    /// Selected provider validators the inventory does not describe: reported, never invented.
    pub(crate) missing: Vec<Selected>,
    /// Selected validators removed by `exclude:`.
    pub(crate) excluded: Vec<String>,
    /// Opted-in valcons addresses that neither the bonded set nor the consumer's set names.
    pub(crate) unresolved: Vec<String>,
    /// `[p2p] seeds` before the cut of planned nodes ([`seeds::node_seeds`]): sorted, deduplicated.
    pub(crate) seeds: Vec<seeds::Seed>,
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
    /// The snapshot's locked A/AAAA answers, which allowlists admit.
    pub(crate) locked_addresses: Vec<crate::cosmos::state::ResolvedAddress>,
    /// Every node ID the inventory writes (per-consumer and sentry IDs too) with its validator's
    /// moniker, so a report can name a peer that left the plan.
    pub(crate) known_nodes: std::collections::BTreeMap<NodeId, String>,
}

/// One node's view of one consumer: what its peer config says.
#[derive(Clone, Debug)]
pub(crate) struct View<'a> {
    pub(crate) consumer: &'a ConsumerPlan,
    pub(crate) member: &'a Member,
    pub(crate) peers: Vec<&'a Member>,
    pub(crate) persistent_peers: String,
    /// Node IDs CometBFT admits and keeps whatever its limits, sorted.
    pub(crate) unconditional: Vec<NodeId>,
    /// Node IDs this node never gossips, sorted.
    pub(crate) private_ids: Vec<NodeId>,
    /// `None` leaves CometBFT's default.
    pub(crate) pex: Option<bool>,
    /// `[p2p] seeds`, sorted.
    pub(crate) seeds: Vec<seeds::Seed>,
    pub(crate) namespace: String,
    pub(crate) configmap: String,
    pub(crate) workload: Option<String>,
    /// The node's output directory.
    pub(crate) dir: String,
}

/// One SRV name `peergen resolve` must look up: a DNS-sourced validator × a consumer it is selected for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DnsLookup {
    pub(crate) validator: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// The sentry being looked up; `None` for a validator's only public node.
    pub(crate) node: Option<String>,
    /// Absolute name without trailing dot: `_service._proto.[<node>.]<validator>-<slug>.<zone>`.
    pub(crate) query: String,
}

/// How members with `endpoint_source: dns` get their endpoint.
enum DnsMode<'a> {
    /// From the snapshot's resolved endpoints; a missing one is an error.
    Snapshot(&'a [ResolvedEndpoint]),
    /// Collect the names to resolve instead; such members stay out of the plan.
    Collect(&'a mut Vec<DnsLookup>),
}

pub(crate) fn plan(inventory: &Inventory, state: &ProviderState) -> Result<Plan, PlanErrors> {
    plan_with(
        inventory,
        state,
        &mut DnsMode::Snapshot(&state.resolved_endpoints),
    )
    .map_err(|mut e| {
        port_fix::suggest(inventory, state, &mut e.0);
        e
    })
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

    let names = crate::cosmos::state::names::names(state);
    let matcher = Matcher::new(inventory);
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
        let slug = names[&consumer.consumer_id].clone();
        let consumer_seeds = match seeds::consumer_seeds(inventory, state, consumer, &settings) {
            Ok(s) => s,
            Err(e) => {
                errors.push(*e);
                Vec::new()
            }
        };
        if !consumer_seeds.is_empty() && settings.p2p.pex.as_ref().is_some_and(|p| !p.value) {
            warnings.push(format!(
                "consumer {} ({}): p2p.pex is false, and CometBFT hands seeds to its PEX reactor only: the {} seeds are left out of [p2p]",
                consumer.consumer_id,
                consumer.chain_id,
                consumer_seeds.len()
            ));
        }
        let mut cp = ConsumerPlan {
            consumer_id: consumer.consumer_id.clone(),
            chain_id: consumer.chain_id.clone(),
            slug,
            phase: consumer.phase,
            settings,
            members: Vec::new(),
            private: Vec::new(),
            graph: Vec::new(),
            missing: Vec::new(),
            excluded: Vec::new(),
            unresolved,
            seeds: consumer_seeds,
        };
        for valcons in &cp.unresolved {
            warnings.push(format!(
                "consumer {} ({}): opted-in validator {valcons} is neither bonded nor in the consumer's set, so its operator address is unknown; it gets no peer entry",
                cp.consumer_id, cp.chain_id
            ));
        }
        let mut used_excludes = BTreeSet::new();
        let monikers = moniker_counts(&selected);
        for s in &selected {
            let Some(v) = matcher.find(&monikers, s, &cp.consumer_id, &mut errors) else {
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
            let sources = member::Sources {
                dns: &mut *dns,
                registry: state.registry.as_ref(),
                chain_registry: &state.chain_registry,
            };
            if let Some(nodes) =
                member::member(inventory, v, s, consumer, &cp, sources, &mut errors)
            {
                cp.members.extend(nodes.public);
                cp.private.extend(nodes.private);
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
        cp.members
            .sort_by(|a, b| (&a.validator, a.node_name()).cmp(&(&b.validator, b.node_name())));
        cp.private.sort_by(|a, b| a.validator.cmp(&b.validator));
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
    // Each consumer's graph is its own and a full mesh costs nodes²: built on every core.
    let graphs = crate::output::parallel::try_map(
        &consumers,
        crate::output::parallel::default_threads(),
        |cp| {
            let keys: Vec<String> = cp.members.iter().map(Member::graph_key).collect();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            Ok::<_, std::convert::Infallible>(topology::neighbours(
                cp.settings.topology,
                &cp.consumer_id,
                &keys,
            ))
        },
    );
    for (cp, graph) in consumers.iter_mut().zip(graphs.into_iter().flatten()) {
        cp.graph = graph;
    }
    let serving: BTreeSet<&str> = consumers
        .iter()
        .flat_map(|cp| &cp.members)
        .map(|m| m.validator.as_str())
        .collect();
    for v in inventory.validators.values() {
        if !serving.contains(v.name.as_str()) {
            let check = match &v.operator_address {
                Some(_) => "check its operator_address".to_owned(),
                None => format!(
                    "no provider validator has moniker {:?} in those sets: check its moniker, or set its operator_address",
                    v.moniker
                ),
            };
            warnings.push(format!(
                "{}: validators.{} is in no active consumer's selected set, so it gets no peer config; {check}",
                v.at, v.name
            ));
        }
    }
    check_collisions(&consumers, &mut errors);
    let plan = Plan {
        consumers,
        inactive,
        warnings,
        locked_addresses: state.resolved_addresses.clone(),
        known_nodes: known_nodes(inventory, state),
    };
    check_names(&plan, &mut errors);
    if errors.is_empty() {
        check_admission(&plan, &mut errors);
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(PlanErrors(errors))
    }
}

fn known_nodes(
    inventory: &Inventory,
    state: &ProviderState,
) -> std::collections::BTreeMap<NodeId, String> {
    let mut known = std::collections::BTreeMap::new();
    for v in inventory.validators.values() {
        let moniker = state
            .bonded_validators
            .iter()
            .find(|b| v.operator_address.as_deref() == Some(b.operator_address.as_str()))
            .map_or(v.moniker.as_str(), |b| b.moniker.as_str());
        let mut ids: Vec<&NodeId> = v
            .node_id
            .iter()
            .chain(v.node_ids.values())
            .map(|l| &l.value)
            .collect();
        if let crate::cosmos::inventory::EndpointSource::Sentries { sentries, .. } = &v.endpoint {
            for s in sentries {
                ids.extend(
                    s.node_id
                        .iter()
                        .chain(s.node_ids.values())
                        .map(|l| &l.value),
                );
            }
        }
        for id in ids {
            known
                .entry(id.clone())
                .or_insert_with(|| moniker.to_owned());
        }
    }
    known
}

/// Whom one node lists and trusts: what its view renders, without the strings.
pub(crate) struct Links<'a> {
    /// Unsorted; two entries may describe one node (same node ID), which a view lists once.
    pub(crate) listed: Vec<&'a Member>,
    /// Sorted, without duplicates or the node itself.
    pub(crate) unconditional: Vec<NodeId>,
    pub(crate) private_ids: Vec<NodeId>,
}

impl ConsumerPlan {
    /// A public node or sentry lists its topology neighbours (a sentry also its own validator
    /// node); a validator node lists its own sentries only.
    pub(crate) fn links<'a>(&'a self, member: &'a Member) -> Links<'a> {
        let p2p = &self.settings.p2p;
        let mut listed: Vec<&Member> = match member.role {
            Role::Validator => self.sentries_of(member).collect(),
            Role::Public | Role::Sentry(_) => {
                let at = self
                    .members
                    .iter()
                    .position(|m| std::ptr::eq(m, member))
                    .expect("a public node is one of the consumer's members");
                let mut listed: Vec<&Member> =
                    self.graph[at].iter().map(|&j| &self.members[j]).collect();
                if matches!(member.role, Role::Sentry(_)) {
                    listed.extend(self.validator_node_of(member));
                }
                listed
            }
        };
        listed.retain(|m| m.node_id != member.node_id);
        let user = |l: &Option<crate::input::yaml::Located<Vec<NodeId>>>| {
            l.iter()
                .flat_map(|l| l.value.iter().cloned())
                .collect::<Vec<_>>()
        };
        let mut unconditional = user(&p2p.unconditional_peer_ids);
        let mut private_ids = user(&p2p.private_peer_ids);
        let listed_ids = || listed.iter().map(|m| m.node_id.clone());
        match member.role {
            // A validator node's only peers are its sentries: never refused, whatever the limits.
            Role::Validator => unconditional.extend(listed_ids()),
            Role::Sentry(_) => {
                // Its own validator and siblings must never be locked out by strangers filling the
                // inbound slots (tendermint #1700), and the validator is never gossiped.
                if let Some(v) = self.validator_node_of(member) {
                    unconditional.push(v.node_id.clone());
                    private_ids.push(v.node_id.clone());
                }
                unconditional.extend(self.sentries_of(member).map(|m| m.node_id.clone()));
                if p2p.unconditional_mesh() {
                    unconditional.extend(listed_ids());
                }
            }
            Role::Public => {
                if p2p.unconditional_mesh() {
                    unconditional.extend(listed_ids());
                }
            }
        }
        for ids in [&mut unconditional, &mut private_ids] {
            ids.retain(|id| *id != member.node_id);
            ids.sort();
            ids.dedup();
        }
        Links {
            listed,
            unconditional,
            private_ids,
        }
    }

    /// The validator node behind `sentry`'s validator, if it has one on this consumer.
    fn validator_node_of(&self, member: &Member) -> Option<&Member> {
        self.private
            .iter()
            .find(|p| p.validator == member.validator)
    }

    /// The sentries of a validator node.
    fn sentries_of<'a>(&'a self, member: &'a Member) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| m.validator == member.validator && matches!(m.role, Role::Sentry(_)))
    }
}

impl Plan {
    /// What one node's `[p2p]` says. A public node or sentry lists its topology neighbours (a
    /// sentry also its own validator node); a validator node lists its own sentries only.
    pub(crate) fn view<'a>(&'a self, cp: &'a ConsumerPlan, member: &'a Member) -> View<'a> {
        let p2p = &cp.settings.p2p;
        let links = cp.links(member);
        let mut peers: Vec<(&str, &Member)> = links
            .listed
            .into_iter()
            .map(|m| (m.peer_string(), m))
            .collect();
        peers.sort_by(|a, b| a.0.cmp(b.0));
        peers.dedup_by(|a, b| a.1.node_id == b.1.node_id);
        let persistent_peers = peers
            .iter()
            .map(|(address, _)| *address)
            .collect::<Vec<_>>()
            .join(",");
        let peers: Vec<&Member> = peers.into_iter().map(|(_, m)| m).collect();
        let (unconditional, private_ids) = (links.unconditional, links.private_ids);
        let pex = match member.role {
            Role::Validator => Some(false),
            _ => p2p.pex.as_ref().map(|p| p.value),
        };
        let names = Names::of(cp, member);
        let seeds = seeds::node_seeds(cp, pex);
        View {
            consumer: cp,
            member,
            peers,
            persistent_peers,
            unconditional,
            private_ids,
            pex,
            seeds,
            namespace: names.namespace,
            configmap: names.configmap,
            workload: names.workload,
            dir: member.dir(&cp.slug),
        }
    }

    /// Every node's view, optionally only validator `only`'s, in output order.
    pub(crate) fn views<'a>(
        &'a self,
        only: Option<&'a str>,
    ) -> impl Iterator<Item = View<'a>> + 'a {
        self.consumers.iter().flat_map(move |cp| {
            cp.members
                .iter()
                .chain(&cp.private)
                .filter(move |m| only.is_none_or(|o| o == m.validator))
                .map(move |m| self.view(cp, m))
        })
    }
}

impl View<'_> {
    /// `unconditional_peer_ids` as CometBFT takes it: comma-separated IDs.
    pub(crate) fn unconditional_text(&self) -> String {
        join_ids(&self.unconditional)
    }

    pub(crate) fn private_text(&self) -> String {
        join_ids(&self.private_ids)
    }
}

fn join_ids(ids: &[NodeId]) -> String {
    ids.iter().map(NodeId::as_str).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cosmos::inventory::from_texts;

    const OPS: [&str; 3] = [
        "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg",
        "cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn",
        "cosmosvaloper13pvrtayl29vry9chuyxgkcu8uqupgrdy0xch53",
    ];

    fn state() -> ProviderState {
        let member = |op: &str, moniker: &str| {
            format!(r#"{{"operator_address": "{op}", "valcons": "x", "moniker": "{moniker}"}}"#)
        };
        let json = format!(
            r#"{{"format": "peergen/provider-state/v1", "provider": {{"chain_id": "p", "height": 1}},
            "bonded_validators": [], "consumers": [
              {{"consumer_id": "0", "chain_id": "pion-1", "phase": "launched", "top_n": 0, "opted_in": [],
                "validators": [{}, {}, {}]}},
              {{"consumer_id": "1", "chain_id": "gone-1", "phase": "stopped", "top_n": 0, "opted_in": [], "validators": []}}]}}"#,
            member(OPS[0], "alice"),
            member(OPS[1], "bob"),
            member(OPS[2], "SmartNodes"),
        );
        ProviderState::from_json(Path::new("state.json"), &json).unwrap()
    }

    fn inventory() -> Inventory {
        let text = format!(
            "validators:\n  bob:\n    operator_address: {}\n    consumer_template: bob.example.com:26656\n    node_id: {}\n  alice:\n    operator_address: {}\n    consumer_template: alice-{{{{chain_id}}}}.example.com\n    node_id: {}\n",
            OPS[1],
            "b".repeat(40),
            OPS[0],
            "a".repeat(40)
        );
        from_texts(&[(Path::new("inv.yaml"), text)]).unwrap()
    }

    #[test]
    fn members_are_the_described_part_of_the_selected_set() {
        let plan = plan(&inventory(), &state()).unwrap();
        assert_eq!(plan.consumers.len(), 1);
        assert_eq!(plan.inactive.len(), 1, "the stopped consumer has no peers");
        let cp = &plan.consumers[0];
        let names: Vec<&str> = cp.members.iter().map(|m| m.validator.as_str()).collect();
        assert_eq!(names, ["alice", "bob"], "sorted by name");
        assert_eq!(cp.missing.len(), 1);
        assert_eq!(cp.missing[0].moniker, "SmartNodes");
        assert_eq!(
            cp.members[0].endpoint.to_string(),
            format!("alice-pion-1.example.com:{}", port::hash_port("0"))
        );
        assert!(matches!(cp.members[1].port_source, PortSource::Template(_)));
    }

    #[test]
    fn a_view_lists_every_other_member_once_and_never_itself() {
        let plan = plan(&inventory(), &state()).unwrap();
        let views: Vec<View<'_>> = plan.views(None).collect();
        assert_eq!(views.len(), 2);
        let alice = &views[0];
        assert_eq!(alice.member.validator, "alice");
        assert_eq!(
            alice.persistent_peers,
            format!("{}@bob.example.com:26656", "b".repeat(40))
        );
        assert_eq!(alice.namespace, "alice-pion-1");
        assert_eq!(alice.configmap, "pion-1-peers");
        assert_eq!(plan.views(Some("bob")).count(), 1);
    }
}
