//! The inventory's `registry:` section: which etcd cluster holds the shared endpoint registry, under
//! which key prefix, and how to authenticate (CA, client certificate, user and a password that is
//! only ever named, never written).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{InventoryError, invalid};
use crate::input::yaml::{Origin, Spanned};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegistry {
    etcd: Spanned<Vec<Spanned<String>>>,
    prefix: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
    lease_ttl: Option<Spanned<String>>,
}

/// Where the etcd password comes from; the value itself never enters the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Password {
    Env(String),
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegistrySettings {
    pub(crate) at: Origin,
    /// `http://host:port` or `https://host:port`, without a trailing slash; tried in order.
    pub(crate) endpoints: Vec<String>,
    /// Key prefix without a trailing slash (see `cosmos/registry/layout.rs`).
    pub(crate) prefix: String,
    pub(crate) ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM), for etcd's `--client-cert-auth`.
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Password>,
    /// Entries whose `updated` time is older than this are reported by `fetch`.
    pub(crate) max_age: Option<Duration>,
    /// `publish` attaches its keys to a lease of this TTL, so a node nobody republishes expires.
    pub(crate) lease_ttl: Option<Duration>,
}

pub(crate) const DEFAULT_PREFIX: &str = "peergen";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChainRegistry {
    sources: std::collections::BTreeMap<String, Spanned<String>>,
    providers: std::collections::BTreeMap<String, Spanned<String>>,
    seeds: Option<Spanned<crate::input::yaml::Bool>>,
}

/// Where one consumer's `chain.json` is read from at `fetch` time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChainSource {
    /// A file in a local chain-registry checkout.
    File(PathBuf),
    /// An `https://` URL (`http://` only on a loopback address), without credentials, query or
    /// fragment: the URL is recorded in the snapshot and shown in logs as written.
    Url(String),
}

impl std::fmt::Display for ChainSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainSource::File(path) => write!(f, "{}", path.display()),
            ChainSource::Url(url) => f.write_str(url),
        }
    }
}

/// `chain_registry:`: which `chain.json` holds each consumer's peers, and which `provider` name
/// there is which inventory validator.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChainRegistrySettings {
    pub(crate) at: Origin,
    /// Keyed by consumer id or chain id.
    pub(crate) sources: std::collections::BTreeMap<String, ChainSource>,
    /// chain.json `provider` → inventory validator name.
    pub(crate) providers: std::collections::BTreeMap<String, String>,
    /// `seeds: true`: each source's `peers.seeds[]` feed the consumer's `[p2p] seeds`.
    pub(crate) seeds: bool,
}

pub(super) fn parse_chain_registry(
    file: &Arc<Path>,
    dir: &Path,
    raw: Spanned<RawChainRegistry>,
) -> Result<crate::input::yaml::Located<ChainRegistrySettings>, InventoryError> {
    let at = Origin::of(file, &raw);
    let raw = raw.value;
    let mut providers = std::collections::BTreeMap::new();
    for (provider, v) in raw.providers {
        crate::input::name::check_label(&v.value).map_err(|m| {
            invalid(
                &Origin::of(file, &v),
                format!("chain_registry.providers.{provider}"),
                format!("{m}: name an inventory validator"),
            )
        })?;
        providers.insert(provider, v.value);
    }
    let mut sources = std::collections::BTreeMap::new();
    for (key, v) in raw.sources {
        let source = chain_source(dir, &v.value).map_err(|m| {
            invalid(
                &Origin::of(file, &v),
                format!("chain_registry.sources.{key}"),
                m,
            )
        })?;
        sources.insert(key, source);
    }
    Ok(crate::input::yaml::Located {
        value: ChainRegistrySettings {
            at: at.clone(),
            sources,
            providers,
            seeds: raw.seeds.is_some_and(|s| s.value.0),
        },
        at,
    })
}

/// A path relative to the inventory file, or a URL fetched at `fetch` time. Plain `http://` is
/// for a server on this machine only (tests, a local mirror): anywhere else the peer list, which
/// decides whom the nodes dial, could be altered on the way. Messages never quote the text, which
/// may hold a token.
fn chain_source(dir: &Path, text: &str) -> Result<ChainSource, String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(ChainSource::File(dir.join(text)));
    };
    if !matches!(scheme, "https" | "http") {
        return Err(
            "is neither a path nor an https:// URL, e.g. https://raw.githubusercontent.com/cosmos/chain-registry/master/testnets/pion/chain.json"
                .to_owned(),
        );
    }
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    if authority.contains('@') || rest.contains(['?', '#']) {
        return Err(
            "holds a user, query or fragment (not shown): the URL is recorded in the snapshot; give a public chain.json URL without them"
                .to_owned(),
        );
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(h, port)| {
            !port.is_empty() && !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        })
        .map_or(authority, |(h, _)| h);
    // Printable ASCII only (non-ASCII percent-encoded): the URL reaches terminals, logs and JSON.
    if host.is_empty()
        || rest.len() == authority.len()
        || !rest.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(
            "is not a URL of a chain.json: give scheme, host and path in printable ASCII (percent-encode the rest), e.g. https://raw.githubusercontent.com/cosmos/chain-registry/master/testnets/pion/chain.json"
                .to_owned(),
        );
    }
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if scheme == "http" && !loopback {
        return Err(
            "uses plain http:// to another machine: the peer list could be altered on the way; use https:// (http:// is accepted on a loopback address only)"
                .to_owned(),
        );
    }
    Ok(ChainSource::Url(text.to_owned()))
}

pub(super) fn parse(
    file: &Arc<Path>,
    dir: &Path,
    raw: Spanned<RawRegistry>,
) -> Result<crate::input::yaml::Located<RegistrySettings>, InventoryError> {
    let at = Origin::of(file, &raw);
    let raw = raw.value;
    let mut endpoints = Vec::new();
    for (i, e) in raw.etcd.value.iter().enumerate() {
        let eat = Origin::of(file, e);
        endpoints.push(
            endpoint_url(&e.value).map_err(|m| invalid(&eat, format!("registry.etcd[{i}]"), m))?,
        );
    }
    if endpoints.is_empty() {
        return Err(invalid(
            &Origin::of(file, &raw.etcd),
            "registry.etcd",
            "is empty; list the etcd client URLs, e.g. [https://etcd-0.example.org:2379]",
        ));
    }
    let prefix = match &raw.prefix {
        Some(p) => check_prefix(&p.value)
            .map_err(|m| invalid(&Origin::of(file, p), "registry.prefix", m))?,
        None => DEFAULT_PREFIX.to_owned(),
    };
    let path = |s: &Option<Spanned<String>>| s.as_ref().map(|s| dir.join(&s.value));
    let client_cert = match (&raw.cert_file, &raw.key_file) {
        (Some(_), Some(_)) => path(&raw.cert_file).zip(path(&raw.key_file)),
        (None, None) => None,
        (Some(s), None) | (None, Some(s)) => {
            return Err(invalid(
                &Origin::of(file, s),
                "registry.cert_file",
                "cert_file and key_file go together: a client certificate needs its key",
            ));
        }
    };
    let password = match (&raw.password_env, &raw.password_file) {
        (Some(_), Some(s)) => {
            return Err(invalid(
                &Origin::of(file, s),
                "registry.password_file",
                "set one of password_env or password_file",
            ));
        }
        (Some(e), None) => {
            check_env_name(&e.value)
                .map_err(|m| invalid(&Origin::of(file, e), "registry.password_env", m))?;
            Some(Password::Env(e.value.clone()))
        }
        (None, Some(_)) => path(&raw.password_file).map(Password::File),
        (None, None) => None,
    };
    if password.is_some() != raw.username.is_some() {
        return Err(invalid(
            &at,
            "registry.username",
            "username and a password (password_env or password_file) go together",
        ));
    }
    let duration = |s: &Option<Spanned<String>>, field: &str| {
        s.as_ref()
            .map(|s| {
                parse_duration(&s.value)
                    .map_err(|m| invalid(&Origin::of(file, s), format!("registry.{field}"), m))
            })
            .transpose()
    };
    let settings = RegistrySettings {
        at: at.clone(),
        endpoints,
        prefix,
        ca_file: path(&raw.ca_file),
        client_cert,
        username: raw.username.map(|u| u.value),
        password,
        max_age: duration(&raw.max_age, "max_age")?,
        lease_ttl: duration(&raw.lease_ttl, "lease_ttl")?,
    };
    Ok(crate::input::yaml::Located {
        value: settings,
        at,
    })
}

/// `http(s)://host:port` and nothing else: no credentials, path, query or fragment to leak or
/// misroute. Messages never quote the text, which may hold a password.
fn endpoint_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let authority = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| {
            "is not an http:// or https:// client URL such as https://etcd-0.example.org:2379"
                .to_owned()
        })?;
    if authority.contains('@') {
        return Err(
            "holds a user or password (not shown); give them as registry.username and password_env"
                .to_owned(),
        );
    }
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(
            "is not a client URL such as https://etcd-0.example.org:2379 (scheme, host and port only)"
                .to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// Segments of letters, digits, `-`, `_`, `.` separated by `/`; an optional leading `/`.
fn check_prefix(text: &str) -> Result<String, String> {
    let body = text.strip_prefix('/').unwrap_or(text);
    let ok = !body.is_empty()
        && body.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a key prefix: segments of letters, digits, '-', '_', '.' separated by single '/', without a trailing '/'"
        ))
    }
}

fn check_env_name(name: &str) -> Result<(), String> {
    let valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an environment variable name; give the name of the variable, never the secret"
        ))
    }
}

/// One whole number and a unit: `90s`, `30m`, `12h`, `7d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 90s, 30m, 12h or 7d");
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = text.split_at(unit_at);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| *s > 0 && *s <= 10 * 365 * 86_400)
    .ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_urls_and_prefixes() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "7", "d", "0s", "1w", "1.5h", "-1s", "1h30m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            endpoint_url("https://etcd:2379/").as_deref(),
            Ok("https://etcd:2379")
        );
        for bad in [
            "etcd:2379",
            "http://u:p@etcd:2379",
            "http://etcd:2379/v3",
            "http://",
        ] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
        assert!(check_prefix("/peergen/ics").is_ok());
        let dir = Path::new("/inv");
        assert_eq!(
            chain_source(dir, "../cr/chain.json"),
            Ok(ChainSource::File(PathBuf::from("/inv/../cr/chain.json")))
        );
        for ok in [
            "https://raw.githubusercontent.com/cosmos/chain-registry/master/testnets/pion/chain.json",
            "http://127.0.0.1:8080/chain.json",
            "http://[::1]:8080/chain.json",
            "http://localhost/chain.json",
        ] {
            assert_eq!(
                chain_source(dir, ok),
                Ok(ChainSource::Url(ok.to_owned())),
                "{ok}"
            );
        }
        for bad in [
            "http://mirror.example.org/chain.json",
            "http://127.0.0.1.example.org/chain.json",
            "https://u:SECRET@h.example.org/chain.json",
            "https://h.example.org/chain.json?token=SECRET",
            "https://h.example.org",
            "https:///chain.json",
            "ftp://h.example.org/chain.json",
            "https://h.example.org/chain\u{1b}[2J.json",
            "https://h.example.org/cha in.json",
        ] {
            let e = chain_source(dir, bad).unwrap_err();
            assert!(
                !e.contains("SECRET") && !e.contains("example"),
                "{bad}: {e}"
            );
        }
        for bad in ["", "/", "a/", "a//b", "a/../b", "a b", "a\nb"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
