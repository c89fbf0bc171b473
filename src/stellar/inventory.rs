//! The Stellar inventory's validated types, shared by both sources (a `network: stellar` file,
//! [`super::file`], and StellarNode manifests, [`super::crd`]), and the checks on single values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::strkey::{PublicKey, StrKeyError};
use crate::input::yaml::{Origin, YamlError};

/// stellar-core's `DEFAULT_PEER_PORT`.
pub(crate) const DEFAULT_PEER_PORT: u16 = 11625;
/// The seed's ConfigMap name, kept so that what it mounted keeps working.
pub(crate) const DEFAULT_CONFIGMAP: &str = "stellar-peers";
/// One namespace per validator, so that the fixed [`DEFAULT_CONFIGMAP`] never collides.
pub(crate) const DEFAULT_NAMESPACE: &str = "{{validator}}";

#[derive(Debug, thiserror::Error)]
pub(crate) enum StellarInventoryError {
    #[error(
        "{dir}: a directory given with -i is read as StellarNode manifests (docs/stellar.md), but its {files} *.yaml/*.yml files hold no StellarNode validator; to read an inventory, give its file"
    )]
    NoStellarNodes { dir: PathBuf, files: usize },
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
