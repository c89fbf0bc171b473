//! `[p2p] seeds`: the inventory's own `p2p.seeds` and, with `chain_registry.seeds: true`, the
//! `peers.seeds[]` of the consumer's chain.json locked into the snapshot, merged per consumer, then
//! cut per node to what CometBFT would actually use for it.
//!
//! CometBFT hands `seeds` to its PEX reactor only (`node/setup.go` creates the reactor, and passes
//! it the seeds, only with `pex = true`), which dials them when its address book runs short. So a
//! node with PEX off (a validator node behind sentries, always) gets none: they would only suggest
//! it reaches strangers. A seed that is a node of the plan is left out: the topology decides who
//! peers with the fleet's nodes, and a node never dials itself.

use std::collections::BTreeSet;

use super::{ConsumerPlan, PlanError};
use crate::cosmos::inventory::Inventory;
use crate::cosmos::inventory::settings::Settings;
use crate::cosmos::node_id::NodeId;
use crate::cosmos::state::{Consumer, ProviderState};
use crate::input::address::Endpoint;

/// One seed: the node ID and address CometBFT writes as `id@host:port`.
pub(crate) type Seed = (NodeId, Endpoint);

/// Every seed of one consumer, sorted and deduplicated.
pub(super) fn consumer_seeds(
    inventory: &Inventory,
    state: &ProviderState,
    consumer: &Consumer,
    settings: &Settings,
) -> Result<Vec<Seed>, Box<PlanError>> {
    let mut seeds: BTreeSet<Seed> = settings
        .p2p
        .seeds
        .iter()
        .flat_map(|s| s.value.iter().cloned())
        .collect();
    let cr = inventory.chain_registry.as_ref().filter(|c| c.seeds);
    let named = cr.is_some_and(|c| {
        c.sources
            .keys()
            .any(|k| k == &consumer.consumer_id || k == &consumer.chain_id)
    });
    if let (Some(cr), true) = (cr, named) {
        let read = state
            .chain_registry
            .iter()
            .find(|s| s.consumer_id == consumer.consumer_id)
            .and_then(|s| s.seeds.as_ref())
            .ok_or_else(|| {
                Box::new(PlanError::Seeds {
                consumer_id: consumer.consumer_id.clone(),
                chain_id: consumer.chain_id.clone(),
                at: cr.at.clone(),
                problem: "the snapshot holds no seeds read from this consumer's chain.json: run `peergen fetch` to read them".to_owned(),
            })
            })?;
        seeds.extend(read.iter().map(|s| (s.node_id.clone(), s.address.clone())));
    }
    Ok(seeds.into_iter().collect())
}

/// The seeds one node of `cp` dials: none with PEX off; never a node the plan places on the
/// consumer (the node itself, one of its persistent peers, or a node the topology deliberately
/// does not link it to, which a seed connection would link after all).
pub(super) fn node_seeds(cp: &ConsumerPlan, pex: Option<bool>) -> Vec<Seed> {
    if pex == Some(false) || cp.seeds.is_empty() {
        return Vec::new();
    }
    let planned: BTreeSet<&NodeId> = cp
        .members
        .iter()
        .chain(&cp.private)
        .map(|m| &m.node_id)
        .collect();
    cp.seeds
        .iter()
        .filter(|(id, _)| !planned.contains(id))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cosmos::peers::{Member, PortSource, Role};
    use crate::cosmos::state::Phase;

    fn id(c: char) -> NodeId {
        NodeId::parse(&c.to_string().repeat(40)).unwrap()
    }

    fn seed(c: char) -> Seed {
        (
            id(c),
            Endpoint::parse(&format!("seed-{c}.example.org:26656")).unwrap(),
        )
    }

    fn node(validator: &str, c: char, role: Role) -> Member {
        let endpoint = Endpoint::parse(&format!("{validator}.example.org:26656")).unwrap();
        Member {
            validator: validator.to_owned(),
            moniker: validator.to_owned(),
            operator_address: String::new(),
            peer: Member::peer_of(&id(c), &endpoint),
            node_id: id(c),
            endpoint,
            port_source: PortSource::Registry { revision: 1 },
            role,
        }
    }

    /// Whatever the topology links (here: nothing), no planned node is anyone's seed, and a
    /// node with PEX off gets none at all.
    #[test]
    fn planned_nodes_are_never_seeds_and_pex_off_gets_none() {
        let inventory = crate::cosmos::inventory::from_texts(&[(
            Path::new("inv.yaml"),
            "validators:\n  a:\n    consumer_template: a.example.org:26656\n    node_id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".to_owned(),
        )])
        .unwrap();
        let cp = ConsumerPlan {
            consumer_id: "0".to_owned(),
            chain_id: "pion-1".to_owned(),
            slug: "pion-1".to_owned(),
            phase: Phase::Launched,
            settings: inventory.settings_for("0", "pion-1"),
            members: vec![
                node("a", 'a', Role::Public),
                node("b", 'b', Role::Sentry("s1".to_owned())),
            ],
            private: vec![node("b", 'c', Role::Validator)],
            graph: vec![BTreeSet::new(), BTreeSet::new()],
            missing: Vec::new(),
            excluded: Vec::new(),
            unresolved: Vec::new(),
            seeds: vec![seed('a'), seed('b'), seed('c'), seed('d'), seed('e')],
        };
        assert_eq!(node_seeds(&cp, None), [seed('d'), seed('e')]);
        assert_eq!(node_seeds(&cp, Some(true)), [seed('d'), seed('e')]);
        assert_eq!(node_seeds(&cp, Some(false)), []);
    }
}
