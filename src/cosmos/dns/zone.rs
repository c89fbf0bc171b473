//! DNS zone files: building `dns/<zone>.zone` from the plan, reading zone text back, our own lint
//! (what `named-checkzone` lets through), the SOA serial rule, and record diffs for plan reports.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::cosmos::inventory::dns::{
    DnsName, DnsSettings, OwnerCollisions, SrvInstance, ZoneSettings, check_owner_collisions,
    check_service_name,
};
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::peers::Plan;
use crate::input::address::Host;
use crate::output::tree::Baseline;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ZoneError {
    #[error("{path}: cannot read the previous zone to carry its serial over: {source}")]
    ReadPrevious {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: the previous zone cannot be read back ({message}); fix or remove it so the serial can move forward"
    )]
    Previous {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("zone {zone} fails peergen's zone lint:\n  {}", .problems.join("\n  "))]
    Lint { zone: String, problems: Vec<String> },
    #[error(
        "zone {zone}: serial {old} cannot move forward within 32 bits; reset it by hand (RFC 1982)"
    )]
    SerialExhausted { zone: String, old: u32 },
    #[error(transparent)]
    OwnerCollision(#[from] OwnerCollisions),
    #[error("SOURCE_DATE_EPOCH={0:?} is not a non-negative whole number of seconds")]
    SourceDateEpoch(String),
    #[error(
        "{origin} is {secs} seconds after 1970-01-01, past 4294-12-31: a YYYYMMDDnn serial holds dates up to then; use a Unix time from 0 to {MAX_EPOCH}"
    )]
    DateOutOfRange { origin: String, secs: u64 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub(crate) struct ZoneParseError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// One resource record as read from zone text: absolute lowercase owner with trailing dot, the
/// effective TTL, uppercase type, RDATA tokens as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rr {
    pub(crate) line: usize,
    pub(crate) owner: String,
    pub(crate) ttl: u32,
    pub(crate) rtype: String,
    pub(crate) rdata: Vec<String>,
}

impl Rr {
    /// `owner TTL IN TYPE RDATA`, the form diffs show.
    pub(crate) fn display(&self) -> String {
        format!(
            "{} {} IN {} {}",
            self.owner,
            self.ttl,
            self.rtype,
            self.rdata.join(" ")
        )
    }

    /// Identity for "are the records unchanged": the SOA serial does not count.
    fn key(&self) -> String {
        if self.rtype == "SOA" && self.rdata.len() == 7 {
            let mut rdata = self.rdata.clone();
            rdata[2] = "-".to_owned();
            format!("{} {} IN SOA {}", self.owner, self.ttl, rdata.join(" "))
        } else {
            self.display()
        }
    }
}

/// Zone text read back: its origin and records in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedZone {
    pub(crate) origin: Option<String>,
    pub(crate) records: Vec<Rr>,
}

impl ParsedZone {
    pub(crate) fn serial(&self) -> Option<u32> {
        self.records
            .iter()
            .find(|r| r.rtype == "SOA")
            .and_then(|r| r.rdata.get(2))
            .and_then(|s| s.parse().ok())
    }

    fn keys(&self) -> BTreeSet<String> {
        self.records.iter().map(Rr::key).collect()
    }
}

/// Reads RFC 1035 §5.1 master-file text as far as peergen writes it: `$ORIGIN`, `$TTL`, comments,
/// blank owners, `@`, relative names, parentheses. Quoted strings and `$INCLUDE` are refused.
pub(crate) fn parse(text: &str) -> Result<ParsedZone, ZoneParseError> {
    let err = |line: usize, message: String| ZoneParseError { line, message };
    let mut origin: Option<String> = None;
    let mut default_ttl: Option<u32> = None;
    let mut last_owner: Option<String> = None;
    let mut records = Vec::new();
    let mut pending: Option<(usize, bool, Vec<String>)> = None;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.contains('"') {
            return Err(err(n, "quoted strings are not supported".into()));
        }
        let content = raw.split(';').next().unwrap_or_default();
        let (start, blank_owner, mut tokens) = match pending.take() {
            Some(p) => p,
            None => (n, content.starts_with([' ', '\t']), Vec::new()),
        };
        for c in content.chars() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| err(n, "`)` without `(`".into()))?
                }
                _ => {}
            }
        }
        tokens.extend(
            content
                .replace(['(', ')'], " ")
                .split_whitespace()
                .map(str::to_owned),
        );
        if depth > 0 {
            pending = Some((start, blank_owner, tokens));
            continue;
        }
        if tokens.is_empty() {
            continue;
        }
        match tokens[0].as_str() {
            "$ORIGIN" => {
                let name = tokens
                    .get(1)
                    .ok_or_else(|| err(start, "$ORIGIN without a name".into()))?;
                origin = Some(absolute(name, origin.as_deref()).map_err(|m| err(start, m))?);
                continue;
            }
            "$TTL" => {
                let ttl = tokens
                    .get(1)
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| err(start, "$TTL needs a number of seconds".into()))?;
                default_ttl = Some(ttl);
                continue;
            }
            t if t.starts_with('$') => {
                return Err(err(start, format!("directive {t} is not supported")));
            }
            _ => {}
        }
        let mut rest = tokens.as_slice();
        let owner = if blank_owner {
            last_owner.clone().ok_or_else(|| {
                err(
                    start,
                    "a record with a blank owner comes before any owner".into(),
                )
            })?
        } else {
            let o = absolute(&rest[0], origin.as_deref()).map_err(|m| err(start, m))?;
            rest = &rest[1..];
            o
        };
        let mut ttl = None;
        while let Some(t) = rest.first() {
            if t.eq_ignore_ascii_case("IN") {
                rest = &rest[1..];
            } else if let Ok(v) = t.parse::<u32>() {
                ttl = Some(v);
                rest = &rest[1..];
            } else {
                break;
            }
        }
        let rtype = rest
            .first()
            .ok_or_else(|| err(start, "record without a type".into()))?
            .to_ascii_uppercase();
        let ttl = ttl
            .or(default_ttl)
            .ok_or_else(|| err(start, "record without a TTL and no $TTL before it".into()))?;
        last_owner = Some(owner.clone());
        records.push(Rr {
            line: start,
            owner,
            ttl,
            rtype,
            rdata: rest[1..].to_vec(),
        });
    }
    if let Some((line, _, _)) = pending {
        return Err(err(line, "unclosed parenthesis".into()));
    }
    Ok(ParsedZone { origin, records })
}

fn absolute(name: &str, origin: Option<&str>) -> Result<String, String> {
    if name == "@" {
        return origin
            .map(str::to_owned)
            .ok_or_else(|| "`@` before any $ORIGIN".to_owned());
    }
    if name.ends_with('.') {
        return Ok(name.to_ascii_lowercase());
    }
    let origin = origin.ok_or_else(|| format!("relative name {name:?} before any $ORIGIN"))?;
    Ok(format!("{}.{origin}", name.to_ascii_lowercase()))
}

/// Checks `named-checkzone` does not make (gitops.md §3.5): absolute, valid LDH names in RDATA,
/// label ≤ 63 and name ≤ 253 octets, RFC 6335 SRV owners, no SRV/NS target that is a CNAME here,
/// CNAME owners holding nothing else, in-zone targets with addresses, no duplicate records.
pub(crate) fn lint(zone: &ParsedZone) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |line: usize, m: String| problems.push(format!("line {line}: {m}"));
    let Some(origin) = zone.origin.as_deref() else {
        say(1, "no $ORIGIN".into());
        return problems;
    };
    let in_zone = |name: &str| name == origin || name.ends_with(&format!(".{origin}"));
    let mut by_owner: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &zone.records {
        by_owner.entry(&r.owner).or_default().insert(&r.rtype);
    }
    let has = |name: &str, t: &str| by_owner.get(name).is_some_and(|ts| ts.contains(t));
    let mut seen = BTreeSet::new();
    let soas = zone.records.iter().filter(|r| r.rtype == "SOA").count();
    if soas != 1 {
        say(1, format!("{soas} SOA records; a zone has exactly one"));
    }
    for r in &zone.records {
        let l = r.line;
        if !seen.insert(r.display()) {
            say(l, format!("duplicate record {}", r.display()));
        }
        if let Err(m) = check_owner(&r.owner, origin, &r.rtype) {
            say(l, m);
        }
        let target = |i: usize| r.rdata.get(i).map(String::as_str).unwrap_or_default();
        let host_target = |name: &str, what: &str| -> Result<(), String> {
            let Some(bare) = name.strip_suffix('.') else {
                return Err(format!(
                    "{what} {name:?} is relative; it would silently become {name}.{origin} (write absolute names)"
                ));
            };
            DnsName::parse(bare).map_err(|e| format!("{what} {name:?}: {e}"))?;
            Ok(())
        };
        let check = match (r.rtype.as_str(), r.rdata.len()) {
            ("SOA", 7) => host_target(target(0), "SOA MNAME").and_then(|()| {
                if !target(1).ends_with('.') {
                    return Err(format!("SOA RNAME {:?} is relative", target(1)));
                }
                r.rdata[2..].iter().try_for_each(|n| {
                    n.parse::<u32>()
                        .map(drop)
                        .map_err(|_| format!("SOA field {n:?} is not a 32-bit number"))
                })
            }),
            ("NS", 1) => host_target(target(0), "NS target")
                .and_then(|()| needs_address(target(0), &in_zone, &has, "NS")),
            ("CNAME", 1) => host_target(target(0), "CNAME target").and_then(|()| {
                if by_owner
                    .get(r.owner.as_str())
                    .is_some_and(|ts| ts.len() > 1)
                {
                    Err(format!(
                        "{} is a CNAME and holds other records too (RFC 1034 §3.6.2)",
                        r.owner
                    ))
                } else {
                    Ok(())
                }
            }),
            ("SRV", 4) => check_srv(r)
                .and_then(|()| host_target(target(3), "SRV target"))
                .and_then(|()| needs_address(target(3), &in_zone, &has, "SRV")),
            ("A", 1) => target(0)
                .parse::<Ipv4Addr>()
                .map(drop)
                .map_err(|_| format!("A {:?} is not an IPv4 address", target(0))),
            ("AAAA", 1) => target(0)
                .parse::<Ipv6Addr>()
                .map(drop)
                .map_err(|_| format!("AAAA {:?} is not an IPv6 address", target(0))),
            ("SOA" | "NS" | "CNAME" | "SRV" | "A" | "AAAA", n) => {
                Err(format!("{} record with {n} RDATA fields", r.rtype))
            }
            (t, _) => Err(format!(
                "record type {t} is not one peergen writes (SOA, NS, SRV, A, AAAA, CNAME)"
            )),
        };
        if let Err(m) = check {
            say(l, m);
        }
    }
    problems
}

fn check_owner(owner: &str, origin: &str, rtype: &str) -> Result<(), String> {
    let bare = owner.strip_suffix('.').unwrap_or(owner);
    if bare.len() > 253 {
        return Err(format!("owner {owner} is longer than 253 octets"));
    }
    if !(owner == origin || owner.ends_with(&format!(".{origin}"))) {
        return Err(format!("owner {owner} lies outside the zone {origin}"));
    }
    let mut labels: Vec<&str> = bare.split('.').collect();
    if rtype == "SRV" {
        let (Some(service), Some(proto)) = (labels.first(), labels.get(1)) else {
            return Err(format!("SRV owner {owner} is not _service._proto.name"));
        };
        let service = service.strip_prefix('_').ok_or_else(|| {
            format!("SRV owner {owner}: service label {service:?} lacks its leading '_'")
        })?;
        check_service_name(service).map_err(|e| format!("SRV owner {owner}: {e}"))?;
        if !matches!(*proto, "_tcp" | "_udp") {
            return Err(format!(
                "SRV owner {owner}: protocol label {proto:?} is not _tcp or _udp"
            ));
        }
        labels.drain(..2);
    }
    let host = labels.join(".");
    DnsName::parse(&host)
        .map(drop)
        .map_err(|e| format!("owner {owner}: {e}"))
}

fn check_srv(r: &Rr) -> Result<(), String> {
    for (i, what) in ["priority", "weight", "port"].iter().enumerate() {
        r.rdata[i]
            .parse::<u16>()
            .map_err(|_| format!("SRV {what} {:?} is not a 16-bit number", r.rdata[i]))?;
    }
    if r.rdata[2] == "0" {
        return Err("SRV port 0".into());
    }
    if r.rdata[3] == "." {
        return Err("SRV target `.` (service not available) is never generated".into());
    }
    Ok(())
}

fn needs_address(
    target: &str,
    in_zone: &dyn Fn(&str) -> bool,
    has: &dyn Fn(&str, &str) -> bool,
    what: &str,
) -> Result<(), String> {
    if has(target, "CNAME") {
        return Err(format!(
            "{what} target {target} is a CNAME in this zone; RFC 2782/2181 forbid aliases as targets"
        ));
    }
    if in_zone(target) && !has(target, "A") && !has(target, "AAAA") {
        return Err(format!(
            "{what} target {target} is inside the zone but has no A/AAAA record: add it to dns.addresses"
        ));
    }
    Ok(())
}

/// Records added and removed between two zone texts and the serial change, for plan reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ZoneDiff {
    /// `owner TTL IN TYPE RDATA` lines, sorted.
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
    pub(crate) serial_old: Option<u32>,
    pub(crate) serial_new: Option<u32>,
}

/// Compares two zone texts (an empty `old` means a new zone). A change only to the SOA serial shows
/// as a serial change, not as a removed and added SOA record.
pub(crate) fn diff(old: &str, new: &str) -> Result<ZoneDiff, ZoneParseError> {
    let (old, new) = (parse(old)?, parse(new)?);
    let (old_keys, new_keys) = (old.keys(), new.keys());
    let lines = |z: &ParsedZone, other: &BTreeSet<String>| -> Vec<String> {
        let set: BTreeSet<String> = z
            .records
            .iter()
            .filter(|r| !other.contains(&r.key()))
            .map(Rr::display)
            .collect();
        set.into_iter().collect()
    };
    Ok(ZoneDiff {
        added: lines(&new, &old_keys),
        removed: lines(&old, &new_keys),
        serial_old: old.serial(),
        serial_new: new.serial(),
    })
}

/// The serial rule (DNSControl's, gitops.md §3.5): unchanged records keep the old serial;
/// otherwise `max(old + 1, YYYYMMDD00)`. Never backwards.
pub(crate) fn next_serial(old: Option<u32>, unchanged: bool, today: u32) -> Option<u32> {
    // An unchanged zone keeps its serial whatever the date, so the floor is only computed for
    // changed records: a bad date must never block (or be blamed for) a no-op render.
    match old {
        Some(old) if unchanged => Some(old),
        Some(old) => Some(old.checked_add(1)?.max(today.checked_mul(100)?)),
        None => today.checked_mul(100),
    }
}

/// The last second (4294-12-31 23:59:59 UTC) whose `YYYYMMDD99` still fits the 32-bit serial.
pub(crate) const MAX_EPOCH: u64 = 73_369_929_599;

/// Today as `YYYYMMDD` (UTC), from `SOURCE_DATE_EPOCH` when set so builds are reproducible.
pub(crate) fn today() -> Result<u32, ZoneError> {
    let (origin, secs) = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => {
            let secs = v
                .trim()
                .parse::<u64>()
                .map_err(|_| ZoneError::SourceDateEpoch(v.clone()))?;
            (format!("SOURCE_DATE_EPOCH={v:?}"), secs)
        }
        Err(_) => (
            "the system clock".to_owned(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
    };
    date_of(&origin, secs)
}

/// `YYYYMMDD` of `secs`, refused past [`MAX_EPOCH`] rather than producing a date whose serial
/// floor overflows and surfaces later as a misleading "serial cannot move forward".
fn date_of(origin: &str, secs: u64) -> Result<u32, ZoneError> {
    if secs > MAX_EPOCH {
        return Err(ZoneError::DateOutOfRange {
            origin: origin.to_owned(),
            secs,
        });
    }
    Ok(civil_date(secs / 86_400))
}

/// Days since 1970-01-01 → `YYYYMMDD`.
fn civil_date(days: u64) -> u32 {
    let (year, month, day) = crate::cosmos::date::civil_from_days(days);
    u32::try_from(year * 10_000 + month * 100 + day).unwrap_or(u32::MAX)
}

/// One owner's records, written as a block with the owner on its first line only.
struct Block {
    owner: String,
    records: Vec<(&'static str, String)>,
}

/// Rendered zones as `(path, text)` and warnings about endpoints that cannot be published.
#[derive(Debug, Default)]
pub(crate) struct ZoneFiles {
    pub(crate) files: Vec<(String, String)>,
    pub(crate) warnings: Vec<String>,
}

/// The zone files the inventory's `dns:` section asks for, as `(path, text)`, plus warnings for
/// endpoints that cannot be published. `previous` is the last output, whose `dns/<zone>.zone`
/// carries the serial over.
pub(crate) fn build(
    plan: &Plan,
    inventory: &Inventory,
    previous: Option<&dyn Baseline>,
    today: u32,
) -> Result<ZoneFiles, ZoneError> {
    let Some(dns) = inventory.dns.as_ref().map(|d| &d.value) else {
        return Ok(ZoneFiles::default());
    };
    check_srv_names(plan, inventory)?;
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for zone in dns.zones.values() {
        let path = format!("dns/{}.zone", zone.name);
        let mut problems = Vec::new();
        let blocks = blocks(plan, inventory, dns, zone, &mut problems, &mut warnings);
        let fail = |problems: Vec<String>| ZoneError::Lint {
            zone: zone.name.to_string(),
            problems,
        };
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let draft = parse(&format_zone(zone, &blocks, 0)).map_err(|e| fail(vec![e.to_string()]))?;
        let old = match previous {
            Some(baseline) => read_previous(baseline, &path)?,
            None => None,
        };
        let old_serial = old.as_ref().and_then(ParsedZone::serial);
        let unchanged = old.as_ref().is_some_and(|o| o.keys() == draft.keys());
        let serial = next_serial(old_serial, unchanged, today).ok_or_else(|| {
            ZoneError::SerialExhausted {
                zone: zone.name.to_string(),
                old: old_serial.unwrap_or_default(),
            }
        })?;
        let text = format_zone(zone, &blocks, serial);
        let parsed = parse(&text).map_err(|e| fail(vec![e.to_string()]))?;
        let problems = lint(&parsed);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        files.push((path, text));
    }
    Ok(ZoneFiles { files, warnings })
}

/// Refuses two planned validator × consumer pairs on one SRV name (see [`check_owner_collisions`]);
/// `build` runs it, and `check` and `render --self`, which build no zone, run it on their own.
pub(crate) fn check_srv_names(plan: &Plan, inventory: &Inventory) -> Result<(), OwnerCollisions> {
    match inventory.dns.as_ref() {
        Some(dns) => check_owner_collisions(srv_instances(plan, inventory, &dns.value)),
        None => Ok(()),
    }
}

/// Every planned validator × consumer with a zone and the SRV name it owns there, whether it
/// publishes (`consumer_template`) or looks the name up (`endpoint_source: dns`): a lookup that
/// shares a published owner would get another validator's endpoint. Names that cannot be built
/// are left to the SRV lint and the plan, which report them with their cause.
fn srv_instances<'a>(
    plan: &'a Plan,
    inventory: &'a Inventory,
    dns: &'a DnsSettings,
) -> impl Iterator<Item = SrvInstance> + 'a {
    plan.consumers.iter().flat_map(move |cp| {
        cp.members.iter().filter_map(move |m| {
            let zone = inventory.zone_for(inventory.validators.get(&m.validator)?)?;
            Some(SrvInstance {
                validator: m.validator.clone(),
                consumer_id: cp.consumer_id.clone(),
                chain_id: cp.chain_id.clone(),
                name: dns.srv_query(&zone.name, &m.validator, &cp.slug).ok()?,
            })
        })
    })
}

fn read_previous(baseline: &dyn Baseline, rel: &str) -> Result<Option<ParsedZone>, ZoneError> {
    let path = baseline.locate(rel);
    let bytes = match baseline.get(rel) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(source) => return Err(ZoneError::ReadPrevious { path, source }),
    };
    let text = String::from_utf8(bytes).map_err(|_| ZoneError::ReadPrevious {
        path: path.clone(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ),
    })?;
    let parsed = parse(&text).map_err(|e| ZoneError::Previous {
        path: path.clone(),
        line: e.line,
        message: e.message,
    })?;
    if parsed.serial().is_none() {
        return Err(ZoneError::Previous {
            path,
            line: 1,
            message: "no SOA serial".into(),
        });
    }
    Ok(Some(parsed))
}

fn blocks(
    plan: &Plan,
    inventory: &Inventory,
    dns: &DnsSettings,
    zone: &ZoneSettings,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<Vec<Block>> {
    let mut apex = Block {
        owner: "@".into(),
        records: zone.ns.iter().map(|n| ("NS", n.fqdn())).collect(),
    };
    let mut srv: BTreeMap<(String, usize), Block> = BTreeMap::new();
    for (ci, cp) in plan.consumers.iter().enumerate() {
        for m in &cp.members {
            let Some(v) = inventory.validators.get(&m.validator) else {
                continue;
            };
            if !matches!(v.endpoint, EndpointSource::Template(_))
                || inventory.zone_for(v).is_none_or(|z| z.name != zone.name)
            {
                continue;
            }
            let owner = match dns.srv_owner(&v.name, &cp.slug) {
                Ok(o) => o,
                Err(e) => {
                    problems.push(format!(
                        "validator {} consumer {} ({}): {e}",
                        v.name, cp.consumer_id, cp.chain_id
                    ));
                    continue;
                }
            };
            let target = match &m.endpoint.host {
                Host::Name(n) => format!("{n}."),
                Host::Ip(ip) => {
                    warnings.push(format!(
                        "zone {}: validator {} serves consumer {} ({}) at IP address {}; an SRV target must be a host name, so it gets no SRV record (give its consumer_template a host name)",
                        zone.name, v.name, cp.consumer_id, cp.chain_id, ip
                    ));
                    continue;
                }
            };
            srv.insert(
                (v.name.clone(), ci),
                Block {
                    owner,
                    records: vec![("SRV", format!("0 0 {} {target}", m.endpoint.port))],
                },
            );
        }
    }
    let mut hosts: BTreeMap<String, Block> = BTreeMap::new();
    for (name, ips) in &dns.addresses {
        if dns.zone_of(name).is_none_or(|z| z.name != zone.name) {
            continue;
        }
        let records = ips
            .value
            .iter()
            .map(|ip| (if ip.is_ipv4() { "A" } else { "AAAA" }, ip.to_string()))
            .collect();
        let owner = name.relative_to(&zone.name).unwrap_or_else(|| name.fqdn());
        if owner == "@" {
            apex.records.extend(records);
        } else {
            hosts.insert(owner.clone(), Block { owner, records });
        }
    }
    for (name, target) in &dns.aliases {
        if dns.zone_of(name).is_none_or(|z| z.name != zone.name) {
            continue;
        }
        let owner = name.relative_to(&zone.name).unwrap_or_else(|| name.fqdn());
        hosts.insert(
            owner.clone(),
            Block {
                owner,
                records: vec![("CNAME", target.value.fqdn())],
            },
        );
    }
    [
        vec![apex],
        srv.into_values().collect(),
        hosts.into_values().collect(),
    ]
    .into_iter()
    .filter(|section| !section.is_empty())
    .collect()
}

/// Sections (apex, SRV, hosts) are separated by a blank line; each owner is written once.
fn format_zone(zone: &ZoneSettings, sections: &[Vec<Block>], serial: u32) -> String {
    let width = sections
        .iter()
        .flatten()
        .map(|b| b.owner.len())
        .max()
        .unwrap_or(1);
    let mut text = String::new();
    let _ = writeln!(text, "$ORIGIN {}", zone.name.fqdn());
    let _ = writeln!(text, "$TTL {}", zone.ttl);
    let _ = writeln!(
        text,
        "{:width$}  IN {:5}  {} {} {serial} {} {} {} {}",
        "@",
        "SOA",
        zone.primary_ns.fqdn(),
        zone.hostmaster.rname(),
        zone.refresh,
        zone.retry,
        zone.expire,
        zone.negative_ttl
    );
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        for b in section {
            for (j, (rtype, rdata)) in b.records.iter().enumerate() {
                // The apex owner was written on the SOA line.
                let owner = if j == 0 && b.owner != "@" {
                    b.owner.as_str()
                } else {
                    ""
                };
                let _ = writeln!(text, "{owner:width$}  IN {rtype:5}  {rdata}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "$ORIGIN example.zone.\n$TTL 300\n@ IN SOA ns1.example.zone. host\\.master.example.zone. ( 5 3600\n 600 604800 3600 ) ; timers\n  IN NS ns1\nns1 IN A 192.0.2.1\n_cosmos-p2p._tcp.alice-pion-1 60 IN SRV 0 0 26656 alice.example.com.\n";

    #[test]
    fn parses_what_it_writes_and_more() {
        let z = parse(ZONE).unwrap();
        assert_eq!(z.serial(), Some(5));
        assert_eq!(z.records.len(), 4);
        assert_eq!(z.records[1].display(), "example.zone. 300 IN NS ns1");
        assert_eq!(z.records[2].owner, "ns1.example.zone.");
        assert_eq!(z.records[3].ttl, 60);
        assert!(parse("$INCLUDE x\n").is_err());
        assert!(parse("a IN TXT \"x; y\"\n").is_err());
        assert!(parse("$ORIGIN x.\n@ IN SOA ( a\n").is_err());
    }

    #[test]
    fn lint_catches_what_named_checkzone_lets_through() {
        let problems = lint(&parse(ZONE).unwrap());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("NS target \"ns1\" is relative"),
            "{problems:?}"
        );
        let bad = "$ORIGIN z.\n$TTL 1\n@ IN SOA ns.z. h.z. 1 1 1 1 1\n IN NS ns.z.\nns IN A 192.0.2.1\n\
                   _cosmos--p2p._tcp.a IN SRV 0 0 1 t.z.\n_x._tcp.b IN SRV 0 0 1 c.z.\nc IN CNAME d.example.\nc IN A 192.0.2.2\n\
                   _x._tcp.e IN SRV 0 0 1 missing.z.\n_x._tcp.e IN SRV 0 0 1 missing.z.\n_x._tcp.f IN SRV 0 0 1 out.example\n";
        let problems = lint(&parse(bad).unwrap()).join("\n");
        for needle in [
            "not an RFC 6335 service name",
            "t.z. is inside the zone but has no A/AAAA",
            "c.z. is a CNAME in this zone",
            "is a CNAME and holds other records",
            "duplicate record",
            "\"out.example\" is relative",
        ] {
            assert!(problems.contains(needle), "{needle}: {problems}");
        }
        let long = format!(
            "$ORIGIN z.\n$TTL 1\n@ IN SOA ns.example. h.z. 1 1 1 1 1\n IN NS ns.example.\n{} IN A 192.0.2.1\n",
            "a".repeat(64)
        );
        assert!(
            lint(&parse(&long).unwrap())
                .join("")
                .contains("longer than 63")
        );
    }

    #[test]
    fn serial_keeps_bumps_and_never_goes_back() {
        assert_eq!(next_serial(None, false, 20261121), Some(2026112100));
        assert_eq!(
            next_serial(Some(2026112100), true, 20261122),
            Some(2026112100)
        );
        assert_eq!(
            next_serial(Some(2026112100), false, 20261121),
            Some(2026112101)
        );
        assert_eq!(
            next_serial(Some(2026112105), false, 20261122),
            Some(2026112200)
        );
        assert_eq!(
            next_serial(Some(2030010100), false, 20261122),
            Some(2030010101)
        );
        assert_eq!(next_serial(Some(u32::MAX), false, 20261122), None);
    }

    #[test]
    fn unchanged_zone_keeps_its_serial_whatever_the_date() {
        assert_eq!(
            next_serial(Some(2025112100), true, u32::MAX),
            Some(2025112100)
        );
        assert_eq!(next_serial(Some(2025112100), false, u32::MAX), None);
    }

    #[test]
    fn dates_are_bounded_by_what_a_serial_holds() {
        assert_eq!(date_of("x", 0).unwrap(), 19700101);
        let last = date_of("x", MAX_EPOCH).unwrap();
        assert_eq!(last, 42941231);
        assert!(u64::from(last) * 100 + 99 <= u64::from(u32::MAX));
        // One second later is the next day, whose serial floor would no longer fit.
        assert_eq!(civil_date((MAX_EPOCH + 1) / 86_400), 42950101);
        let e = date_of("SOURCE_DATE_EPOCH=\"99999999999999\"", 99_999_999_999_999)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SOURCE_DATE_EPOCH=\"99999999999999\"")
                && e.contains("from 0 to 73369929599"),
            "{e}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), 19700101);
        assert_eq!(civil_date(20_413), 20251121);
        assert_eq!(civil_date(11_016), 20000229);
    }

    #[test]
    fn diff_reports_records_and_serial() {
        let new = ZONE.replace("( 5", "( 6").replace("26656", "26657");
        let d = diff(ZONE, &new).unwrap();
        assert_eq!(d.serial_old, Some(5));
        assert_eq!(d.serial_new, Some(6));
        assert_eq!(
            d.removed,
            vec![
                "_cosmos-p2p._tcp.alice-pion-1.example.zone. 60 IN SRV 0 0 26656 alice.example.com."
            ]
        );
        assert_eq!(
            d.added,
            vec![
                "_cosmos-p2p._tcp.alice-pion-1.example.zone. 60 IN SRV 0 0 26657 alice.example.com."
            ]
        );
        let created = diff("", ZONE).unwrap();
        assert_eq!((created.added.len(), created.serial_old), (4, None));
        let same = diff(ZONE, ZONE).unwrap();
        assert!(same.added.is_empty() && same.removed.is_empty());
        assert_eq!(same.serial_old, same.serial_new);
    }
}
