//! Address locking for allowlists: the A and AAAA answers of every host name a planned node's
//! endpoint names, resolved at fetch time into the snapshot's `resolved_addresses`, so `render`
//! writes allowlists without asking DNS and a review sees every address that will be admitted.

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_proto::rr::{RData, RecordType};

use super::srv::{ResolverConfig, SrvError, ask};
use crate::cosmos::peers::Plan;
use crate::cosmos::state::ResolvedAddress;
use crate::input::address::Host;

/// Every host name an allowlist needs an address for: the endpoints of every node of every active
/// consumer (public nodes, sentries and validator nodes behind them), sorted.
pub(crate) fn planned_host_names(plan: &Plan) -> BTreeSet<String> {
    plan.consumers
        .iter()
        .flat_map(|cp| cp.members.iter().chain(&cp.private))
        .filter_map(|m| match &m.endpoint.host {
            Host::Name(n) => Some(n.clone()),
            Host::Ip(_) => None,
        })
        .collect()
}

/// Resolves every planned host name; one that does not resolve fails the whole run, so the
/// snapshot is never written with an address missing.
pub(crate) fn resolve_addresses(
    plan: &Plan,
    config: &ResolverConfig,
) -> Result<Vec<ResolvedAddress>, SrvError> {
    let mut resolved = Vec::new();
    for host in planned_host_names(plan) {
        let addresses = lookup_addresses(&host, config).map_err(|problem| SrvError::Address {
            host: host.clone(),
            problem,
        })?;
        tracing::info!(
            "{host} -> {}",
            addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        resolved.push(ResolvedAddress {
            host: Host::Name(host),
            addresses,
        });
    }
    Ok(resolved)
}

/// The A and AAAA answers of `host`, sorted and deduplicated; at least one.
pub(crate) fn lookup_addresses(host: &str, config: &ResolverConfig) -> Result<Vec<IpAddr>, String> {
    let mut addresses = BTreeSet::new();
    for record_type in [RecordType::A, RecordType::AAAA] {
        let response =
            ask(host, record_type, config).map_err(|e| format!("{record_type} lookup: {e}"))?;
        addresses.extend(response.answers.iter().filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        }));
    }
    if addresses.is_empty() {
        return Err("the name exists but has no A or AAAA record".to_owned());
    }
    Ok(addresses.into_iter().collect())
}
