//! Whole-plan checks: node IDs that name two nodes, host:port pairs claimed twice, and the
//! Kubernetes names each member's objects get.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{ConsumerPlan, Links, Member, Plan, PlanError, Role};
use crate::cosmos::inventory::settings::{DEFAULT_CONFIGMAP, DEFAULT_NODE_CONFIGMAP, NamePattern};
use crate::cosmos::node_id::NodeId;
use crate::input::address::Host;
use crate::input::name::{check_label, check_label_value, check_subdomain};

pub(super) fn check_node_ids(
    cp: &ConsumerPlan,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<String>,
) {
    let mut by_id: BTreeMap<&NodeId, &Member> = BTreeMap::new();
    for m in cp.members.iter().chain(&cp.private) {
        if let Some(other) = by_id.insert(&m.node_id, m) {
            if other.endpoint == m.endpoint {
                warnings.push(format!(
                    "consumer {}: validators {} and {} describe the same node {}; it is listed once",
                    cp.consumer_id, other.label(), m.label(), m.peer_string()
                ));
            } else {
                errors.push(PlanError::NodeIdConflict {
                    consumer_id: cp.consumer_id.clone(),
                    node_id: m.node_id.clone(),
                    a: other.label(),
                    b: m.label(),
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
pub(super) fn check_collisions(consumers: &[ConsumerPlan], errors: &mut Vec<PlanError>) {
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
            let same_consumer = first_cp.consumer_id == cp.consumer_id;
            if first_m.validator != m.validator || same_consumer {
                if !same_consumer || first_m.node_id != m.node_id {
                    errors.push(PlanError::SharedAddress {
                        endpoint: m.endpoint.clone(),
                        first: (
                            first_m.label(),
                            first_cp.consumer_id.clone(),
                            first_cp.chain_id.clone(),
                        ),
                        second: (m.label(), cp.consumer_id.clone(), cp.chain_id.clone()),
                    });
                }
                continue;
            }
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
                fix: None,
            });
        }
    }
}

/// The Kubernetes names one validator's objects get on one consumer.
pub(super) struct Names {
    pub(super) namespace: String,
    pub(super) configmap: String,
    pub(super) workload: Option<String>,
}

impl Names {
    pub(super) fn of(cp: &ConsumerPlan, member: &Member) -> Names {
        let expand = |p: &NamePattern| {
            p.expand(
                &member.validator,
                &cp.slug,
                &cp.consumer_id,
                member.node_name(),
            )
        };
        let node_default;
        let configmap =
            if member.role != Role::Public && cp.settings.configmap.as_str() == DEFAULT_CONFIGMAP {
                node_default = NamePattern::builtin(DEFAULT_NODE_CONFIGMAP);
                &node_default
            } else {
                &cp.settings.configmap
            };
        Names {
            namespace: expand(&cp.settings.namespace),
            configmap: expand(configmap),
            workload: cp.settings.workload.as_ref().map(|w| expand(&w.name)),
        }
    }
}

pub(super) fn check_names(plan: &Plan, errors: &mut Vec<PlanError>) {
    let mut seen: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for cp in &plan.consumers {
        let mut workloads: BTreeMap<(&str, String), String> = BTreeMap::new();
        for m in cp.members.iter().chain(&cp.private) {
            let view = Names::of(cp, m);
            let origins = &cp.settings.pattern_at;
            let bad = |what: &'static str, value: &str, reason: String| PlanError::BadName {
                validator: m.validator.clone(),
                consumer_id: cp.consumer_id.clone(),
                what,
                value: value.to_owned(),
                reason,
                at: match what {
                    "namespace" => origins.namespace.clone(),
                    "configmap" => origins.configmap.clone(),
                    "workload" => origins.workload.clone(),
                    _ => None,
                },
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
            let here = (cp.consumer_id.clone(), m.label());
            match seen.insert(key.clone(), here.clone()) {
                Some(other) if other.0 == here.0 => errors.push(PlanError::DuplicateNodeName {
                    what: key.1,
                    consumer_id: here.0,
                    nodes: (other.1, here.1),
                    field: "configmap",
                }),
                Some(other) => errors.push(PlanError::DuplicateName {
                    validator: m.validator.clone(),
                    what: key.1,
                    consumers: (other.0, cp.consumer_id.clone()),
                }),
                None => {}
            }
            if let Some(w) = view.workload {
                let what = format!("workload {}/{w}", view.namespace);
                if let Some(other) =
                    workloads.insert((m.validator.as_str(), what.clone()), m.label())
                {
                    errors.push(PlanError::DuplicateNodeName {
                        what,
                        consumer_id: cp.consumer_id.clone(),
                        nodes: (other, m.label()),
                        field: "workload.name",
                    });
                }
            }
        }
    }
}

/// What CometBFT would refuse: a node dialled by more peers that are not unconditional for it
/// than `max_num_inbound_peers` admits, and two peers of one node on one IP literal (only one of
/// them connects while `allow_duplicate_ip` is false). Host names are resolved by each node at
/// start-up and cannot be checked here.
pub(super) fn check_admission(plan: &Plan, errors: &mut Vec<PlanError>) {
    // Consumers are independent and each costs peers² work: checked on every core, reported in
    // consumer order.
    let found = crate::output::parallel::try_map(
        &plan.consumers,
        crate::output::parallel::default_threads(),
        |cp| Ok::<_, std::convert::Infallible>(admission_errors(cp)),
    );
    errors.extend(found.into_iter().flatten().flatten());
}

fn admission_errors(cp: &ConsumerPlan) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let p2p = &cp.settings.p2p;
    // Links, not views: only node IDs and IP literals matter here, and this runs on every
    // node of every consumer before rendering builds the views.
    let nodes: Vec<(&Member, Links<'_>)> = cp
        .members
        .iter()
        .chain(&cp.private)
        .map(|m| (m, cp.links(m)))
        .collect();
    // Each node ID of the consumer gets a number (two entries may describe one node), so the
    // peers² work below counts and marks numbers instead of sorting and comparing IDs.
    let mut numbers: HashMap<&NodeId, usize, IdHash> =
        HashMap::with_capacity_and_hasher(nodes.len(), IdHash::default());
    for (m, _) in &nodes {
        let next = numbers.len();
        numbers.entry(&m.node_id).or_insert(next);
    }
    let number = |id: &NodeId| numbers.get(id).copied();
    // By node number: the number of each node entry that lists it, once per entry.
    let mut dialers_of: Vec<Vec<usize>> = vec![Vec::new(); numbers.len()];
    let mut listed: Vec<usize> = Vec::new();
    for (m, links) in &nodes {
        let Some(me) = number(&m.node_id) else {
            continue;
        };
        listed.clear();
        listed.extend(links.listed.iter().filter_map(|p| number(&p.node_id)));
        listed.sort_unstable();
        listed.dedup();
        for &n in &listed {
            dialers_of[n].push(me);
        }
    }
    let mut unconditional = vec![false; numbers.len()];
    let mut marked: Vec<usize> = Vec::new();
    let mut seen_ip: HashSet<&std::net::IpAddr> = HashSet::new();
    let mut distinct: HashSet<&NodeId, IdHash> = HashSet::default();
    for (m, links) in &nodes {
        let Some(me) = number(&m.node_id) else {
            continue;
        };
        // `unconditional` names node IDs; one outside the consumer dials nothing here.
        marked.clear();
        marked.extend(links.unconditional.iter().filter_map(number));
        for &n in &marked {
            unconditional[n] = true;
        }
        let dialers = dialers_of[me]
            .iter()
            .filter(|&&n| !unconditional[n])
            .count();
        for &n in &marked {
            unconditional[n] = false;
        }
        if dialers > usize::from(p2p.max_inbound()) {
            errors.push(PlanError::InboundBudget {
                node: m.label(),
                consumer_id: cp.consumer_id.clone(),
                chain_id: cp.chain_id.clone(),
                dialers,
                max: p2p.max_inbound(),
            });
        }
        if p2p.allow_duplicate_ip() {
            continue;
        }
        // The peers a view lists, restricted to IP literals (one node ID never has two endpoints
        // here: that is an error found before this check runs). Most nodes have no two peers on
        // one IP: a set says so without ordering them.
        let on_ip = || {
            links.listed.iter().filter_map(|p| match &p.endpoint.host {
                Host::Ip(ip) => Some((p.peer_string(), &p.node_id, ip)),
                Host::Name(_) => None,
            })
        };
        seen_ip.clear();
        distinct.clear();
        let repeated = on_ip().any(|(_, id, ip)| distinct.insert(id) && !seen_ip.insert(ip));
        if !repeated {
            continue;
        }
        // Reported as the view lists them: the first pair in peer order.
        let mut on_ip: Vec<(&str, &NodeId, &std::net::IpAddr)> = on_ip().collect();
        on_ip.sort_by(|a, b| a.0.cmp(b.0));
        on_ip.dedup_by(|a, b| a.1 == b.1);
        let mut by_ip: BTreeMap<&std::net::IpAddr, &str> = BTreeMap::new();
        for (peer, _, ip) in &on_ip {
            if let Some(first) = by_ip.insert(ip, peer) {
                errors.push(PlanError::DuplicateIp {
                    node: m.label(),
                    consumer_id: cp.consumer_id.clone(),
                    ip: ip.to_string(),
                    peers: (first.to_owned(), (*peer).to_owned()),
                });
                break;
            }
        }
    }
    errors
}

/// A multiply-rotate over the forty bytes of a node ID (FxHash's step), not SipHash: these maps
/// hold one consumer's nodes, so even IDs chosen to collide cost at most nodes² steps, which the
/// check spends anyway.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
