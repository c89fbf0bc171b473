//! Fixes for a port collision that are proven before they are suggested: each candidate is
//! written into a copy of the inventory and the whole plan is made again; only a change under
//! which that collision is gone and no new error appears is printed.

use super::{DnsMode, PlanError, PortSource, plan_with};
use crate::cosmos::inventory::settings::PortStrategy;
use crate::cosmos::inventory::{EndpointSource, Inventory};
use crate::cosmos::state::ProviderState;
use crate::input::yaml::{Located, Origin};

/// Ports CometBFT and the Cosmos SDK listen on by default (RPC, ABCI, Prometheus, REST, gRPC,
/// gRPC-web): a P2P port there would clash with the node's own services.
const RESERVED: [u16; 6] = [26657, 26658, 26660, 1317, 9090, 9091];

/// How many ports above the colliding one are tried before giving up on a concrete number.
const CANDIDATES: usize = 16;

/// Collisions whose fix is searched; the rest keep the generic advice (each search re-plans).
const SEARCHED: usize = 8;

/// A change to the inventory that resolves one collision.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PortFix {
    /// `validators.<V>.port_overrides: {"<consumer>": port}`: the override wins over every other
    /// source of the validator's port.
    ValidatorOverride { consumer: String, port: u16 },
    /// `consumers: {"<consumer>": {port: port}}`: for a node whose port comes from the consumer's
    /// port strategy (a sentry's template with `{{port}}`).
    ConsumerPort { consumer: String, port: u16 },
}

/// Fills in a verified fix for the first [`SEARCHED`] port collisions of `errors`.
pub(super) fn suggest(inventory: &Inventory, state: &ProviderState, errors: &mut [PlanError]) {
    let before = errors.len();
    let wanted: Vec<(usize, String, String, PortSource, u16)> = errors
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            PlanError::PortCollision {
                validator,
                endpoint,
                second,
                ..
            } => Some((
                i,
                validator.clone(),
                second.0.clone(),
                second.2.clone(),
                endpoint.port,
            )),
            _ => None,
        })
        .take(SEARCHED)
        .collect();
    for (i, validator, consumer, source, from) in wanted {
        let fix = (from..=u16::MAX)
            .skip(1)
            .filter(|p| !RESERVED.contains(p))
            .take(CANDIDATES)
            .find_map(|port| {
                let fix = candidate(inventory, &validator, &consumer, &source, port)?;
                resolves(inventory, state, &validator, &consumer, &fix, before).then_some(fix)
            });
        if let PlanError::PortCollision { fix: slot, .. } = &mut errors[i] {
            *slot = fix;
        }
    }
}

/// The most local change that can move `validator`'s port on `consumer`, if any can.
fn candidate(
    inventory: &Inventory,
    validator: &str,
    consumer: &str,
    source: &PortSource,
    port: u16,
) -> Option<PortFix> {
    let v = inventory.validators.get(validator)?;
    let consumer = consumer.to_owned();
    match (&v.endpoint, source) {
        (EndpointSource::Template(_), _) => Some(PortFix::ValidatorOverride { consumer, port }),
        (EndpointSource::Sentries { .. }, PortSource::Consumer { .. }) => {
            Some(PortFix::ConsumerPort { consumer, port })
        }
        // A sentry's own port in its template, or a port from an SRV record: only the template or
        // the publisher's record can change it.
        _ => None,
    }
}

/// Whether the plan made with `fix` applied has no collision left for this validator and
/// consumer and fewer errors than the `before` the current plan has (so the fix made none).
fn resolves(
    inventory: &Inventory,
    state: &ProviderState,
    validator: &str,
    consumer: &str,
    fix: &PortFix,
    before: usize,
) -> bool {
    let mut changed = inventory.clone();
    let at = changed
        .files
        .first()
        .map(Origin::file)
        .expect("an inventory has a file");
    match fix {
        PortFix::ValidatorOverride { consumer, port } => {
            let Some(v) = changed.validators.get_mut(validator) else {
                return false;
            };
            v.port_overrides.insert(
                consumer.clone(),
                Located {
                    value: *port,
                    at: at.clone(),
                },
            );
        }
        PortFix::ConsumerPort { consumer, port } => {
            let strategy = Located {
                value: PortStrategy::Fixed(*port),
                at: at.clone(),
            };
            match changed.consumers.iter_mut().find(|(k, _)| k == consumer) {
                Some((_, layer)) => layer.value.port = Some(strategy),
                None => {
                    let layer = crate::cosmos::inventory::settings::SettingsLayer {
                        port: Some(strategy),
                        ..Default::default()
                    };
                    changed
                        .consumers
                        .push((consumer.clone(), Located { value: layer, at }));
                }
            }
        }
    }
    match plan_with(
        &changed,
        state,
        &mut DnsMode::Snapshot(&state.resolved_endpoints),
    ) {
        Ok(_) => true,
        Err(e) => {
            let still = e.0.iter().any(|err| {
                matches!(err, PlanError::PortCollision { validator: v, first, second, .. }
                    if v == validator && (first.0 == consumer || second.0 == consumer))
            });
            !still && e.0.len() < before
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RESERVED;

    #[test]
    fn no_default_service_port_is_ever_a_candidate() {
        let tried: Vec<u16> = (26656..=u16::MAX)
            .skip(1)
            .filter(|p| !RESERVED.contains(p))
            .take(super::CANDIDATES)
            .collect();
        assert_eq!(tried[0], 26659);
        assert!(!tried.contains(&26660));
    }
}
