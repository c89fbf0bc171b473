//! The inventory's `dns:` section and the DNS naming rules it obeys: zones, SOA/NS settings, the SRV
//! service labels, in-zone addresses and aliases, each parsed at load into a type that cannot break
//! zone-file syntax.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::cosmos::inventory::InventoryError;
use crate::input::address::Host;
use crate::input::yaml::Located;
use crate::input::yaml::{Origin, Spanned};

// ---------------------------------------------------------------- raw schema (serde only)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    service: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    default_zone: Option<Spanned<String>>,
    zones: Option<BTreeMap<String, Spanned<RawZone>>>,
    addresses: Option<BTreeMap<String, Spanned<Vec<String>>>>,
    aliases: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    ttl: Option<Spanned<Seconds>>,
    primary_ns: Option<Spanned<String>>,
    hostmaster: Option<Spanned<String>>,
    ns: Option<Spanned<Vec<String>>>,
    refresh: Option<Spanned<Seconds>>,
    retry: Option<Spanned<Seconds>>,
    expire: Option<Spanned<Seconds>>,
    negative_ttl: Option<Spanned<Seconds>>,
}

/// Any scalar, so a wrong value is reported with its field name rather than as a bare type error.
type Seconds = serde_json::Value;

// ---------------------------------------------------------------- validated types

/// A lowercase LDH host name (RFC 1123), stored without its trailing dot; labels ≤ 63 octets,
/// the whole name ≤ 253.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DnsName(String);

impl DnsName {
    pub(crate) fn parse(text: &str) -> Result<DnsName, String> {
        match Host::parse(text) {
            Ok(Host::Name(n)) => Ok(DnsName(n)),
            Ok(Host::Ip(ip)) => Err(format!("{ip} is an IP address, not a DNS name")),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute form with its trailing dot, as zone files need it.
    pub(crate) fn fqdn(&self) -> String {
        format!("{}.", self.0)
    }

    /// True when `self` is `zone` or a name below it.
    pub(crate) fn is_in(&self, zone: &DnsName) -> bool {
        self.0 == zone.0
            || self
                .0
                .strip_suffix(zone.0.as_str())
                .is_some_and(|head| head.ends_with('.'))
    }

    /// The name relative to `zone` (`@` for the apex); `None` when it lies outside.
    pub(crate) fn relative_to(&self, zone: &DnsName) -> Option<String> {
        if self.0 == zone.0 {
            return Some("@".to_owned());
        }
        let head = self.0.strip_suffix(zone.0.as_str())?;
        head.strip_suffix('.').map(str::to_owned)
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RFC 6335 §5.1 service name (`cosmos-p2p`), written into owners as `_cosmos-p2p`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceName(String);

impl ServiceName {
    pub(crate) fn parse(text: &str) -> Result<ServiceName, String> {
        let name = text.strip_prefix('_').unwrap_or(text);
        check_service_name(name).map(|()| ServiceName(name.to_ascii_lowercase()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 6335 §5.1: 1-15 letters, digits and hyphens, at least one letter, no leading, trailing or
/// doubled hyphen.
pub(crate) fn check_service_name(name: &str) -> Result<(), String> {
    let ok = (1..=15).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_alphabetic())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an RFC 6335 service name: 1-15 letters, digits and hyphens, at least one letter, no leading, trailing or doubled hyphen"
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub(crate) fn parse(text: &str) -> Result<Protocol, String> {
        match text.strip_prefix('_').unwrap_or(text) {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(format!(
                "{text:?} is not an SRV protocol; expected tcp or udp"
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A hostmaster mailbox `local@domain`, written as the SOA RNAME with the local part's dots escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mailbox {
    local: String,
    domain: DnsName,
}

impl Mailbox {
    pub(crate) fn parse(text: &str) -> Result<Mailbox, String> {
        let (local, domain) = text
            .split_once('@')
            .ok_or_else(|| format!("{text:?} is not a mailbox such as hostmaster@example.com"))?;
        let ok = (1..=63).contains(&local.len())
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !ok {
            return Err(format!(
                "{local:?} is not a usable mailbox local part: 1-63 letters, digits, '-', '_' and single inner dots"
            ));
        }
        let domain = DnsName::parse(domain).map_err(|e| format!("mailbox domain: {e}"))?;
        Ok(Mailbox {
            local: local.to_owned(),
            domain,
        })
    }

    /// RFC 1035 §3.3.13 RNAME: `first\.last.example.com.`.
    pub(crate) fn rname(&self) -> String {
        format!("{}.{}", self.local.replace('.', "\\."), self.domain.fqdn())
    }
}

/// SOA and NS settings of one zone.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ZoneSettings {
    pub(crate) name: DnsName,
    pub(crate) at: Origin,
    pub(crate) ttl: u32,
    pub(crate) primary_ns: DnsName,
    pub(crate) hostmaster: Mailbox,
    pub(crate) ns: Vec<DnsName>,
    pub(crate) refresh: u32,
    pub(crate) retry: u32,
    pub(crate) expire: u32,
    pub(crate) negative_ttl: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DnsSettings {
    pub(crate) service: ServiceName,
    pub(crate) protocol: Protocol,
    pub(crate) default_zone: Option<DnsName>,
    /// By zone name.
    pub(crate) zones: BTreeMap<DnsName, ZoneSettings>,
    /// In-zone host names and their A/AAAA addresses, sorted and free of duplicates.
    pub(crate) addresses: BTreeMap<DnsName, Located<Vec<IpAddr>>>,
    /// In-zone aliases (CNAME owner → target).
    pub(crate) aliases: BTreeMap<DnsName, Located<DnsName>>,
}

/// RFC 2181 §8: TTLs are 31-bit.
const MAX_TTL: u32 = 0x7fff_ffff;

fn invalid(at: &Origin, field: impl Into<String>, message: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        at: at.clone(),
        field: field.into(),
        message: message.into(),
    }
}

impl DnsSettings {
    /// The zone holding `name` (the longest matching zone), if any.
    pub(crate) fn zone_of(&self, name: &DnsName) -> Option<&ZoneSettings> {
        self.zones
            .values()
            .filter(|z| name.is_in(&z.name))
            .max_by_key(|z| z.name.as_str().len())
    }

    /// The owner label of one validator × consumer: `<validator>-<slug>` (the slug is the chain id,
    /// or `<chain_id>--<consumer_id>` when active consumers share a chain id).
    pub(crate) fn instance_label(validator: &str, slug: &str) -> Result<String, String> {
        let label = format!("{validator}-{slug}");
        let ok = label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.ends_with('-');
        if ok {
            Ok(label.to_ascii_lowercase())
        } else {
            Err(format!(
                "{label:?} cannot be a DNS label: it must be ≤ 63 letters, digits and hyphens (the chain id may hold no '.' or '_')"
            ))
        }
    }

    /// `_service._proto.<validator>-<slug>` relative to the zone.
    pub(crate) fn srv_owner(&self, validator: &str, slug: &str) -> Result<String, String> {
        Ok(format!(
            "_{}._{}.{}",
            self.service.as_str(),
            self.protocol.as_str(),
            Self::instance_label(validator, slug)?
        ))
    }

    /// `_service._proto.<node>.<validator>-<slug>`: the owner of one named public node (a sentry)
    /// alone, so a DNS-sourced sentry resolves to exactly its own record.
    pub(crate) fn node_owner(
        &self,
        node: &str,
        validator: &str,
        slug: &str,
    ) -> Result<String, String> {
        Ok(format!(
            "_{}._{}.{node}.{}",
            self.service.as_str(),
            self.protocol.as_str(),
            Self::instance_label(validator, slug)?
        ))
    }

    /// The absolute SRV name to query (without trailing dot): the validator's owner, or the
    /// owner of its public node `node`.
    pub(crate) fn srv_query(
        &self,
        zone: &DnsName,
        validator: &str,
        slug: &str,
        node: Option<&str>,
    ) -> Result<String, String> {
        let owner = match node {
            Some(node) => self.node_owner(node, validator, slug)?,
            None => self.srv_owner(validator, slug)?,
        };
        let name = format!("{owner}.{zone}");
        if name.len() > 253 {
            return Err(format!("{name:?} is longer than 253 octets"));
        }
        Ok(name)
    }
}

pub(crate) fn parse(
    file: &Arc<Path>,
    raw: Spanned<RawDns>,
) -> Result<Located<DnsSettings>, InventoryError> {
    let at = Origin::of(file, &raw);
    let raw = raw.value;
    let service = match raw.service {
        Some(s) => ServiceName::parse(&s.value)
            .map_err(|m| invalid(&Origin::of(file, &s), "dns.service", m))?,
        None => ServiceName("cosmos-p2p".to_owned()),
    };
    let protocol = match raw.protocol {
        Some(p) => Protocol::parse(&p.value)
            .map_err(|m| invalid(&Origin::of(file, &p), "dns.protocol", m))?,
        None => Protocol::Tcp,
    };
    let mut zones = BTreeMap::new();
    for (key, z) in raw.zones.unwrap_or_default() {
        let zat = Origin::of(file, &z);
        let field = |f: &str| format!("dns.zones.{key}.{f}");
        let name = DnsName::parse(&key)
            .map_err(|m| invalid(&zat, "dns.zones", format!("zone name: {m}")))?;
        let z = z.value;
        let timer = |f: &str, v: Option<Spanned<Seconds>>, default: u32| {
            let Some(v) = v else { return Ok(default) };
            v.value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= MAX_TTL)
                .ok_or_else(|| {
                    invalid(
                        &Origin::of(file, &v),
                        field(f),
                        format!(
                            "{} is not a whole number of seconds from 0 to {MAX_TTL} (RFC 2181)",
                            v.value
                        ),
                    )
                })
        };
        let ns = match z.ns {
            Some(list) => {
                let lat = Origin::of(file, &list);
                let mut names = Vec::new();
                for n in &list.value {
                    let n = DnsName::parse(n).map_err(|m| invalid(&lat, field("ns"), m))?;
                    if names.contains(&n) {
                        return Err(invalid(&lat, field("ns"), format!("{n} is listed twice")));
                    }
                    names.push(n);
                }
                names.sort();
                names
            }
            None => Vec::new(),
        };
        let Some(first_ns) = ns.first().cloned() else {
            return Err(invalid(
                &zat,
                field("ns"),
                "missing: a zone needs at least one name server",
            ));
        };
        let primary_ns = match z.primary_ns {
            Some(p) => DnsName::parse(&p.value)
                .map_err(|m| invalid(&Origin::of(file, &p), field("primary_ns"), m))?,
            None => first_ns,
        };
        let hostmaster = match z.hostmaster {
            Some(h) => Mailbox::parse(&h.value)
                .map_err(|m| invalid(&Origin::of(file, &h), field("hostmaster"), m))?,
            None => {
                return Err(invalid(
                    &zat,
                    field("hostmaster"),
                    "missing: the SOA needs a hostmaster mailbox such as hostmaster@example.com",
                ));
            }
        };
        let settings = ZoneSettings {
            ttl: timer("ttl", z.ttl, 3600)?,
            refresh: timer("refresh", z.refresh, 3600)?,
            retry: timer("retry", z.retry, 600)?,
            expire: timer("expire", z.expire, 604_800)?,
            negative_ttl: timer("negative_ttl", z.negative_ttl, 3600)?,
            name: name.clone(),
            at: zat.clone(),
            primary_ns,
            hostmaster,
            ns,
        };
        if zones.insert(name.clone(), settings).is_some() {
            return Err(invalid(
                &zat,
                "dns.zones",
                format!("zone {name} is listed twice"),
            ));
        }
    }
    let mut settings = DnsSettings {
        service,
        protocol,
        default_zone: None,
        zones,
        addresses: BTreeMap::new(),
        aliases: BTreeMap::new(),
    };
    if let Some(d) = raw.default_zone {
        let dat = Origin::of(file, &d);
        let name = DnsName::parse(&d.value).map_err(|m| invalid(&dat, "dns.default_zone", m))?;
        if !settings.zones.contains_key(&name) {
            return Err(invalid(
                &dat,
                "dns.default_zone",
                format!("{name} is not one of dns.zones"),
            ));
        }
        settings.default_zone = Some(name);
    }
    for (key, list) in raw.addresses.unwrap_or_default() {
        let aat = Origin::of(file, &list);
        let field = format!("dns.addresses.{key}");
        let name = DnsName::parse(&key)
            .map_err(|m| invalid(&aat, "dns.addresses", format!("host name: {m}")))?;
        if settings.zone_of(&name).is_none() {
            return Err(invalid(
                &aat,
                &field,
                format!(
                    "{name} is in none of dns.zones; addresses are published only for in-zone names"
                ),
            ));
        }
        let mut ips = Vec::new();
        for text in &list.value {
            let ip: IpAddr = text.trim().parse().map_err(|_| {
                invalid(
                    &aat,
                    &field,
                    format!("{text:?} is not an IPv4 or IPv6 address"),
                )
            })?;
            if ips.contains(&ip) {
                return Err(invalid(&aat, &field, format!("{ip} is listed twice")));
            }
            ips.push(ip);
        }
        if ips.is_empty() {
            return Err(invalid(&aat, &field, "lists no address"));
        }
        ips.sort();
        if settings
            .addresses
            .insert(
                name.clone(),
                Located {
                    value: ips,
                    at: aat.clone(),
                },
            )
            .is_some()
        {
            return Err(invalid(
                &aat,
                "dns.addresses",
                format!("{name} is listed twice"),
            ));
        }
    }
    for (key, target) in raw.aliases.unwrap_or_default() {
        let tat = Origin::of(file, &target);
        let field = format!("dns.aliases.{key}");
        let name = DnsName::parse(&key)
            .map_err(|m| invalid(&tat, "dns.aliases", format!("alias name: {m}")))?;
        let target = DnsName::parse(&target.value).map_err(|m| invalid(&tat, &field, m))?;
        if settings.zone_of(&name).is_none_or(|z| z.name == name) {
            return Err(invalid(
                &tat,
                &field,
                format!(
                    "{name} is not a name below one of dns.zones; a zone apex cannot be an alias"
                ),
            ));
        }
        if settings.addresses.contains_key(&name) {
            return Err(invalid(
                &tat,
                &field,
                format!("{name} also has dns.addresses; a CNAME owner may hold no other record"),
            ));
        }
        if settings
            .aliases
            .insert(
                name.clone(),
                Located {
                    value: target,
                    at: tat.clone(),
                },
            )
            .is_some()
        {
            return Err(invalid(
                &tat,
                "dns.aliases",
                format!("{name} is listed twice"),
            ));
        }
    }
    Ok(Located {
        value: settings,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_rfc_6335() {
        for ok in ["cosmos-p2p", "_cosmos-p2p", "x", "a1", "abcdefghijklmno"] {
            assert!(ServiceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "123",
            "abcdefghijklmnop",
            "a_b",
            "a b",
            "a;b",
            "a$b",
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mailbox_becomes_rname_with_escaped_dots() {
        assert_eq!(
            Mailbox::parse("first.last@Example.com").unwrap().rname(),
            "first\\.last.example.com."
        );
        for bad in [
            "nobody",
            "a b@x.com",
            "a;b@x.com",
            ".a@x.com",
            "a@x com",
            "a\"@x.com",
            "a@",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_relative_to_zones() {
        let zone = DnsName::parse("validators.zone").unwrap();
        let n = DnsName::parse("ns1.validators.zone.").unwrap();
        assert_eq!(n.relative_to(&zone).as_deref(), Some("ns1"));
        assert_eq!(zone.relative_to(&zone).as_deref(), Some("@"));
        assert!(
            DnsName::parse("xvalidators.zone")
                .unwrap()
                .relative_to(&zone)
                .is_none()
        );
        assert!(!DnsName::parse("xvalidators.zone").unwrap().is_in(&zone));
        assert!(DnsName::parse("10.0.0.1").is_err());
    }

    #[test]
    fn instance_labels_are_ldh() {
        assert_eq!(
            DnsSettings::instance_label("alice", "pion-1").unwrap(),
            "alice-pion-1"
        );
        assert!(DnsSettings::instance_label("alice", "a.b").is_err());
        assert!(DnsSettings::instance_label("alice", "a_b").is_err());
        assert!(DnsSettings::instance_label(&"a".repeat(60), "pion-1").is_err());
    }
}
