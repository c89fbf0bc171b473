//! Stellar rendering: one view per active validator (itself excluded from its own lists) through
//! the `stellar/*` templates into an [`OutputTree`], every file parsed back and checked before
//! anything may be written.
//!
//! Ordering (stable, so git diffs stay minimal): `[[HOME_DOMAINS]]` by home domain;
//! `[[VALIDATORS]]` and `PREFERRED_PEER_KEYS` by (home domain, name); `PREFERRED_PEERS`,
//! `KNOWN_PEERS` and `peers.txt` by address text.

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::inventory::{StellarInventory, Validator, history_command};
use super::quorum::Analysis;
use crate::output::escape;
use crate::output::template::{TemplateError, Templates};
use crate::output::tree::{OutputTree, TreeError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum StellarRenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("rendered {path} fails verification: {message}")]
    Verify { path: String, message: String },
    #[error("--self {name}: {why} (active validators: {known})")]
    UnknownValidator {
        name: String,
        why: &'static str,
        known: String,
    },
}

/// Keys the fragment may set at top level; stellar-core rejects unknown keys, so a template override
/// that invents one fails here instead of at node start.
const TOP_LEVEL_KEYS: [&str; 7] = [
    "NODE_IS_VALIDATOR",
    "NODE_HOME_DOMAIN",
    "PEER_PORT",
    "UNSAFE_QUORUM",
    "PREFERRED_PEERS",
    "KNOWN_PEERS",
    "PREFERRED_PEER_KEYS",
];
const VALIDATOR_KEYS: [&str; 6] = [
    "NAME",
    "HOME_DOMAIN",
    "PUBLIC_KEY",
    "ADDRESS",
    "HISTORY",
    "QUALITY",
];

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What one validator's files say, computed once and checked against what the templates printed.
struct View<'a> {
    me: &'a Validator,
    others: Vec<&'a Validator>,
    preferred_peers: Vec<String>,
    known_peers: Vec<String>,
    all_peers: Vec<String>,
}

fn view<'a>(inv: &'a StellarInventory, me: &'a Validator) -> View<'a> {
    let home = |v: &Validator| inv.organisation_of(v).home_domain.as_str();
    let mut others: Vec<&Validator> = inv.active().filter(|v| v.name != me.name).collect();
    others.sort_by(|a, b| home(a).cmp(home(b)).then(a.name.cmp(&b.name)));
    let sorted = |it: &mut dyn Iterator<Item = String>| {
        let mut v: Vec<String> = it.collect();
        v.sort();
        v
    };
    let preferred_peers = sorted(
        &mut others
            .iter()
            .filter(|o| home(o) == home(me))
            .map(|o| o.address.to_string()),
    );
    let known_peers = sorted(
        &mut others
            .iter()
            .filter(|o| home(o) != home(me))
            .map(|o| o.address.to_string()),
    );
    let all_peers = sorted(&mut others.iter().map(|o| o.address.to_string()));
    View {
        me,
        others,
        preferred_peers,
        known_peers,
        all_peers,
    }
}

/// The template context of one validator. Documented in docs/stellar.md; templates rely on its shape.
fn context(inv: &StellarInventory, analysis: &Analysis, view: &View<'_>) -> Json {
    let me = view.me;
    let org = inv.organisation_of(me);
    let mut domains: Vec<(&str, &str)> = inv
        .active()
        .map(|v| inv.organisation_of(v))
        .map(|o| (o.home_domain.as_str(), o.quality.as_str()))
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let peer_lines: String = view.all_peers.iter().map(|p| format!("{p}\n")).collect();
    json!({
        "validator": {
            "name": me.name,
            "home_domain": org.home_domain,
            "quality": org.quality.as_str(),
            "public_key": me.public_key.as_str(),
            "address": me.address.to_string(),
            "port": me.address.port,
        },
        "unsafe_quorum": inv.unsafe_quorum,
        "failure_safety": analysis.failure_safety,
        "quorum_set": analysis.set.to_string(),
        "preferred_peers": view.preferred_peers,
        "known_peers": view.known_peers,
        "preferred_peer_keys": view.others.iter().map(|v| v.public_key.as_str()).collect::<Vec<_>>(),
        "home_domains": domains.iter().map(|(d, q)| json!({"home_domain": d, "quality": q})).collect::<Vec<_>>(),
        "validators": view.others.iter().map(|v| json!({
            "name": v.name,
            "home_domain": inv.organisation_of(v).home_domain,
            "public_key": v.public_key.as_str(),
            "address": v.address.to_string(),
            "history": v.history.as_deref().map(history_command),
        })).collect::<Vec<_>>(),
        "peers": view.all_peers,
        "peer_lines": peer_lines,
        "peers_sha256": sha256_hex(&peer_lines),
        "known_peers_line": format!(
            "KNOWN_PEERS=[{}]",
            view.all_peers.iter().map(|p| escape::toml_string(p)).collect::<Vec<_>>().join(", ")
        ),
        "configmap": { "name": me.configmap, "namespace": me.namespace },
        "workload": me.workload.as_ref().map(|w| json!({"kind": w.kind, "name": w.name})),
    })
}

/// Renders every active validator (or only `only`). Suspended validators get no directory and
/// appear in no other validator's files.
pub(crate) fn render(
    inv: &StellarInventory,
    analysis: &Analysis,
    templates: &Templates,
    only: Option<&str>,
) -> Result<OutputTree, StellarRenderError> {
    if let Some(name) = only {
        let why = match inv.validators.get(name) {
            None => Some("no validator of that name"),
            Some(v) if v.suspended => {
                Some("that validator is suspended, so nothing is rendered for it")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            let known: Vec<&str> = inv.active().map(|v| v.name.as_str()).collect();
            return Err(StellarRenderError::UnknownValidator {
                name: name.to_owned(),
                why,
                known: known.join(", "),
            });
        }
    }
    let mut tree = OutputTree::default();
    for me in inv.active().filter(|v| only.is_none_or(|o| o == v.name)) {
        let view = view(inv, me);
        let mut ctx = context(inv, analysis, &view);
        let dir = &me.name;

        let cfg_path = format!("{dir}/stellar-core.cfg");
        let cfg = templates.render("stellar/stellar-core.cfg", &ctx)?;
        verify_fragment(&cfg_path, &cfg, inv, &view)?;
        ctx["config"] = Json::String(cfg.clone());
        ctx["config_sha256"] = Json::String(sha256_hex(&cfg));

        let cm_path = format!("{dir}/stellar-peers.yaml");
        let cm = templates.render("stellar/stellar-peers.yaml", &ctx)?;
        verify_configmap(&cm_path, &cm, &view, &ctx)?;

        let k_path = format!("{dir}/kustomization.yaml");
        let kustomization = templates.render("stellar/kustomization.yaml", &ctx)?;
        verify_yaml(&k_path, &kustomization)?;

        tree.insert(cfg_path, cfg.into_bytes())?;
        tree.insert(cm_path, cm.into_bytes())?;
        tree.insert(k_path, kustomization.into_bytes())?;
        if me.workload.is_some() {
            let path = format!("{dir}/rollout/kustomization.yaml");
            let rollout = templates.render("stellar/rollout.yaml", &ctx)?;
            verify_yaml(&path, &rollout)?;
            tree.insert(path, rollout.into_bytes())?;
        }
    }
    Ok(tree)
}

fn fail(path: &str) -> impl Fn(String) -> StellarRenderError + '_ {
    move |message| StellarRenderError::Verify {
        path: path.to_owned(),
        message,
    }
}

fn strings(value: Option<&toml::Value>) -> Option<Vec<&str>> {
    value?.as_array()?.iter().map(toml::Value::as_str).collect()
}

/// Parses the fragment as TOML, checks it round-trips, that only keys stellar-core knows are set,
/// and that it says what the view says: itself nowhere in its own lists.
fn verify_fragment(
    path: &str,
    text: &str,
    inv: &StellarInventory,
    view: &View<'_>,
) -> Result<(), StellarRenderError> {
    let fail = fail(path);
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| fail(format!("not valid TOML: {e}")))?;
    let again: toml::Table = toml::to_string(&doc)
        .ok()
        .and_then(|t| toml::from_str(&t).ok())
        .ok_or_else(|| fail("does not round-trip through a TOML serializer".into()))?;
    if again != doc {
        return Err(fail("changes when re-serialized as TOML".into()));
    }
    for key in doc.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) && key != "HOME_DOMAINS" && key != "VALIDATORS" {
            return Err(fail(format!(
                "sets {key}, which this fragment must not set (stellar-core rejects unknown keys)"
            )));
        }
    }
    let me = view.me;
    let home = &inv.organisation_of(me).home_domain;
    if doc.get("NODE_HOME_DOMAIN").and_then(toml::Value::as_str) != Some(home.as_str()) {
        return Err(fail(format!("NODE_HOME_DOMAIN is not {home:?}")));
    }
    for (key, want) in [
        ("PREFERRED_PEERS", &view.preferred_peers),
        ("KNOWN_PEERS", &view.known_peers),
    ] {
        let got = strings(doc.get(key))
            .ok_or_else(|| fail(format!("{key} is not an array of strings")))?;
        if got != want.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(fail(format!("{key} differs from the planned list")));
        }
        if got.contains(&me.address.to_string().as_str()) {
            return Err(fail(format!("{key} lists the validator's own address")));
        }
    }
    let keys = strings(doc.get("PREFERRED_PEER_KEYS"))
        .ok_or_else(|| fail("PREFERRED_PEER_KEYS is not an array of strings".into()))?;
    if keys.contains(&me.public_key.as_str()) {
        return Err(fail(
            "PREFERRED_PEER_KEYS lists the validator's own key".into(),
        ));
    }
    let domains = doc
        .get("HOME_DOMAINS")
        .and_then(toml::Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !domains
        .iter()
        .any(|d| d.get("HOME_DOMAIN").and_then(toml::Value::as_str) == Some(home.as_str()))
    {
        return Err(fail(format!(
            "no [[HOME_DOMAINS]] entry for its own home domain {home:?}"
        )));
    }
    let entries = doc
        .get("VALIDATORS")
        .and_then(toml::Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if entries.len() != view.others.len() {
        return Err(fail(format!(
            "has {} [[VALIDATORS]] entries, expected {}",
            entries.len(),
            view.others.len()
        )));
    }
    for (entry, want) in entries.iter().zip(&view.others) {
        let table = entry
            .as_table()
            .ok_or_else(|| fail("a [[VALIDATORS]] entry is not a table".into()))?;
        if let Some(k) = table.keys().find(|k| !VALIDATOR_KEYS.contains(&k.as_str())) {
            return Err(fail(format!(
                "[[VALIDATORS]] {} sets {k}, which stellar-core rejects",
                want.name
            )));
        }
        if table.get("PUBLIC_KEY").and_then(toml::Value::as_str) == Some(me.public_key.as_str())
            || table.get("NAME").and_then(toml::Value::as_str) == Some(me.name.as_str())
        {
            return Err(fail("lists the validator itself in [[VALIDATORS]]; stellar-core refuses a duplicate of self".into()));
        }
        if table.get("PUBLIC_KEY").and_then(toml::Value::as_str) != Some(want.public_key.as_str()) {
            return Err(fail(format!(
                "[[VALIDATORS]] {} does not carry its public key",
                want.name
            )));
        }
    }
    Ok(())
}

fn verify_yaml(path: &str, text: &str) -> Result<Json, StellarRenderError> {
    serde_saphyr::from_str::<Json>(text)
        .map_err(|e| fail(path)(format!("not valid YAML: {}", e.without_snippet())))
}

fn verify_configmap(
    path: &str,
    text: &str,
    view: &View<'_>,
    ctx: &Json,
) -> Result<(), StellarRenderError> {
    let fail = fail(path);
    let doc = verify_yaml(path, text)?;
    let field = |p: &str| doc.pointer(p).and_then(Json::as_str);
    if field("/apiVersion") != Some("v1") || field("/kind") != Some("ConfigMap") {
        return Err(fail("not a v1 ConfigMap".into()));
    }
    if field("/metadata/name") != Some(view.me.configmap.as_str())
        || field("/metadata/namespace") != view.me.namespace.as_deref()
    {
        return Err(fail(
            "metadata.name or metadata.namespace differs from the inventory".into(),
        ));
    }
    if let Some((k, _)) = doc
        .pointer("/data")
        .and_then(Json::as_object)
        .and_then(|d| d.iter().find(|(_, v)| !v.is_string()))
    {
        return Err(fail(format!(
            "data.{k} is not a string; ConfigMap data values must be strings"
        )));
    }
    let known: toml::Table = toml::from_str(field("/data/KNOWN_PEERS").unwrap_or_default())
        .map_err(|e| {
            fail(format!(
                "data.KNOWN_PEERS is not stellar-core (TOML) syntax: {e}"
            ))
        })?;
    let want: Vec<&str> = view.all_peers.iter().map(String::as_str).collect();
    if known.len() != 1 || strings(known.get("KNOWN_PEERS")) != Some(want.clone()) {
        return Err(fail(
            "data.KNOWN_PEERS is not `KNOWN_PEERS=[…]` with the planned peers".into(),
        ));
    }
    let lines: Vec<&str> = field("/data/peers.txt")
        .unwrap_or_default()
        .lines()
        .collect();
    if lines != want {
        return Err(fail("data.peers.txt differs from the planned peers".into()));
    }
    if field("/data/stellar-core.cfg") != ctx["config"].as_str() {
        return Err(fail(
            "data.stellar-core.cfg differs from the rendered fragment".into(),
        ));
    }
    for (key, value) in [
        ("peers-sha256", &ctx["peers_sha256"]),
        ("config-sha256", &ctx["config_sha256"]),
    ] {
        if doc.pointer(&format!("/metadata/annotations/peergen.io~1{key}")) != Some(value) {
            return Err(fail(format!(
                "annotation peergen.io/{key} differs from the content hash"
            )));
        }
    }
    Ok(())
}
