//! The Stellar inventory: its validated types (shared by both sources) and the `network: stellar`
//! YAML schema. Everything a single field can get wrong is refused here, with file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::strkey::{self, PublicKey, StrKeyError};
use crate::input::yaml::{self, Origin, Spanned, YamlError};

/// stellar-core's `DEFAULT_PEER_PORT`.
pub(crate) const DEFAULT_PEER_PORT: u16 = 11625;
/// The seed's ConfigMap name, kept so that what it mounted keeps working.
pub(crate) const DEFAULT_CONFIGMAP: &str = "stellar-peers";
/// One namespace per validator, so that the fixed [`DEFAULT_CONFIGMAP`] never collides.
pub(crate) const DEFAULT_NAMESPACE: &str = "{{validator}}";

#[derive(Debug, thiserror::Error)]
pub(crate) enum StellarInventoryError {
    #[error("{path}: cannot read: {source}")]
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
    #[error("{at}: {field}: {source}")]
    Key {
        at: Origin,
        field: String,
        source: StrKeyError,
    },
    #[error(
        "{at}: a secret seed (S…) is in this file; seeds must never be in an inventory or in git. Remove it and rotate it: it has been exposed"
    )]
    Seed { at: Origin },
    #[error(
        "{at}: {field}: holds a secret seed (S…), encoded; seeds must never be in an inventory or in git. Remove it and rotate it: it has been exposed"
    )]
    EncodedSeed { at: Origin, field: String },
    #[error(
        "{at}: Secret {name} is among the StellarNode sources; peergen never reads Secrets (the public key goes in the peergen.io/public-key annotation) and a Secret's values in git are exposed. Move it out of these files, and rotate the seed it holds if it was committed"
    )]
    Secret { at: Origin, name: String },
    #[error(transparent)]
    Duplicate(Box<Duplicate>),
}

/// One thing claimed twice; boxed in [`StellarInventoryError`] to keep the error small.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {what} is also used by {other} ({first}); {why}")]
pub(crate) struct Duplicate {
    pub(crate) at: Origin,
    pub(crate) what: String,
    pub(crate) other: String,
    pub(crate) first: Origin,
    pub(crate) why: &'static str,
}

pub(crate) fn invalid(
    at: &Origin,
    field: impl Into<String>,
    message: impl Into<String>,
) -> StellarInventoryError {
    StellarInventoryError::Invalid {
        at: at.clone(),
        field: field.into(),
        message: message.into(),
    }
}

/// `[[HOME_DOMAINS]]` `QUALITY`, ordered as stellar-core ranks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Quality {
    Low,
    Medium,
    High,
    Critical,
}

impl Quality {
    pub(crate) fn parse(text: &str) -> Result<Quality, String> {
        match text {
            "LOW" => Ok(Quality::Low),
            "MEDIUM" => Ok(Quality::Medium),
            "HIGH" => Ok(Quality::High),
            "CRITICAL" => Ok(Quality::Critical),
            other => Err(format!(
                "{other:?} is not a quality; expected LOW, MEDIUM, HIGH or CRITICAL"
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Quality::Low => "LOW",
            Quality::Medium => "MEDIUM",
            Quality::High => "HIGH",
            Quality::Critical => "CRITICAL",
        }
    }
}

/// A peer address as stellar-core's `PeerBareAddress::resolve` accepts it: an IPv4 literal or a DNS
/// name (lower-cased here), and a port (default 11625). IPv6 and SRV are not supported by core.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PeerAddress {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl PeerAddress {
    pub(crate) fn parse(text: &str) -> Result<PeerAddress, String> {
        let (host, port) = match text.rsplit_once(':') {
            Some((h, p)) => {
                let port = (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| p.parse::<u16>().ok())
                    .flatten()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| {
                        format!("port {p:?} in {text:?} is not a number from 1 to 65535")
                    })?;
                (h, port)
            }
            None => (text, DEFAULT_PEER_PORT),
        };
        if host.contains(':') || host.starts_with('[') {
            return Err(format!(
                "{text:?}: stellar-core takes only IPv4 addresses or DNS names (HOST[:PORT]); IPv6 is not supported"
            ));
        }
        let dotted_quad = host.split('.').count() == 4
            && host
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if dotted_quad {
            if host.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(format!("{host:?} is not an IPv4 address (each part 0-255)"));
            }
        } else {
            check_dns_name(host).map_err(|r| {
                format!("{host:?} is not a host name stellar-core can resolve: {r}")
            })?;
        }
        Ok(PeerAddress {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// DNS names: dot-separated labels of letters, digits and '-', no empty label, no trailing dot.
pub(crate) fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("must be 1-253 characters".into());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "label {label:?} is not 1-63 letters, digits and '-' (not at either end); no empty labels, no trailing dot"
            ));
        }
    }
    Ok(())
}

pub(crate) use crate::input::name::check_label;

/// Validator names become output directories and `[[VALIDATORS]]` NAMEs, which core also
/// registers as `$NAME` aliases next to its own `self`.
pub(crate) fn check_validator_name(name: &str) -> Result<(), String> {
    check_label(name)
        .map_err(|r| format!("{r} (it becomes a directory name and a [[VALIDATORS]] NAME)"))?;
    if name == "self" {
        return Err("\"self\" is the name stellar-core gives the node itself; a validator of that name clashes with it".to_owned());
    }
    Ok(())
}

pub(crate) use crate::input::name::check_subdomain as check_object_name;

/// A history archive base URL. It becomes part of a shell command (`curl -sf URL/{0} -o {1}`), so
/// only characters that need no quoting are accepted.
pub(crate) fn check_history_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let safe = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' | b'/' | b':' | b'%' | b'+' | b'=' | b'@' | b','
            )
    };
    if rest.is_empty() || rest.starts_with('/') || !rest.bytes().all(safe) {
        return Err(format!(
            "{url:?}: a history URL may hold only letters, digits and - . _ ~ / : % + = @ , (it is run as a curl command by stellar-core)"
        ));
    }
    Ok(())
}

/// The `HISTORY` get command stellar-core runs: `{0}` is the remote path, `{1}` the local file.
pub(crate) fn history_command(url: &str) -> String {
    format!("curl -sf {}/{{0}} -o {{1}}", url.trim_end_matches('/'))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Organisation {
    /// The organisation's key in the inventory (for StellarNode sources: its home domain).
    pub(crate) name: String,
    pub(crate) home_domain: String,
    pub(crate) quality: Quality,
    pub(crate) at: Origin,
}

/// The workload a validator runs in, for the opt-in pod-template hash patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) kind: String,
    pub(crate) name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Validator {
    pub(crate) name: String,
    pub(crate) at: Origin,
    pub(crate) organisation: String,
    pub(crate) public_key: PublicKey,
    pub(crate) address: PeerAddress,
    /// History archive base URL.
    pub(crate) history: Option<String>,
    pub(crate) suspended: bool,
    pub(crate) namespace: Option<String>,
    pub(crate) configmap: String,
    pub(crate) workload: Option<Workload>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StellarInventory {
    pub(crate) sources: Vec<Arc<Path>>,
    pub(crate) unsafe_quorum: bool,
    pub(crate) organisations: BTreeMap<String, Organisation>,
    pub(crate) validators: BTreeMap<String, Validator>,
}

impl StellarInventory {
    pub(crate) fn active(&self) -> impl Iterator<Item = &Validator> {
        self.validators.values().filter(|v| !v.suspended)
    }

    pub(crate) fn organisation_of(&self, v: &Validator) -> &Organisation {
        &self.organisations[&v.organisation]
    }
}

/// Refuses what no single field shows: the same public key, address, home domain or Kubernetes
/// object claimed twice. Suspended validators count: their keys are still theirs.
pub(crate) fn check_unique(inv: &StellarInventory) -> Result<(), StellarInventoryError> {
    let mut domains: BTreeMap<&str, &Organisation> = BTreeMap::new();
    for org in inv.organisations.values() {
        if let Some(first) = domains.insert(&org.home_domain, org) {
            return Err(StellarInventoryError::Duplicate(Box::new(Duplicate {
                at: org.at.clone(),
                what: format!("organisation {}: home domain {}", org.name, org.home_domain),
                other: format!("organisation {}", first.name),
                first: first.at.clone(),
                why: "stellar-core rejects a [[HOME_DOMAINS]] entry given twice; merge the organisations",
            })));
        }
    }
    let mut keys: BTreeMap<&str, &Validator> = BTreeMap::new();
    let mut addresses: BTreeMap<String, &Validator> = BTreeMap::new();
    let mut objects: BTreeMap<(Option<&str>, &str), &Validator> = BTreeMap::new();
    for v in inv.validators.values() {
        if let Some(first) = keys.insert(v.public_key.as_str(), v) {
            return Err(StellarInventoryError::Duplicate(Box::new(Duplicate {
                at: v.at.clone(),
                what: format!("validator {}: public key {}", v.name, v.public_key),
                other: format!("validator {}", first.name),
                first: first.at.clone(),
                why: "one node would list itself under another name, which stellar-core refuses (\"Duplicate validator entry\")",
            })));
        }
        if v.suspended {
            continue;
        }
        if let Some(first) = addresses.insert(v.address.to_string(), v) {
            return Err(StellarInventoryError::Duplicate(Box::new(Duplicate {
                at: v.at.clone(),
                what: format!("validator {}: address {}", v.name, v.address),
                other: format!("validator {}", first.name),
                first: first.at.clone(),
                why: "each of the two would list its own address as a peer; give every validator its own HOST:PORT",
            })));
        }
        if let Some(first) = objects.insert((v.namespace.as_deref(), &v.configmap), v) {
            return Err(StellarInventoryError::Duplicate(Box::new(Duplicate {
                at: v.at.clone(),
                what: format!(
                    "validator {}: ConfigMap {}/{}",
                    v.name,
                    v.namespace.as_deref().unwrap_or("(no namespace)"),
                    v.configmap
                ),
                other: format!("validator {}", first.name),
                first: first.at.clone(),
                why: "each validator gets its own peer list; use distinct namespaces (the default, `namespace: \"{{validator}}\"`) or `configmap: \"{{validator}}-stellar-peers\"`",
            })));
        }
    }
    Ok(())
}

/// Expands `{{validator}}` in a Kubernetes name pattern; any other `{{…}}` is an error.
pub(crate) fn expand_pattern(pattern: &str, validator: &str) -> Result<String, String> {
    let out = pattern.replace("{{validator}}", validator);
    if out.contains("{{") || out.contains("}}") {
        return Err(format!(
            "{pattern:?}: the only variable is {{{{validator}}}}"
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------- the YAML schema

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    version: Option<Spanned<u32>>,
    network: Spanned<String>,
    unsafe_quorum: Option<Spanned<bool>>,
    namespace: Option<Spanned<String>>,
    configmap: Option<Spanned<String>>,
    workload: Option<Spanned<RawWorkload>>,
    organisations: BTreeMap<String, Spanned<RawOrganisation>>,
    validators: BTreeMap<String, Spanned<RawValidator>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: Option<Spanned<String>>,
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganisation {
    home_domain: Spanned<String>,
    quality: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    organisation: Spanned<String>,
    public_key: Spanned<String>,
    address: Spanned<String>,
    history: Option<Spanned<String>>,
    quality: Option<Spanned<String>>,
    suspended: Option<Spanned<bool>>,
}

/// Reads an input file, refusing it outright when a secret seed appears anywhere in it: a seed in
/// git is exposed whether or not a field reads it.
pub(crate) fn read(path: &Path) -> Result<(Arc<Path>, String), StellarInventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| StellarInventoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: Arc<Path> = Arc::from(path);
    if let Some((line, column)) = strkey::find_seed(&text) {
        return Err(StellarInventoryError::Seed {
            at: Origin {
                path: Arc::clone(&file),
                line: line as u64,
                column: column as u64,
            },
        });
    }
    Ok((file, text))
}

/// Loads one `network: stellar` inventory file.
pub(crate) fn load(path: &Path) -> Result<StellarInventory, StellarInventoryError> {
    let (file, text) = read(path)?;
    let raw: RawInventory = yaml::parse(&file, &text)?;
    if let Some(v) = &raw.version
        && v.value != 1
    {
        return Err(invalid(
            &Origin::of(&file, v),
            "version",
            format!(
                "schema version {} is not supported; this peergen reads version 1",
                v.value
            ),
        ));
    }
    if raw.network.value != "stellar" {
        return Err(invalid(
            &Origin::of(&file, &raw.network),
            "network",
            "expected `stellar`",
        ));
    }
    // The seed's ConfigMap name is fixed (`stellar-peers`) and a pod mounts only ConfigMaps of its
    // own namespace, so by default each validator gets a namespace of its own name: the layout in
    // which the defaults cannot collide.
    let namespace = raw
        .namespace
        .as_ref()
        .map_or((Origin::file(&file), DEFAULT_NAMESPACE.to_owned()), |n| {
            (Origin::of(&file, n), n.value.clone())
        });
    let configmap = raw
        .configmap
        .as_ref()
        .map_or((Origin::file(&file), DEFAULT_CONFIGMAP.to_owned()), |c| {
            (Origin::of(&file, c), c.value.clone())
        });
    let workload = match &raw.workload {
        Some(w) => {
            let kind = w
                .value
                .kind
                .as_ref()
                .map_or("StatefulSet", |k| k.value.as_str());
            if !matches!(kind, "StatefulSet" | "Deployment" | "DaemonSet") {
                return Err(invalid(
                    &Origin::of(&file, w),
                    "workload.kind",
                    format!("{kind:?} is not StatefulSet, Deployment or DaemonSet"),
                ));
            }
            Some((
                Origin::of(&file, &w.value.name),
                kind.to_owned(),
                w.value.name.value.clone(),
            ))
        }
        None => None,
    };

    let mut organisations = BTreeMap::new();
    let mut org_quality: BTreeMap<String, Option<(Quality, Origin)>> = BTreeMap::new();
    for (name, o) in &raw.organisations {
        let field = format!("organisations.{name}");
        let home = &o.value.home_domain;
        check_dns_name(&home.value).map_err(|r| {
            invalid(
                &Origin::of(&file, home),
                format!("{field}.home_domain"),
                format!("{:?}: {r}", home.value),
            )
        })?;
        let quality = match &o.value.quality {
            Some(q) => Some((
                Quality::parse(&q.value)
                    .map_err(|m| invalid(&Origin::of(&file, q), format!("{field}.quality"), m))?,
                Origin::of(&file, q),
            )),
            None => None,
        };
        org_quality.insert(name.clone(), quality);
        organisations.insert(
            name.clone(),
            (Origin::of(&file, o), home.value.to_ascii_lowercase()),
        );
    }

    let mut validators = BTreeMap::new();
    let mut validator_quality: BTreeMap<String, Vec<(String, Quality, Origin)>> = BTreeMap::new();
    for (name, v) in &raw.validators {
        let field = format!("validators.{name}");
        let vat = Origin::of(&file, v);
        check_validator_name(name).map_err(|r| invalid(&vat, &field, r))?;
        let r = &v.value;
        let org = &r.organisation.value;
        if !organisations.contains_key(org) {
            let known: Vec<&str> = organisations.keys().map(String::as_str).collect();
            return Err(invalid(
                &Origin::of(&file, &r.organisation),
                format!("{field}.organisation"),
                format!(
                    "{org:?} is not in `organisations:` (known: {})",
                    known.join(", ")
                ),
            ));
        }
        let public_key =
            PublicKey::parse(&r.public_key.value).map_err(|source| StellarInventoryError::Key {
                at: Origin::of(&file, &r.public_key),
                field: format!("{field}.public_key"),
                source,
            })?;
        let address = PeerAddress::parse(&r.address.value).map_err(|m| {
            invalid(
                &Origin::of(&file, &r.address),
                format!("{field}.address"),
                m,
            )
        })?;
        let history = match &r.history {
            Some(h) => {
                check_history_url(&h.value)
                    .map_err(|m| invalid(&Origin::of(&file, h), format!("{field}.history"), m))?;
                Some(h.value.clone())
            }
            None => None,
        };
        if let Some(q) = &r.quality {
            let quality = Quality::parse(&q.value)
                .map_err(|m| invalid(&Origin::of(&file, q), format!("{field}.quality"), m))?;
            if let Some((_, first)) = &org_quality[org] {
                return Err(invalid(
                    &Origin::of(&file, q),
                    format!("{field}.quality"),
                    format!(
                        "quality is set in two places: organisation {org} sets it at {first}; stellar-core refuses QUALITY on both [[HOME_DOMAINS]] and [[VALIDATORS]], so set it once"
                    ),
                ));
            }
            validator_quality.entry(org.clone()).or_default().push((
                name.clone(),
                quality,
                Origin::of(&file, q),
            ));
        }
        let k8s =
            |pattern: &(Origin, String), what: &str, check: fn(&str) -> Result<(), String>| {
                let value =
                    expand_pattern(&pattern.1, name).map_err(|m| invalid(&pattern.0, what, m))?;
                check(&value)
                    .map_err(|m| invalid(&pattern.0, what, format!("for validator {name}: {m}")))?;
                Ok::<_, StellarInventoryError>(value)
            };
        let namespace = Some(k8s(&namespace, "namespace", check_label)?);
        let configmap = k8s(&configmap, "configmap", check_object_name)?;
        let workload = match &workload {
            Some((wat, kind, pattern)) => Some(Workload {
                kind: kind.clone(),
                name: k8s(
                    &(wat.clone(), pattern.clone()),
                    "workload.name",
                    check_object_name,
                )?,
            }),
            None => None,
        };
        validators.insert(
            name.clone(),
            Validator {
                name: name.clone(),
                at: vat,
                organisation: org.clone(),
                public_key,
                address,
                history,
                suspended: r.suspended.as_ref().is_some_and(|s| s.value),
                namespace,
                configmap,
                workload,
            },
        );
    }

    let mut orgs = BTreeMap::new();
    for (name, (oat, home_domain)) in organisations {
        let quality = match (&org_quality[&name], validator_quality.get(&name)) {
            (Some((q, _)), _) => *q,
            (None, Some(list)) => {
                let (first_name, q, _) = &list[0];
                if let Some((other, oq, qat)) = list.iter().find(|(_, oq, _)| oq != q) {
                    return Err(invalid(
                        qat,
                        format!("validators.{other}.quality"),
                        format!(
                            "{} differs from validator {first_name}'s {}; all validators of organisation {name} ({home_domain}) must share one quality",
                            oq.as_str(),
                            q.as_str()
                        ),
                    ));
                }
                let members = validators
                    .values()
                    .filter(|v| v.organisation == name)
                    .count();
                if list.len() != members {
                    return Err(invalid(
                        &oat,
                        format!("organisations.{name}.quality"),
                        "some validators of this organisation set `quality` and some do not; set it once, on the organisation",
                    ));
                }
                *q
            }
            (None, None) => {
                return Err(invalid(
                    &oat,
                    format!("organisations.{name}.quality"),
                    "missing: set LOW, MEDIUM, HIGH or CRITICAL (stellar-core needs a quality for every home domain)",
                ));
            }
        };
        orgs.insert(
            name.clone(),
            Organisation {
                name,
                home_domain,
                quality,
                at: oat,
            },
        );
    }
    let inv = StellarInventory {
        sources: vec![file],
        unsafe_quorum: raw.unsafe_quorum.is_some_and(|u| u.value),
        organisations: orgs,
        validators,
    };
    check_unique(&inv)?;
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_follow_core_grammar() {
        assert_eq!(
            PeerAddress::parse("Alpha-1.example").unwrap().to_string(),
            "alpha-1.example:11625"
        );
        assert_eq!(
            PeerAddress::parse("203.0.113.11:11626")
                .unwrap()
                .to_string(),
            "203.0.113.11:11626"
        );
        for bad in [
            "",
            "a..b",
            "a.b.",
            "[::1]:11625",
            "::1",
            "a:0",
            "a:65536",
            "a:x",
            "300.1.1.1",
            "a_b.example",
            "-a.example",
        ] {
            assert!(PeerAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn history_urls_must_be_shell_safe() {
        assert!(check_history_url("https://history.alpha.example/alpha-1/").is_ok());
        for bad in [
            "ftp://h/",
            "https://",
            "https://h/$(id)",
            "https://h/a b",
            "https://h/{0}",
            "https://h/'",
        ] {
            assert!(check_history_url(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            history_command("https://h/a/"),
            "curl -sf https://h/a/{0} -o {1}"
        );
        assert_eq!(
            history_command("https://h/a"),
            "curl -sf https://h/a/{0} -o {1}"
        );
    }
}
