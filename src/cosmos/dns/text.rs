//! Zone text read back, as far as peergen writes it: records with their lines, peergen's own lint
//! (what `named-checkzone` lets through), and record diffs for plan reports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::cosmos::inventory::dns::{DnsName, check_service_name};

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
    pub(super) fn key(&self) -> String {
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

    pub(super) fn keys(&self) -> BTreeSet<String> {
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

    /// hickory's zone parser, an independent reader, sees the same records in every zone peergen
    /// wrote for the examples (the insta snapshots of the rendered trees).
    #[test]
    fn hickory_reads_the_same_records_from_generated_zones() {
        use hickory_proto::rr::RData;
        use hickory_proto::serialize::txt::Parser;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with("zone.snap") {
                continue;
            }
            let snap = std::fs::read_to_string(&path).unwrap();
            let text = snap.splitn(3, "---\n").nth(2).unwrap();
            let ours = parse(text).unwrap().keys();
            let (_, sets) = Parser::new(text, None, None).parse().unwrap();
            let theirs: BTreeSet<String> = sets
                .values()
                .flat_map(|s| s.records_without_rrsigs())
                .map(|r| {
                    let rdata = match &r.data {
                        RData::SOA(soa) => format!(
                            "{} {} - {} {} {} {}",
                            soa.mname, soa.rname, soa.refresh, soa.retry, soa.expire, soa.minimum
                        ),
                        other => other.to_string(),
                    };
                    format!("{} {} IN {} {}", r.name, r.ttl, r.record_type(), rdata)
                })
                .collect();
            assert_eq!(ours, theirs, "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 2, "no generated zone snapshots found");
    }
}
