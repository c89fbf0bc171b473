//! What changed between two provider-state snapshots, and whether a change looks like a provider
//! or network fault (an emptied bonded set, a consumer losing most of its validators).
//!
//! Monikers are free text from the chain and are always shown with `{:?}`, so control characters
//! (ANSI escapes, carriage returns) are escaped instead of acting on a terminal or CI log.

use std::collections::{BTreeMap, BTreeSet};

use crate::cosmos::state::{BondedValidator, Consumer, ProviderState};

fn consumer_label(c: &Consumer) -> String {
    format!("consumer {} ({})", c.consumer_id, c.chain_id)
}

/// Human-readable differences between the previous and the new snapshot, in a stable order.
/// Height and fetch time are not differences: they move on every fetch.
pub(crate) fn changes(prev: Option<&ProviderState>, new: &ProviderState) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(prev) = prev else {
        lines.push(format!(
            "new snapshot: {} bonded validators, {} consumers",
            new.bonded_validators.len(),
            new.consumers.len()
        ));
        return lines;
    };
    if prev.provider.chain_id != new.provider.chain_id {
        lines.push(format!(
            "provider chain id: {} -> {}",
            prev.provider.chain_id, new.provider.chain_id
        ));
    }
    if prev.provider.ics_api != new.provider.ics_api {
        lines.push(format!(
            "ICS API: {} -> {}",
            prev.provider.ics_api, new.provider.ics_api
        ));
    }
    let old: BTreeMap<&str, &BondedValidator> = prev
        .bonded_validators
        .iter()
        .map(|v| (v.operator_address.as_str(), v))
        .collect();
    let now: BTreeMap<&str, &BondedValidator> = new
        .bonded_validators
        .iter()
        .map(|v| (v.operator_address.as_str(), v))
        .collect();
    let mut retokened = 0;
    for (op, v) in &now {
        match old.get(op) {
            None => lines.push(format!("bonded validator added: {op} ({:?})", v.moniker)),
            Some(o) => {
                if o.moniker != v.moniker {
                    lines.push(format!(
                        "bonded validator {op}: moniker {:?} -> {:?}",
                        o.moniker, v.moniker
                    ));
                }
                if o.consensus_pubkey != v.consensus_pubkey {
                    lines.push(format!("bonded validator {op}: consensus key changed"));
                }
                if o.tokens != v.tokens {
                    retokened += 1;
                }
            }
        }
    }
    for (op, v) in &old {
        if !now.contains_key(op) {
            lines.push(format!("bonded validator removed: {op} ({:?})", v.moniker));
        }
    }
    if retokened > 0 {
        lines.push(format!("bonded tokens changed for {retokened} validators"));
    }
    for c in &new.consumers {
        let label = consumer_label(c);
        let Some(o) = prev.consumer(&c.consumer_id) else {
            lines.push(format!(
                "{label} added: {}, {} validators",
                c.phase.as_str(),
                c.validators.len()
            ));
            continue;
        };
        if o.chain_id != c.chain_id {
            lines.push(format!("{label}: chain id was {}", o.chain_id));
        }
        if o.phase != c.phase {
            lines.push(format!(
                "{label}: phase {} -> {}",
                o.phase.as_str(),
                c.phase.as_str()
            ));
        }
        if o.top_n != c.top_n {
            lines.push(format!("{label}: top_n {} -> {}", o.top_n, c.top_n));
        }
        let was: BTreeSet<&str> = o
            .validators
            .iter()
            .map(|v| v.operator_address.as_str())
            .collect();
        let is: BTreeSet<&str> = c
            .validators
            .iter()
            .map(|v| v.operator_address.as_str())
            .collect();
        for v in &c.validators {
            if !was.contains(v.operator_address.as_str()) {
                lines.push(format!(
                    "{label}: validator added: {} ({:?})",
                    v.operator_address, v.moniker
                ));
            }
        }
        for v in &o.validators {
            if !is.contains(v.operator_address.as_str()) {
                lines.push(format!(
                    "{label}: validator removed: {} ({:?})",
                    v.operator_address, v.moniker
                ));
            }
        }
        if o.opted_in != c.opted_in {
            let was: BTreeSet<&String> = o.opted_in.iter().collect();
            let is: BTreeSet<&String> = c.opted_in.iter().collect();
            lines.push(format!(
                "{label}: opted in +{} -{}",
                is.difference(&was).count(),
                was.difference(&is).count()
            ));
        }
    }
    for o in &prev.consumers {
        if new.consumer(&o.consumer_id).is_none() {
            lines.push(format!(
                "{} removed (was {}, {} validators)",
                consumer_label(o),
                o.phase.as_str(),
                o.validators.len()
            ));
        }
    }
    registry_changes(prev, new, &mut lines);
    seed_changes(prev, new, &mut lines);
    // Locked addresses become allowlist entries: every change is worth a reviewer's look.
    let locked = |s: &ProviderState| -> BTreeMap<String, Vec<String>> {
        s.resolved_addresses
            .iter()
            .map(|r| {
                let addresses = r.addresses.iter().map(ToString::to_string).collect();
                (r.host.to_string(), addresses)
            })
            .collect()
    };
    let (was, is) = (locked(prev), locked(new));
    for host in was.keys().chain(is.keys()).collect::<BTreeSet<_>>() {
        match (was.get(host), is.get(host)) {
            (Some(a), Some(b)) if a != b => {
                lines.push(format!("host {host}: {} -> {}", a.join(", "), b.join(", ")))
            }
            (None, Some(b)) => lines.push(format!("host {host}: locked at {}", b.join(", "))),
            (Some(a), None) => lines.push(format!(
                "host {host}: no longer locked (was {})",
                a.join(", ")
            )),
            _ => {}
        }
    }
    lines
}

/// chain-registry seeds added and removed, per consumer: each becomes a `[p2p] seeds` entry.
fn seed_changes(prev: &ProviderState, new: &ProviderState, lines: &mut Vec<String>) {
    let list = |s: &ProviderState| -> BTreeSet<(String, String)> {
        s.chain_registry
            .iter()
            .flat_map(|c| {
                c.seeds.iter().flatten().map(|seed| {
                    (
                        c.consumer_id.clone(),
                        format!("{}@{}", seed.node_id, seed.address),
                    )
                })
            })
            .collect()
    };
    let (was, is) = (list(prev), list(new));
    for (c, seed) in is.difference(&was) {
        lines.push(format!("chain-registry seed on consumer {c} added: {seed}"));
    }
    for (c, seed) in was.difference(&is) {
        lines.push(format!(
            "chain-registry seed on consumer {c} removed: {seed}"
        ));
    }
}

/// Registry entries added, changed and removed, each named by validator, consumer and node.
fn registry_changes(prev: &ProviderState, new: &ProviderState, lines: &mut Vec<String>) {
    type Entries<'a> = BTreeMap<(&'a str, &'a str, &'a str), String>;
    let list = |s: &ProviderState| -> Vec<((String, String, String), String)> {
        s.registry
            .iter()
            .flat_map(|r| &r.entries)
            .map(|e| {
                (
                    (e.validator.clone(), e.consumer_id.clone(), e.node.clone()),
                    format!("{}@{}", e.node_id, e.address),
                )
            })
            .collect()
    };
    let (was, is) = (list(prev), list(new));
    let was: Entries<'_> = was
        .iter()
        .map(|((v, c, n), p)| ((v.as_str(), c.as_str(), n.as_str()), p.clone()))
        .collect();
    let is: Entries<'_> = is
        .iter()
        .map(|((v, c, n), p)| ((v.as_str(), c.as_str(), n.as_str()), p.clone()))
        .collect();
    for ((v, c, n), peer) in &is {
        match was.get(&(*v, *c, *n)) {
            None => lines.push(format!("registry: {v}/{n} on consumer {c} added: {peer}")),
            Some(old) if old != peer => lines.push(format!(
                "registry: {v}/{n} on consumer {c}: {old} -> {peer}"
            )),
            Some(_) => {}
        }
    }
    for ((v, c, n), peer) in &was {
        if !is.contains_key(&(*v, *c, *n)) {
            lines.push(format!(
                "registry: {v}/{n} on consumer {c} removed (was {peer})"
            ));
        }
    }
}

/// Reasons the new state looks like a provider or network fault rather than a real change.
pub(crate) fn safety_violations(
    prev: Option<&ProviderState>,
    new: &ProviderState,
    max_drop_percent: u8,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if new.bonded_validators.is_empty() {
        reasons.push(format!(
            "the bonded validator set would be empty (was {})",
            prev.map_or(0, |p| p.bonded_validators.len())
        ));
    }
    let Some(prev) = prev else { return reasons };
    if prev.provider.chain_id != new.provider.chain_id {
        reasons.push(format!(
            "the snapshot describes provider {}, not {}",
            prev.provider.chain_id, new.provider.chain_id
        ));
    }
    for o in &prev.consumers {
        if !o.phase.is_active() || o.validators.is_empty() {
            continue;
        }
        let lost = match new.consumer(&o.consumer_id) {
            // The provider stopping a consumer is a decision, not a fault.
            Some(c) if !c.phase.is_active() => continue,
            Some(c) => {
                let is: BTreeSet<&str> = c
                    .validators
                    .iter()
                    .map(|v| v.operator_address.as_str())
                    .collect();
                o.validators
                    .iter()
                    .filter(|v| !is.contains(v.operator_address.as_str()))
                    .count()
            }
            None => o.validators.len(),
        };
        let total = o.validators.len();
        if lost * 100 > usize::from(max_drop_percent) * total {
            reasons.push(format!(
                "{} would lose {lost} of its {total} validators ({}%, limit {max_drop_percent}%)",
                consumer_label(o),
                lost * 100 / total
            ));
        }
    }
    reasons
}

/// The parts of a snapshot that make it different; a new height alone does not justify a new file.
pub(crate) fn same_content(a: &ProviderState, b: &ProviderState) -> bool {
    let strip = |s: &ProviderState| {
        let mut s = s.clone();
        s.provider.height = 0;
        s.provider.fetched_at = None;
        // Any write anywhere in etcd moves its revision; unchanged entries keep the snapshot.
        if let Some(r) = &mut s.registry {
            r.revision = 0;
        }
        s.normalise();
        s
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosmos::state::{self, ConsumerValidator, Phase, Provider};

    fn state(consumers: Vec<(&str, Phase, &[&str])>) -> ProviderState {
        ProviderState {
            format: state::FORMAT.to_owned(),
            provider: Provider {
                chain_id: "p-1".to_owned(),
                height: 1,
                ics_api: "v6".to_owned(),
                fetched_at: None,
            },
            bonded_validators: vec![BondedValidator {
                operator_address: "v1".to_owned(),
                moniker: String::new(),
                tokens: "1".to_owned(),
                consensus_pubkey: String::new(),
                valcons: String::new(),
            }],
            consumers: consumers
                .into_iter()
                .map(|(id, phase, ops)| Consumer {
                    consumer_id: id.to_owned(),
                    chain_id: format!("c-{id}"),
                    name: None,
                    phase,
                    top_n: 0,
                    validators: ops
                        .iter()
                        .map(|op| ConsumerValidator {
                            operator_address: (*op).to_owned(),
                            valcons: String::new(),
                            moniker: String::new(),
                        })
                        .collect(),
                    opted_in: Vec::new(),
                })
                .collect(),
            resolved_endpoints: Vec::new(),
            registry: None,
            chain_registry: Vec::new(),
            resolved_addresses: Vec::new(),
        }
    }

    #[test]
    fn safety_counts_a_vanished_consumer_but_not_a_stopped_one() {
        let prev = state(vec![
            ("0", Phase::Launched, &["a", "b"]),
            ("1", Phase::Launched, &["a", "b"]),
            ("2", Phase::Launched, &["a", "b", "c", "d"]),
        ]);
        let new = state(vec![
            ("1", Phase::Stopped, &[]),
            ("2", Phase::Launched, &["a", "b"]),
        ]);
        assert_eq!(
            safety_violations(Some(&prev), &new, 50),
            ["consumer 0 (c-0) would lose 2 of its 2 validators (100%, limit 50%)"]
        );
        assert!(safety_violations(Some(&prev), &new, 100).is_empty());
        let mut other_chain = prev.clone();
        other_chain.provider.chain_id = "p-2".to_owned();
        assert_eq!(
            safety_violations(Some(&prev), &other_chain, 0),
            ["the snapshot describes provider p-1, not p-2"]
        );
        assert_eq!(
            safety_violations(Some(&prev), &new, 49).len(),
            2,
            "2 of 4 is 50%, above 49%"
        );
    }

    #[test]
    fn monikers_cannot_carry_terminal_control_sequences() {
        let prev = state(vec![("0", Phase::Launched, &[])]);
        let mut new = prev.clone();
        new.bonded_validators[0].operator_address = "v2".to_owned();
        new.bonded_validators[0].moniker = "\u{1b}]0;pwned\u{7}\u{1b}[2Jevil\r".to_owned();
        new.consumers[0].validators.push(ConsumerValidator {
            operator_address: "v2".to_owned(),
            valcons: String::new(),
            moniker: "\u{1b}[31mred".to_owned(),
        });
        let lines = changes(Some(&prev), &new);
        assert_eq!(
            lines,
            [
                r#"bonded validator added: v2 ("\u{1b}]0;pwned\u{7}\u{1b}[2Jevil\r")"#,
                r#"bonded validator removed: v1 ("")"#,
                r#"consumer 0 (c-0): validator added: v2 ("\u{1b}[31mred")"#,
            ]
        );
        assert!(lines.iter().all(|l| !l.chars().any(char::is_control)));
    }

    #[test]
    fn locked_address_changes_are_listed_for_review() {
        use crate::cosmos::state::ResolvedAddress;
        use crate::input::address::Host;
        let lock = |host: &str, addresses: &[&str]| ResolvedAddress {
            host: Host::Name(host.to_owned()),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        };
        let mut a = state(vec![("0", Phase::Launched, &["a"])]);
        a.resolved_addresses = vec![
            lock("a.example.org", &["198.51.100.1"]),
            lock("gone.example.org", &["198.51.100.2"]),
        ];
        let mut b = a.clone();
        b.resolved_addresses = vec![
            lock("a.example.org", &["198.51.100.1", "2001:db9::1"]),
            lock("new.example.org", &["198.51.100.3"]),
        ];
        assert!(!same_content(&a, &b));
        assert_eq!(
            changes(Some(&a), &b),
            [
                "host a.example.org: 198.51.100.1 -> 198.51.100.1, 2001:db9::1",
                "host gone.example.org: no longer locked (was 198.51.100.2)",
                "host new.example.org: locked at 198.51.100.3",
            ]
        );
    }

    #[test]
    fn same_content_ignores_height_and_time_only() {
        let a = state(vec![("0", Phase::Launched, &["a"])]);
        let mut b = a.clone();
        b.provider.height = 99;
        b.provider.fetched_at = Some("2026-01-01T00:00:00Z".to_owned());
        assert!(same_content(&a, &b));
        b.consumers[0].top_n = 5;
        assert!(!same_content(&a, &b));
        assert_eq!(changes(Some(&a), &b), ["consumer 0 (c-0): top_n 0 -> 5"]);
    }
}
