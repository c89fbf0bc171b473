//! DNS zone files: building `dns/<zone>.zone` from the plan, with the serial carried over from the
//! previous output and every file read back and linted before it is returned.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::serial::{DateError, next_serial};
use super::text::{ParsedZone, lint, parse};
use crate::cosmos::dns::owners::{OwnerCollisions, SrvInstance, check_owner_collisions};
use crate::cosmos::inventory::dns::{DnsSettings, ZoneSettings};
use crate::cosmos::inventory::roles::SentryEndpoint;
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::peers::{Plan, Role};
use crate::input::address::Host;
use crate::output::previous::Previous;
use crate::output::tree::TreeError;

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
    #[error(transparent)]
    Date(#[from] DateError),
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
    previous: Option<&dyn Previous>,
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
                name: dns
                    .srv_query(&zone.name, &m.validator, &cp.slug, None)
                    .ok()?,
            })
        })
    })
}

fn read_previous(baseline: &dyn Previous, rel: &str) -> Result<Option<ParsedZone>, ZoneError> {
    let path = baseline.locate(rel);
    let bytes = match baseline.get(rel) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(TreeError::Io { path, source }) => {
            return Err(ZoneError::ReadPrevious { path, source });
        }
        Err(other) => {
            return Err(ZoneError::ReadPrevious {
                path,
                source: std::io::Error::other(other.to_string()),
            });
        }
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
    // Keyed by validator, consumer and node: the validator's owner (every public node) sorts
    // before the per-sentry owners.
    let mut srv: BTreeMap<(String, usize, Option<String>), Block> = BTreeMap::new();
    for (ci, cp) in plan.consumers.iter().enumerate() {
        for m in &cp.members {
            let Some(v) = inventory.validators.get(&m.validator) else {
                continue;
            };
            // DNS-sourced nodes publish their own records; every other public node (a validator's
            // only node, or each sentry) gets one SRV record under its validator's owner, and a
            // sentry one more under its own owner, which a DNS-sourced sentry looks up.
            let rank = match (&v.endpoint, &m.role) {
                (EndpointSource::Dns(_), _) => continue,
                (EndpointSource::Sentries { sentries, .. }, Role::Sentry(name)) => {
                    match sentries.iter().find(|s| &s.name == name) {
                        Some(s) if !matches!(s.endpoint, SentryEndpoint::Dns(_)) => s.srv,
                        _ => continue,
                    }
                }
                _ => v.srv,
            };
            if inventory.zone_for(v).is_none_or(|z| z.name != zone.name) {
                continue;
            }
            let owners = match &m.role {
                Role::Sentry(node) => dns.srv_owner(&v.name, &cp.slug).and_then(|o| {
                    Ok(vec![
                        (None, o),
                        (Some(node.clone()), dns.node_owner(node, &v.name, &cp.slug)?),
                    ])
                }),
                _ => dns.srv_owner(&v.name, &cp.slug).map(|o| vec![(None, o)]),
            };
            let owners = match owners {
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
                        zone.name, m.label(), cp.consumer_id, cp.chain_id, ip
                    ));
                    continue;
                }
            };
            for (node, owner) in owners {
                srv.entry((v.name.clone(), ci, node))
                    .or_insert(Block {
                        owner,
                        records: Vec::new(),
                    })
                    .records
                    .push((
                        "SRV",
                        format!(
                            "{} {} {} {target}",
                            rank.priority, rank.weight, m.endpoint.port
                        ),
                    ));
            }
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
