//! P2P allowlists from the plan: for each public node, the nodes that list it or that it lists, as
//! /32 and /128 CIDRs from literal addresses or the A/AAAA answers locked into the snapshot. A host
//! name without a locked address is an error, never an open rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::cosmos::inventory::monitoring::{Allowlist, LabelPattern, NodeVars};
use crate::cosmos::peers::{ConsumerPlan, Member, Plan, Role, View};
use crate::input::address::Host;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AllowlistError {
    #[error(
        "allowlist of {node} on consumer {consumer_id} ({chain_id}): peer {peer} at host {host} has no locked address; run `peergen fetch` (or `peergen resolve`) with the allowlist in the inventory, or give its endpoint as an IP address"
    )]
    Unlocked {
        node: String,
        consumer_id: String,
        chain_id: String,
        peer: String,
        host: String,
    },
    #[error(
        "allowlist of {node} on consumer {consumer_id}: the NetworkPolicy name (the ConfigMap name + `-allowlist`) {message}"
    )]
    Name {
        node: String,
        consumer_id: String,
        message: String,
    },
    #[error("allowlist.{field}.{key} of {node} on consumer {consumer_id}: {message}")]
    Label {
        field: &'static str,
        key: String,
        node: String,
        consumer_id: String,
        message: String,
    },
}

/// Whom each node of one consumer is linked to, in either direction: `links` is symmetric by
/// construction today, but an allowlist that missed a one-way link would cut a planned peer off.
pub(crate) struct Neighbours<'a> {
    linked: HashMap<*const Member, BTreeSet<usize>>,
    nodes: Vec<&'a Member>,
}

impl<'a> Neighbours<'a> {
    pub(crate) fn of(cp: &'a ConsumerPlan) -> Neighbours<'a> {
        let nodes: Vec<&Member> = cp.members.iter().chain(&cp.private).collect();
        let index: HashMap<*const Member, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, m)| (std::ptr::from_ref(*m), i))
            .collect();
        let mut linked: HashMap<*const Member, BTreeSet<usize>> = HashMap::new();
        for (i, m) in nodes.iter().enumerate() {
            for l in cp.links(m).listed {
                let j = index[&std::ptr::from_ref(l)];
                linked.entry(std::ptr::from_ref(*m)).or_default().insert(j);
                linked.entry(std::ptr::from_ref(l)).or_default().insert(i);
            }
        }
        Neighbours { linked, nodes }
    }

    fn of_node<'b>(&'b self, member: &'b Member) -> impl Iterator<Item = &'a Member> + 'b {
        self.linked
            .get(&std::ptr::from_ref(member))
            .into_iter()
            .flatten()
            .map(|&j| self.nodes[j])
            .filter(move |m| m.node_id != member.node_id)
    }
}

/// One public node's allowlist as the templates see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NodeAllowlist {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `nft` table name: `peergen_<validator>_<consumer dir>_<node>`.
    pub(crate) table: String,
    pub(crate) port: u16,
    /// Sorted, deduplicated CIDRs.
    pub(crate) ipv4: Vec<String>,
    pub(crate) ipv6: Vec<String>,
    /// Every CIDR, IPv4 first, as the NetworkPolicy lists them.
    pub(crate) cidrs: Vec<String>,
    pub(crate) pod_selector: BTreeMap<String, String>,
    pub(crate) own_pods: BTreeMap<String, String>,
    /// The peers admitted, for the file's comment.
    pub(crate) sources: Vec<Source>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Source {
    /// `validator` or `validator/node`.
    pub(crate) label: String,
    /// `node_id@host:port`.
    pub(crate) address: String,
}

fn cidr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

fn labels(
    field: &'static str,
    patterns: &BTreeMap<String, LabelPattern>,
    vars: &NodeVars<'_>,
    view: &View<'_>,
) -> Result<BTreeMap<String, String>, AllowlistError> {
    patterns
        .iter()
        .map(|(key, p)| {
            let value = p.expand(vars);
            crate::input::name::check_label_value(&value).map_err(|message| {
                AllowlistError::Label {
                    field,
                    key: key.clone(),
                    node: view.member.label(),
                    consumer_id: view.consumer.consumer_id.clone(),
                    message,
                }
            })?;
            Ok((key.clone(), value))
        })
        .collect()
}

/// The allowlist of a public node (`None` for a validator node behind sentries, which only its
/// own sentries reach).
pub(crate) fn node_allowlist(
    settings: &Allowlist,
    plan: &Plan,
    neighbours: &Neighbours<'_>,
    view: &View<'_>,
) -> Result<Option<NodeAllowlist>, AllowlistError> {
    let member = view.member;
    if member.role == Role::Validator {
        return Ok(None);
    }
    let cp = view.consumer;
    let mut sources = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for peer in neighbours.of_node(member) {
        match &peer.endpoint.host {
            Host::Ip(ip) => {
                addresses.insert(*ip);
            }
            host @ Host::Name(name) => {
                let locked = plan
                    .locked_addresses
                    .iter()
                    .find(|r| &r.host == host)
                    .ok_or_else(|| AllowlistError::Unlocked {
                        node: member.label(),
                        consumer_id: cp.consumer_id.clone(),
                        chain_id: cp.chain_id.clone(),
                        peer: peer.label(),
                        host: name.clone(),
                    })?;
                addresses.extend(locked.addresses.iter().copied());
            }
        }
        sources.insert(Source {
            label: peer.label(),
            address: peer.peer_string().to_owned(),
        });
    }
    let vars = NodeVars {
        validator: &member.validator,
        slug: &cp.slug,
        consumer_id: &cp.consumer_id,
        node: member.node_name(),
        namespace: &view.namespace,
    };
    let (ipv4, ipv6): (Vec<IpAddr>, Vec<IpAddr>) = addresses.into_iter().partition(IpAddr::is_ipv4);
    let ipv4: Vec<String> = ipv4.into_iter().map(cidr).collect();
    let ipv6: Vec<String> = ipv6.into_iter().map(cidr).collect();
    let name = format!("{}-allowlist", view.configmap);
    crate::input::name::check_subdomain(&name).map_err(|message| AllowlistError::Name {
        node: member.label(),
        consumer_id: cp.consumer_id.clone(),
        message,
    })?;
    Ok(Some(NodeAllowlist {
        name,
        namespace: view.namespace.clone(),
        table: format!(
            "peergen_{}_{}_{}",
            member.validator,
            cp.slug,
            member.node_name()
        ),
        port: settings.port.unwrap_or(member.endpoint.port),
        cidrs: ipv4.iter().chain(&ipv6).cloned().collect(),
        ipv4,
        ipv6,
        pod_selector: labels("pod_selector", &settings.pod_selector, &vars, view)?,
        own_pods: labels("own_pods", &settings.own_pods, &vars, view)?,
        sources: sources.into_iter().collect(),
    }))
}

/// Checks a rendered NetworkPolicy admits exactly the planned sources on the planned port, and
/// that no ingress rule is open (an empty or missing `from` admits every source).
pub(crate) fn verify_network_policy(text: &str, planned: &NodeAllowlist) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc {
        api_version: String,
        kind: String,
        metadata: Meta,
        spec: Spec,
    }
    #[derive(Deserialize)]
    struct Meta {
        name: String,
        namespace: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Spec {
        pod_selector: Json,
        policy_types: Vec<String>,
        ingress: Vec<Ingress>,
    }
    #[derive(Deserialize)]
    struct Ingress {
        #[serde(default)]
        from: Vec<Json>,
        #[serde(default)]
        ports: Vec<Json>,
    }
    let doc: Doc = serde_saphyr::from_str(text)
        .map_err(|e| format!("not a NetworkPolicy: {}", e.without_snippet()))?;
    if doc.api_version != "networking.k8s.io/v1" || doc.kind != "NetworkPolicy" {
        return Err("not a networking.k8s.io/v1 NetworkPolicy".into());
    }
    if doc.metadata.name != planned.name || doc.metadata.namespace != planned.namespace {
        return Err(format!(
            "metadata is not {}/{}",
            planned.namespace, planned.name
        ));
    }
    if doc.spec.policy_types != ["Ingress"] {
        return Err("policyTypes is not [Ingress]".into());
    }
    let selected = doc.spec.pod_selector.get("matchLabels").cloned();
    if selected != Some(serde_json::to_value(&planned.pod_selector).expect("a map")) {
        return Err("podSelector.matchLabels differs from allowlist.pod_selector".into());
    }
    let mut cidrs = BTreeSet::new();
    for rule in &doc.spec.ingress {
        if rule.from.is_empty() {
            return Err(
                "an ingress rule without `from` admits every source; peergen never writes one"
                    .into(),
            );
        }
        let port = Json::from(planned.port);
        if rule.ports.is_empty() || rule.ports.iter().any(|p| p.get("port") != Some(&port)) {
            return Err(format!(
                "an ingress rule is not limited to port {}",
                planned.port
            ));
        }
        for peer in &rule.from {
            if let Some(c) = peer.pointer("/ipBlock/cidr").and_then(Json::as_str) {
                cidrs.insert(c.to_owned());
            }
        }
    }
    let want: BTreeSet<String> = planned.cidrs.iter().cloned().collect();
    if cidrs != want {
        return Err("its ipBlocks differ from the planned peers' addresses".into());
    }
    Ok(())
}

/// Checks a rendered nftables file's `elements` are exactly the planned addresses.
pub(crate) fn verify_nft(text: &str, planned: &NodeAllowlist) -> Result<(), String> {
    let mut got = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("elements = {") {
            let inner = rest
                .strip_suffix('}')
                .ok_or("an `elements` line does not close on the same line")?;
            got.extend(
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    let want: BTreeSet<String> = planned.cidrs.iter().cloned().collect();
    if got != want {
        return Err("its set elements differ from the planned peers' addresses".into());
    }
    if !text.contains(&format!("table inet {} {{", planned.table)) {
        return Err(format!("it does not define table inet {}", planned.table));
    }
    Ok(())
}
