//! The registry part of the snapshot: every endpoint `fetch` read from the etcd registry, per
//! validator × consumer × node, with the revision of the one read they all come from, so a plan
//! names the registry state behind a peer change and `render` stays offline.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistryState {
    /// The etcd revision of the single consistent range read every entry comes from.
    pub(crate) revision: u64,
    /// The key prefix that was read: `<registry.prefix>/<provider chain id>/`.
    pub(crate) prefix: String,
    pub(crate) entries: Vec<RegistryEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistryEntry {
    /// The inventory's name of the validator the operator address belongs to.
    pub(crate) validator: String,
    pub(crate) operator_address: String,
    pub(crate) consumer_id: String,
    /// `validator` for a validator's one public node, else the sentry's name.
    pub(crate) node: String,
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
    /// The key's `mod_revision`: when this entry last changed.
    pub(crate) revision: u64,
}

impl RegistryState {
    pub(crate) fn normalise(&mut self) {
        self.entries.sort_by(|a, b| {
            (&a.validator, &a.consumer_id, &a.node).cmp(&(&b.validator, &b.consumer_id, &b.node))
        });
    }

    /// The entries of one validator on one consumer.
    pub(crate) fn nodes<'a>(
        &'a self,
        validator: &'a str,
        consumer_id: &'a str,
    ) -> impl Iterator<Item = &'a RegistryEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.validator == validator && e.consumer_id == consumer_id)
    }

    /// `(field, message)` of the first entry a hand edit broke.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let mut seen = BTreeSet::new();
        for (i, e) in self.entries.iter().enumerate() {
            let field = |f: &str| format!("entries[{i}].{f}");
            crate::input::name::check_operator_address(&e.operator_address)
                .map_err(|m| (field("operator_address"), m))?;
            crate::cosmos::registry::layout::check_segment(&e.consumer_id)
                .map_err(|m| (field("consumer_id"), m))?;
            crate::input::name::check_label(&e.node).map_err(|m| {
                (
                    field("node"),
                    format!("{m}: a node name becomes a directory"),
                )
            })?;
            if e.revision == 0 || e.revision > self.revision {
                return Err((
                    field("revision"),
                    format!(
                        "{} is not a revision at or before the read's revision {}",
                        e.revision, self.revision
                    ),
                ));
            }
            if !seen.insert((&e.validator, &e.consumer_id, &e.node)) {
                return Err((
                    field("node"),
                    format!(
                        "validator {}, consumer {}, node {} appears twice",
                        e.validator, e.consumer_id, e.node
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The chain-registry part of the snapshot: per consumer, the `chain.json` read at fetch time (by
/// its sha256) and the valid peer entries of inventory validators' providers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainRegistrySource {
    pub(crate) consumer_id: String,
    /// The file as the inventory names it.
    pub(crate) source: String,
    pub(crate) sha256: String,
    pub(crate) peers: Vec<ChainRegistryPeer>,
    /// The valid `peers.seeds[]` entries, sorted; present only when `chain_registry.seeds` was on
    /// at fetch time, so a snapshot fetched without it says the seeds were never read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seeds: Option<Vec<ChainRegistrySeed>>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainRegistrySeed {
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainRegistryPeer {
    pub(crate) validator: String,
    /// `validator` for a provider's one entry; `node-1`, `node-2`, … (by node ID) for several.
    pub(crate) node: String,
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
}
