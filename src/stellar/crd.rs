//! StellarNode custom resources (`stellar.org/v1alpha1`, the Stellar-K8s operator's CRD) as an
//! inventory source: a directory or files of manifests, multi-document YAML allowed. The mapping
//! onto the inventory is documented in docs/stellar.md; what the CRD lacks comes from annotations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::inventory::{
    self, DEFAULT_PEER_PORT, Duplicate, Organisation, PeerAddress, Quality, StellarInventory,
    StellarInventoryError, Validator, Workload, check_dns_name, check_history_url, check_label,
    check_validator_name, invalid,
};
use super::strkey::{self, PublicKey};
use crate::input::network::STELLAR_NODE_KIND;
use crate::input::yaml::{self, Bool, Origin, Spanned};

pub(crate) const API_VERSION: &str = "stellar.org/v1alpha1";

const ANNOTATION_PREFIX: &str = "peergen.io/";
const HOME_DOMAIN: &str = "peergen.io/home-domain";
const QUALITY: &str = "peergen.io/quality";
const PUBLIC_KEY: &str = "peergen.io/public-key";
const ADDRESS: &str = "peergen.io/address";
const UNSAFE_QUORUM: &str = "peergen.io/unsafe-quorum";
const KNOWN_ANNOTATIONS: [&str; 5] = [HOME_DOMAIN, QUALITY, PUBLIC_KEY, ADDRESS, UNSAFE_QUORUM];

/// Only the fields peergen reads; the CRD has many more, which are ignored (this is not its schema).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDoc {
    api_version: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    metadata: Option<Spanned<RawMetadata>>,
    spec: Option<Spanned<RawSpec>>,
    // Read from every document, whatever its kind, only to refuse seeds hidden in them.
    data: Option<Spanned<serde_json::Value>>,
    string_data: Option<Spanned<serde_json::Value>>,
    binary_data: Option<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawMetadata {
    name: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    annotations: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    node_type: Option<Spanned<String>>,
    suspended: Option<Spanned<Bool>>,
    validator_config: Option<Spanned<RawValidatorConfig>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawValidatorConfig {
    enable_history_archive: Option<Spanned<Bool>>,
    history_archive_urls: Option<Spanned<Vec<String>>>,
    external_dns: Option<Spanned<RawExternalDns>>,
    peer_port: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
struct RawExternalDns {
    hostname: Option<Spanned<String>>,
}

/// The manifest files of `paths`, each with the directory it was found in: a directory
/// contributes its `*.yaml`/`*.yml` files (not recursively), in name order.
fn manifest_files(
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, Option<PathBuf>)>, StellarInventoryError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push((path.clone(), None));
            continue;
        }
        // A directory is only ever read this way; say so, since a Cosmos inventory is one file.
        tracing::info!(
            "{}: a directory, read as StellarNode manifests (its *.yaml and *.yml files)",
            path.display()
        );
        let read_err = |source| StellarInventoryError::Read {
            path: path.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let p = entry.map_err(read_err)?.path();
            if p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                found.push(p);
            }
        }
        found.sort();
        files.extend(found.into_iter().map(|f| (f, Some(path.clone()))));
    }
    Ok(files)
}

struct Node {
    at: Origin,
    name: String,
    home_domain: String,
    quality: (Origin, Quality),
    unsafe_quorum: Option<(Origin, bool)>,
    validator: Validator,
}

/// Loads every StellarNode with `nodeType: Validator` from `paths`. Other kinds and node types are
/// skipped (logged); suspended validators are kept, marked, so their keys still count as taken.
pub(crate) fn load(paths: &[PathBuf]) -> Result<StellarInventory, StellarInventoryError> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut sources = Vec::new();
    let mut per_dir: BTreeMap<PathBuf, (usize, usize)> = paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| (p.clone(), (0, 0)))
        .collect();
    for (path, dir) in manifest_files(paths)? {
        let (file, text) = super::file::read(&path)?;
        let before = nodes.len();
        for doc in yaml::parse_multiple::<RawDoc>(&file, &text)? {
            if let Some(node) = parse_doc(&file, doc)? {
                nodes.push(node);
            }
        }
        if let Some(counts) = dir.and_then(|d| per_dir.get_mut(&d)) {
            counts.0 += 1;
            counts.1 += nodes.len() - before;
        }
        sources.push(file);
    }
    if let Some((dir, (files, _))) = per_dir.into_iter().find(|(_, (_, n))| *n == 0) {
        return Err(StellarInventoryError::NoStellarNodes { dir, files });
    }
    let mut organisations: BTreeMap<String, Organisation> = BTreeMap::new();
    let mut validators: BTreeMap<String, Validator> = BTreeMap::new();
    let mut unsafe_quorum: Option<(Origin, bool, String)> = None;
    for node in nodes {
        if let Some(first) = validators.get(&node.name) {
            return Err(StellarInventoryError::Duplicate(Box::new(Duplicate {
                at: node.at,
                what: format!("StellarNode {}", node.name),
                other: format!("StellarNode {}", first.name),
                first: first.at.clone(),
                why: "validator names become [[VALIDATORS]] NAMEs and output directories, so they must be unique across namespaces",
            })));
        }
        let (qat, quality) = node.quality;
        let domain = &node.home_domain;
        match organisations.get(domain) {
            Some(org) if org.quality != quality => {
                return Err(invalid(
                    &qat,
                    QUALITY,
                    format!(
                        "{} differs from {} set at {} for the same home domain {domain}; quality is per home domain, set it the same on every node",
                        quality.as_str(),
                        org.quality.as_str(),
                        org.at
                    ),
                ));
            }
            Some(_) => {}
            None => {
                organisations.insert(
                    domain.clone(),
                    Organisation {
                        name: domain.clone(),
                        home_domain: domain.clone(),
                        quality,
                        at: qat,
                    },
                );
            }
        }
        if !node.validator.suspended {
            let flag = node.unsafe_quorum.as_ref().is_some_and(|(_, b)| *b);
            match &unsafe_quorum {
                Some((first_at, first, first_name)) if *first != flag => {
                    let at = node.unsafe_quorum.map_or(node.at.clone(), |(at, _)| at);
                    return Err(invalid(
                        &at,
                        UNSAFE_QUORUM,
                        format!(
                            "StellarNode {} has {flag} but {first_name} has {first} ({first_at}); every active validator derives the same quorum set, so set it on all or none",
                            node.name
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    let at = node.unsafe_quorum.map_or(node.at.clone(), |(at, _)| at);
                    unsafe_quorum = Some((at, flag, node.name.clone()));
                }
            }
        }
        validators.insert(node.name, node.validator);
    }
    let inv = StellarInventory {
        sources,
        unsafe_quorum: unsafe_quorum.is_some_and(|(_, b, _)| b),
        organisations,
        validators,
    };
    inventory::check_unique(&inv)?;
    Ok(inv)
}

/// Refuses a Secret outright (peergen never reads one, and its values in git are exposed), and any
/// other document whose `data`, `binaryData` (base64) or `stringData` (plain) holds a seed, which
/// the scan of the file text cannot see once base64-encoded. No value is ever printed.
fn refuse_secrets(file: &Arc<Path>, doc: &RawDoc) -> Result<(), StellarInventoryError> {
    if let Some(kind) = doc.kind.as_ref().filter(|k| k.value == "Secret") {
        let name = doc
            .metadata
            .as_ref()
            .and_then(|m| m.value.name.as_ref())
            .map_or_else(|| "unnamed".to_owned(), |n| n.value.clone());
        return Err(StellarInventoryError::Secret {
            at: Origin::of(file, kind),
            name,
        });
    }
    let maps = [
        ("data", &doc.data, true),
        ("binaryData", &doc.binary_data, true),
        ("stringData", &doc.string_data, false),
    ];
    for (field, map, base64) in maps {
        let Some(map) = map else { continue };
        let Some(entries) = map.value.as_object() else {
            continue;
        };
        for (key, value) in entries {
            let Some(text) = value.as_str() else { continue };
            let decoded = if base64 { decode_base64(text) } else { None };
            if strkey::find_seed(text).is_some()
                || decoded.is_some_and(|d| strkey::find_seed(&d).is_some())
            {
                return Err(StellarInventoryError::EncodedSeed {
                    at: Origin::of(file, map),
                    field: format!("{field}.{key}"),
                });
            }
        }
    }
    Ok(())
}

/// Kubernetes `data` values are standard base64, which YAML may have folded over lines.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_doc(file: &Arc<Path>, doc: RawDoc) -> Result<Option<Node>, StellarInventoryError> {
    refuse_secrets(file, &doc)?;
    let Some(kind) = &doc.kind else {
        return Ok(None);
    };
    if kind.value != STELLAR_NODE_KIND {
        tracing::debug!(
            "{}: skipping a {} (not a StellarNode)",
            Origin::of(file, kind),
            kind.value
        );
        return Ok(None);
    }
    let kat = Origin::of(file, kind);
    match &doc.api_version {
        Some(v) if v.value == API_VERSION => {}
        Some(v) => {
            return Err(invalid(
                &Origin::of(file, v),
                "apiVersion",
                format!(
                    "{:?} is not a StellarNode version peergen reads; expected {API_VERSION}",
                    v.value
                ),
            ));
        }
        None => {
            return Err(invalid(
                &kat,
                "apiVersion",
                format!("missing; expected {API_VERSION}"),
            ));
        }
    }
    let meta = doc
        .metadata
        .ok_or_else(|| invalid(&kat, "metadata", "missing"))?;
    let name = meta
        .value
        .name
        .as_ref()
        .ok_or_else(|| invalid(&Origin::of(file, &meta), "metadata.name", "missing"))?;
    let nat = Origin::of(file, name);
    let name = name.value.clone();
    let spec = doc
        .spec
        .ok_or_else(|| invalid(&nat, "spec", format!("StellarNode {name} has no spec")))?;
    let node_type = spec.value.node_type.as_ref().map(|t| t.value.as_str());
    if node_type != Some("Validator") {
        tracing::info!(
            "{nat}: StellarNode {name} is not a validator (nodeType {}); skipped",
            node_type.unwrap_or("unset")
        );
        return Ok(None);
    }
    check_validator_name(&name).map_err(|r| invalid(&nat, "metadata.name", r))?;
    let annotations = meta.value.annotations.unwrap_or_default();
    if let Some((key, a)) = annotations
        .iter()
        .find(|(k, _)| k.starts_with(ANNOTATION_PREFIX) && !KNOWN_ANNOTATIONS.contains(&k.as_str()))
    {
        return Err(invalid(
            &Origin::of(file, a),
            format!("metadata.annotations.{key}"),
            format!(
                "not a peergen annotation; known: {}",
                KNOWN_ANNOTATIONS.join(", ")
            ),
        ));
    }
    let required = |key: &str, what: &str| {
        annotations
            .get(key)
            .map(|a| (Origin::of(file, a), a.value.clone()))
            .ok_or_else(|| {
                invalid(
                    &nat,
                    format!("metadata.annotations.{key}"),
                    format!("missing: StellarNode {name} must carry {what} in this annotation"),
                )
            })
    };
    let (hat, home) = required(
        HOME_DOMAIN,
        "its organisation's home domain (NODE_HOME_DOMAIN)",
    )?;
    check_dns_name(&home).map_err(|r| invalid(&hat, HOME_DOMAIN, format!("{home:?}: {r}")))?;
    let (qat, quality) = required(
        QUALITY,
        "its home domain's quality (LOW, MEDIUM, HIGH or CRITICAL)",
    )?;
    let quality = Quality::parse(&quality).map_err(|m| invalid(&qat, QUALITY, m))?;
    let (kat, key) = required(
        PUBLIC_KEY,
        "its public key (G…); the seed Secret is never read",
    )?;
    let public_key = PublicKey::parse(&key).map_err(|source| StellarInventoryError::Key {
        at: kat,
        field: PUBLIC_KEY.to_owned(),
        source,
    })?;
    let unsafe_quorum = match annotations.get(UNSAFE_QUORUM) {
        Some(a) => Some((
            Origin::of(file, a),
            match a.value.as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(invalid(
                        &Origin::of(file, a),
                        UNSAFE_QUORUM,
                        format!("{other:?} is not \"true\" or \"false\""),
                    ));
                }
            },
        )),
        None => None,
    };

    let config = spec.value.validator_config.map(|c| c.value);
    let dns = config
        .as_ref()
        .and_then(|c| c.external_dns.as_ref())
        .and_then(|d| d.value.hostname.as_ref());
    let port = config.as_ref().and_then(|c| c.peer_port.as_ref());
    let address = match (annotations.get(ADDRESS), dns) {
        (Some(a), None) => {
            if let Some(p) = port {
                return Err(invalid(
                    &Origin::of(file, p),
                    "spec.validatorConfig.peerPort",
                    format!("is set together with {ADDRESS}; put the port in the annotation only"),
                ));
            }
            PeerAddress::parse(&a.value).map_err(|m| invalid(&Origin::of(file, a), ADDRESS, m))?
        }
        (None, Some(h)) => {
            let text = format!(
                "{}:{}",
                h.value,
                port.map_or(DEFAULT_PEER_PORT, |p| p.value)
            );
            PeerAddress::parse(&text).map_err(|m| {
                invalid(
                    &Origin::of(file, h),
                    "spec.validatorConfig.externalDns.hostname",
                    m,
                )
            })?
        }
        (Some(a), Some(h)) => {
            return Err(invalid(
                &Origin::of(file, a),
                ADDRESS,
                format!(
                    "the address is also given by spec.validatorConfig.externalDns.hostname ({}); give it in one place",
                    Origin::of(file, h)
                ),
            ));
        }
        (None, None) => {
            return Err(invalid(
                &nat,
                "spec.validatorConfig.externalDns.hostname",
                format!(
                    "StellarNode {name} has no peer address: set externalDns.hostname (and peerPort, default 11625) or the {ADDRESS} annotation"
                ),
            ));
        }
    };
    let history = match config.as_ref() {
        Some(c) if c.enable_history_archive.as_ref().is_some_and(|e| e.value.0) => {
            let urls = c.history_archive_urls.as_ref().ok_or_else(|| {
                invalid(
                    &nat,
                    "spec.validatorConfig.historyArchiveUrls",
                    "enableHistoryArchive is true but no URL is given",
                )
            })?;
            match urls.value.as_slice() {
                [url] => {
                    check_history_url(url).map_err(|m| {
                        invalid(
                            &Origin::of(file, urls),
                            "spec.validatorConfig.historyArchiveUrls",
                            m,
                        )
                    })?;
                    Some(url.clone())
                }
                _ => {
                    return Err(invalid(
                        &Origin::of(file, urls),
                        "spec.validatorConfig.historyArchiveUrls",
                        format!(
                            "has {} URLs; stellar-core takes one HISTORY archive per [[VALIDATORS]] entry, so give exactly one",
                            urls.value.len()
                        ),
                    ));
                }
            }
        }
        _ => None,
    };
    let namespace = match &meta.value.namespace {
        Some(ns) => {
            check_label(&ns.value)
                .map_err(|r| invalid(&Origin::of(file, ns), "metadata.namespace", r))?;
            Some(ns.value.clone())
        }
        None => None,
    };
    let validator = Validator {
        name: name.clone(),
        at: nat.clone(),
        organisation: home.to_ascii_lowercase(),
        public_key,
        address,
        history,
        suspended: spec.value.suspended.as_ref().is_some_and(|s| s.value.0),
        namespace,
        configmap: format!("{name}-stellar-peers"),
        // The operator runs each StellarNode as the StatefulSet of the same name.
        workload: Some(Workload {
            kind: "StatefulSet".to_owned(),
            name: name.clone(),
        }),
    };
    Ok(Some(Node {
        at: nat,
        name,
        home_domain: home.to_ascii_lowercase(),
        quality: (qat, quality),
        unsafe_quorum,
        validator,
    }))
}
