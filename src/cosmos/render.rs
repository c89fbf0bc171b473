//! Cosmos rendering: every plan view through the templates into an in-memory [`OutputTree`], each
//! file parsed back and checked against the plan before anything may be written.

use std::collections::BTreeMap;

use minijinja::Value;
use minijinja::value::Serde;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::cosmos::alerts;
use crate::cosmos::allowlist::{self, Neighbours};
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::peers::{ConsumerPlan, Member, Plan, Role, View};
use crate::cosmos::registry::chain_registry;
use crate::output::checked::Doc;
use crate::output::file::{File, Keep};
use crate::output::parallel;
use crate::output::template::{TemplateError, Templates, fields};
use crate::output::tree::{OutputTree, TreeError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("rendered {path} fails verification: {message}")]
    Verify { path: String, message: String },
    #[error(transparent)]
    Alerts(#[from] crate::cosmos::alerts::SelectorClash),
    #[error(transparent)]
    Allowlist(#[from] crate::cosmos::allowlist::AllowlistError),
    #[error("--self {0}: no validator of that name in the inventory (known: {1})")]
    UnknownValidator(String, String),
}

/// A comma-separated list, `none` (the setting left out) when empty.
fn id_list(text: String) -> Value {
    if text.is_empty() {
        Value::from(())
    } else {
        Value::from(text)
    }
}

/// A peer as templates see it: `{validator, moniker, operator_address, node_id, host, port, address}`.
fn peer_value(m: &Member) -> Value {
    fields(vec![
        ("validator", Value::from(m.validator.as_str())),
        ("moniker", Value::from(m.moniker.as_str())),
        ("operator_address", Value::from(m.operator_address.as_str())),
        ("node_id", Value::from(m.node_id.as_str())),
        ("host", Value::from(m.endpoint.host.to_string())),
        ("port", Value::from(m.endpoint.port)),
        ("address", Value::from(m.peer_string())),
    ])
}

/// Each member's [`peer_value`], built once per consumer: every member's view lists almost every
/// other member, so building them per view would be quadratic work. Found by the member's place
/// in the consumer's lists, which every view's peers point into.
struct PeerValues<'a> {
    cp: &'a ConsumerPlan,
    members: Vec<Value>,
    private: Vec<Value>,
}

impl<'a> PeerValues<'a> {
    fn of(cp: &'a ConsumerPlan) -> PeerValues<'a> {
        PeerValues {
            cp,
            members: cp.members.iter().map(peer_value).collect(),
            private: cp.private.iter().map(peer_value).collect(),
        }
    }

    /// `m`'s value; built afresh for a member outside both lists (none is).
    fn get(&self, m: &Member) -> Value {
        let at = |list: &[Member]| {
            let range = list.as_ptr_range();
            let p: *const Member = m;
            range
                .contains(&p)
                .then(|| (p as usize - range.start as usize) / std::mem::size_of::<Member>())
        };
        at(&self.cp.members)
            .map(|i| self.members[i].clone())
            .or_else(|| at(&self.cp.private).map(|i| self.private[i].clone()))
            .unwrap_or_else(|| peer_value(m))
    }
}

/// The template context of one view (documented in docs/output.md; templates rely on its shape),
/// built as template values directly: it is made for every one of tens of thousands of views.
fn context(view: &View<'_>, peer_values: &PeerValues<'_>) -> Value {
    let cp = view.consumer;
    let p2p = &cp.settings.p2p;
    let seeds = id_list(
        view.seeds
            .iter()
            .map(|(id, ep)| format!("{id}@{ep}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    let member = view.member;
    let role = match member.role {
        Role::Public => "public",
        Role::Sentry(_) => "sentry",
        Role::Validator => "validator",
    };
    let workload = cp
        .settings
        .workload
        .as_ref()
        .zip(view.workload.as_ref())
        .map_or(Value::from(()), |(w, name)| {
            fields(vec![
                ("kind", Value::from(w.kind.as_str())),
                ("name", Value::from(name.as_str())),
            ])
        });
    let peer_lines = view.peers.iter().fold(String::new(), |mut lines, m| {
        lines.push_str(m.peer_string());
        lines.push('\n');
        lines
    });
    let peers: Vec<Value> = view.peers.iter().map(|m| peer_values.get(m)).collect();
    fields(vec![
        (
            "validator",
            fields(vec![
                ("name", Value::from(member.validator.as_str())),
                ("moniker", Value::from(member.moniker.as_str())),
                (
                    "operator_address",
                    Value::from(member.operator_address.as_str()),
                ),
                ("node_id", Value::from(member.node_id.as_str())),
                ("endpoint", Value::from(member.endpoint.to_string())),
                ("node", Value::from(member.node_name())),
                ("role", Value::from(role)),
            ]),
        ),
        (
            "consumer",
            fields(vec![
                ("consumer_id", Value::from(cp.consumer_id.as_str())),
                ("chain_id", Value::from(cp.chain_id.as_str())),
                ("slug", Value::from(cp.slug.as_str())),
                ("phase", Value::from(cp.phase.as_str())),
                ("selection", Value::from(cp.settings.selection.as_str())),
            ]),
        ),
        ("peers", Value::from(peers)),
        (
            "persistent_peers",
            Value::from(view.persistent_peers.as_str()),
        ),
        ("peer_lines", Value::from(peer_lines)),
        (
            "configmap",
            fields(vec![
                ("name", Value::from(view.configmap.as_str())),
                ("namespace", Value::from(view.namespace.as_str())),
            ]),
        ),
        ("workload", workload),
        (
            "p2p",
            fields(vec![
                (
                    "addr_book_strict",
                    Value::from(p2p.addr_book_strict.as_ref().map(|b| b.value)),
                ),
                ("pex", Value::from(view.pex)),
                ("seeds", seeds),
                ("unconditional_peer_ids", id_list(view.unconditional_text())),
                ("private_peer_ids", id_list(view.private_text())),
                (
                    "persistent_peers_max_dial_period",
                    Value::from(p2p.max_dial_period()),
                ),
                (
                    "max_num_inbound_peers",
                    Value::from(p2p.max_num_inbound_peers.as_ref().map(|m| m.value)),
                ),
                (
                    "allow_duplicate_ip",
                    Value::from(p2p.allow_duplicate_ip.as_ref().map(|a| a.value)),
                ),
            ]),
        ),
    ])
}

/// The nodes of a validator with sentries on one consumer: `validator` and each sentry.
#[derive(Serialize)]
struct NodeIndex<'a> {
    nodes: Vec<&'a str>,
}

#[derive(Serialize)]
struct ValidatorIndex<'a> {
    validator: BTreeMap<&'a str, &'a str>,
    consumers: Vec<&'a str>,
    /// `prometheus-rule.yaml` sits beside the index (with `monitoring:`).
    prometheus_rule: bool,
}

#[derive(Serialize)]
struct RuleContext<'a> {
    rules: &'a alerts::RuleFile,
}

/// What rendering one consumer's views produced: its files, and each node rendered as
/// (validator, consumer directory, node name for a validator with sentries).
struct ConsumerOutput<'a> {
    files: Vec<(String, File)>,
    nodes: Vec<(&'a str, &'a str, Option<&'a str>)>,
}

/// Every view of one consumer (only validator `only`'s with a limit), rendered and verified.
/// Consumers are independent of each other, so they render in parallel.
fn render_consumer<'a>(
    plan: &'a Plan,
    cp: &'a ConsumerPlan,
    inventory: &Inventory,
    templates: &Templates,
    only: Option<&str>,
    keep: &Keep<'_>,
) -> Result<ConsumerOutput<'a>, RenderError> {
    let mut out = ConsumerOutput {
        files: Vec::new(),
        nodes: Vec::new(),
    };
    let members: Vec<&Member> = cp
        .members
        .iter()
        .chain(&cp.private)
        .filter(|m| only.is_none_or(|o| o == m.validator))
        .collect();
    if members.is_empty() {
        return Ok(out);
    }
    let peer_values = PeerValues::of(cp);
    let neighbours = inventory.allowlist.as_ref().map(|_| Neighbours::of(cp));
    let mut add = |path: String, text: String| -> Result<(), TreeError> {
        let file = keep.file(&path, text.into_bytes())?;
        out.files.push((path, file));
        Ok(())
    };
    for member in members {
        let view = plan.view(cp, member);
        let dir = view.dir.clone();
        let base = context(&view, &peer_values);
        let (p2p, doc) = templates.render_parsed("cosmos/p2p.toml", &base)?;
        verify_p2p(&format!("{dir}/p2p.toml"), doc, &view)?;
        // The node's whole [p2p] fragment decides its rollout: any change to it, and only to it,
        // changes the pod template.
        let sha = hex::encode(Sha256::digest(p2p.as_bytes()));
        let node_allowlist = match (&inventory.allowlist, &neighbours) {
            (Some(a), Some(n)) => allowlist::node_allowlist(&a.value, plan, n, &view)?,
            _ => None,
        };
        let ctx = minijinja::context! {
            peers_sha256 => sha,
            network_policy => node_allowlist.is_some(),
            ..base
        };
        if let Some(al) = &node_allowlist {
            let al_ctx = minijinja::context! { allowlist => Value::from(Serde(al)), ..ctx.clone() };
            let policy = templates.render("cosmos/network-policy.yaml", &al_ctx)?;
            let path = format!("{dir}/network-policy.yaml");
            allowlist::verify_network_policy(&policy, al).map_err(|message| {
                RenderError::Verify {
                    path: path.clone(),
                    message,
                }
            })?;
            add(path, policy)?;
            let nft = templates.render("cosmos/allowlist.nft", &al_ctx)?;
            let path = format!("{dir}/allowlist.nft");
            allowlist::verify_nft(&nft, al).map_err(|message| RenderError::Verify {
                path: path.clone(),
                message,
            })?;
            add(path, nft)?;
        }
        let (peers, doc) = templates.render_parsed("cosmos/peers.yaml", &ctx)?;
        verify_configmap(&format!("{dir}/peers.yaml"), doc, &view)?;
        let (kustomization, doc) = templates.render_parsed("cosmos/kustomization.yaml", &ctx)?;
        verify_parsed(&format!("{dir}/kustomization.yaml"), doc)?;
        add(format!("{dir}/peers.yaml"), peers)?;
        add(format!("{dir}/p2p.toml"), p2p)?;
        add(format!("{dir}/kustomization.yaml"), kustomization)?;
        if view.workload.is_some() {
            let (rollout, doc) = templates.render_parsed("cosmos/rollout.yaml", &ctx)?;
            verify_parsed(&format!("{dir}/rollout/kustomization.yaml"), doc)?;
            add(format!("{dir}/rollout/kustomization.yaml"), rollout)?;
        }
        out.nodes.push((
            member.validator.as_str(),
            cp.slug.as_str(),
            (member.role != Role::Public).then(|| member.node_name()),
        ));
    }
    Ok(out)
}

/// Renders every view of the plan (only validator `only`'s with a limit) on up to `threads`
/// threads, each file kept as `keep` says once verified; the tree, and any error, are those of a
/// serial render.
pub(crate) fn render(
    plan: &Plan,
    inventory: &Inventory,
    templates: &Templates,
    only: Option<&str>,
    threads: usize,
    keep: &Keep<'_>,
) -> Result<OutputTree, RenderError> {
    if let Some(name) = only
        && !inventory.validators.contains_key(name)
    {
        let known: Vec<&str> = inventory.validators.keys().map(String::as_str).collect();
        return Err(RenderError::UnknownValidator(
            name.to_owned(),
            known.join(", "),
        ));
    }
    let mut tree = OutputTree::default();
    let mut per_validator: BTreeMap<&str, Vec<&str>> = inventory
        .validators
        .keys()
        .filter(|v| only.is_none_or(|o| o == v.as_str()))
        .map(|v| (v.as_str(), Vec::new()))
        .collect();
    let mut node_dirs: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    // Rules are planned over every validator's nodes, so a selector that cannot tell two nodes
    // apart is refused whether or not `--self` limits what is written.
    let mut rule_files = match &inventory.monitoring {
        Some(m) => alerts::rule_files(&m.value, &plan.views(None).collect::<Vec<_>>())?,
        None => BTreeMap::new(),
    };
    let consumers: Vec<&ConsumerPlan> = plan.consumers.iter().collect();
    let outputs = parallel::try_map(&consumers, threads, |cp| {
        render_consumer(plan, cp, inventory, templates, only, keep)
    })?;
    for output in outputs {
        for (path, file) in output.files {
            tree.insert_file(path, file)?;
        }
        for (validator, slug, node) in output.nodes {
            if let Some(list) = per_validator.get_mut(validator) {
                list.push(slug);
            }
            if let Some(node) = node {
                node_dirs.entry((validator, slug)).or_default().push(node);
            }
        }
    }
    for cp in plan
        .consumers
        .iter()
        .filter(|cp| cp.settings.chain_registry)
    {
        // Only the operator's own sentries: a registry-sourced validator's operator proposes its own.
        let own = inventory.validators.values().filter(|v| {
            matches!(v.endpoint, EndpointSource::Sentries { .. })
                && only.is_none_or(|o| o == v.name)
        });
        for v in own {
            if let Some(text) = chain_registry::peers_json(cp, &v.name) {
                let path = format!("{}/{}/{}", v.name, cp.slug, chain_registry::FILE);
                verify_chain_registry(&path, &text)?;
                tree.insert_kept(path, text.into_bytes(), keep)?;
            }
        }
    }
    for ((validator, slug), mut nodes) in node_dirs {
        nodes.sort_unstable();
        let index = NodeIndex { nodes };
        let text = templates.render("cosmos/consumer-kustomization.yaml", &index)?;
        let path = format!("{validator}/{slug}/kustomization.yaml");
        verify_yaml(&path, &text)?;
        tree.insert_kept(path, text.into_bytes(), keep)?;
    }
    for (validator, mut consumers) in per_validator {
        consumers.sort_unstable();
        consumers.dedup();
        let rules = rule_files.remove(validator);
        if let Some(rules) = &rules {
            let text = templates.render("cosmos/prometheus-rule.yaml", &RuleContext { rules })?;
            let path = format!("{validator}/prometheus-rule.yaml");
            alerts::verify(&text, rules).map_err(|message| RenderError::Verify {
                path: path.clone(),
                message,
            })?;
            tree.insert_kept(path, text.into_bytes(), keep)?;
        }
        let index = ValidatorIndex {
            validator: BTreeMap::from([("name", validator)]),
            consumers,
            prometheus_rule: rules.is_some(),
        };
        let text = templates.render("cosmos/validator-kustomization.yaml", &index)?;
        let path = format!("{validator}/kustomization.yaml");
        verify_yaml(&path, &text)?;
        tree.insert_kept(path, text.into_bytes(), keep)?;
    }
    Ok(tree)
}

/// Read back as chain-registry's `peers` object: every entry `{id, address, provider}` with a node
/// ID and a CometBFT address, nothing else.
fn verify_chain_registry(path: &str, text: &str) -> Result<(), RenderError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        persistent_peers: Vec<Entry>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        #[serde(rename = "id")]
        _id: crate::cosmos::node_id::NodeId,
        #[serde(rename = "address")]
        _address: crate::input::address::Endpoint,
        provider: String,
    }
    let fail = |message: String| RenderError::Verify {
        path: path.to_owned(),
        message,
    };
    let doc: Doc =
        serde_json::from_str(text).map_err(|e| fail(format!("not chain-registry peers: {e}")))?;
    if doc.persistent_peers.is_empty() || doc.persistent_peers.iter().any(|e| e.provider.is_empty())
    {
        return Err(fail(
            "chain-registry requires a non-empty list and a provider per peer".to_owned(),
        ));
    }
    Ok(())
}

fn verify_yaml(path: &str, text: &str) -> Result<Json, RenderError> {
    serde_saphyr::from_str::<Json>(text).map_err(|e| RenderError::Verify {
        path: path.to_owned(),
        message: format!("not valid YAML: {}", e.without_snippet()),
    })
}

/// The parts of a ConfigMap verification reads; typed, so a non-string data value fails to parse.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapDoc {
    api_version: String,
    kind: String,
    metadata: ConfigMapMeta,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ConfigMapMeta {
    name: String,
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn verify_configmap(
    path: &str,
    doc: Result<Doc, String>,
    view: &View<'_>,
) -> Result<(), RenderError> {
    let fail = |message: String| RenderError::Verify {
        path: path.to_owned(),
        message,
    };
    let doc = match doc {
        Ok(Doc::Yaml(json)) => ConfigMapDoc::deserialize(&json).map_err(|e| e.to_string()),
        Ok(Doc::Toml(_)) => Err("not YAML".to_owned()),
        Err(e) => Err(e),
    }
    .map_err(|e| fail(format!("not a ConfigMap with string data values: {e}")))?;
    if doc.api_version != "v1" || doc.kind != "ConfigMap" {
        return Err(fail("not a v1 ConfigMap".into()));
    }
    if doc.metadata.name != view.configmap {
        return Err(fail(format!("metadata.name is not {:?}", view.configmap)));
    }
    if doc.metadata.namespace != view.namespace {
        return Err(fail(format!(
            "metadata.namespace is not {:?}",
            view.namespace
        )));
    }
    for (k, v) in &doc.metadata.labels {
        crate::input::name::check_label_value(v).map_err(|r| fail(format!("label {k}: {r}")))?;
    }
    if doc.data.get("persistent_peers") != Some(&view.persistent_peers) {
        return Err(fail(
            "data.persistent_peers differs from the planned peer list".into(),
        ));
    }
    Ok(())
}

/// A YAML file parsed back by [`Templates::render_parsed`].
fn verify_parsed(path: &str, doc: Result<Doc, String>) -> Result<(), RenderError> {
    doc.map(drop).map_err(|e| RenderError::Verify {
        path: path.to_owned(),
        message: format!("not valid YAML: {e}"),
    })
}

fn verify_p2p(path: &str, doc: Result<Doc, String>, view: &View<'_>) -> Result<(), RenderError> {
    let fail = |message: String| RenderError::Verify {
        path: path.to_owned(),
        message,
    };
    let doc = match doc {
        Ok(Doc::Toml(table)) => table,
        Ok(Doc::Yaml(_)) => return Err(fail("not TOML".into())),
        Err(e) => return Err(fail(format!("not valid TOML: {e}"))),
    };
    let peers = doc
        .get("p2p")
        .and_then(|p| p.get("persistent_peers"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| fail("has no [p2p] persistent_peers string".into()))?;
    if peers != view.persistent_peers {
        return Err(fail(
            "p2p.persistent_peers differs from the planned peer list".into(),
        ));
    }
    // A template override may leave a setting out (then CometBFT's default applies, by the
    // operator's choice); a setting it writes must say what the plan says.
    let p2p = &doc["p2p"];
    for (key, planned) in [
        ("unconditional_peer_ids", view.unconditional_text()),
        ("private_peer_ids", view.private_text()),
    ] {
        if let Some(written) = p2p.get(key)
            && written.as_str() != Some(planned.as_str())
        {
            return Err(fail(format!("p2p.{key} differs from the planned node IDs")));
        }
    }
    if let Some(written) = p2p.get("pex")
        && written.as_bool() != view.pex
    {
        return Err(fail("p2p.pex differs from the plan".into()));
    }
    Ok(())
}
