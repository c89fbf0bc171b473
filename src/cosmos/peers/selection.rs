//! Which provider validators a consumer's peer set is drawn from: the provider's set, the opted-in
//! list, all bonded, a hash-ranked percentage, or the original ICS Monitor's rule (`ics-monitor-v1`).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::cosmos::inventory::settings::Selection;
use crate::cosmos::state::{BondedValidator, Consumer, ProviderState};

/// A provider validator chosen for a consumer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Selected {
    pub(crate) operator_address: String,
    pub(crate) moniker: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SelectionError {
    #[error("consumer {consumer_id}: ics-monitor-v1 selection did not converge")]
    NoConvergence { consumer_id: String },
}

/// What a selection yields: provider validators, and opted-in valcons addresses that neither the
/// bonded set nor the consumer's set can name (jailed or unbonding validators stay opted in).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selections {
    /// Sorted by operator address.
    pub(crate) selected: Vec<Selected>,
    pub(crate) unresolved: Vec<String>,
}

pub(crate) fn select(
    selection: Selection,
    consumer: &Consumer,
    state: &ProviderState,
) -> Result<Selections, SelectionError> {
    let mut unresolved = Vec::new();
    let from_bonded = |v: &BondedValidator| Selected {
        operator_address: v.operator_address.clone(),
        moniker: v.moniker.clone(),
    };
    let mut out = match selection {
        Selection::ConsumerValidators => consumer
            .validators
            .iter()
            .map(|v| Selected {
                operator_address: v.operator_address.clone(),
                moniker: v.moniker.clone(),
            })
            .collect(),
        Selection::OptedIn => {
            let mut out = Vec::new();
            for valcons in &consumer.opted_in {
                let bonded = state
                    .bonded_validators
                    .iter()
                    .find(|v| &v.valcons == valcons);
                let in_set = consumer.validators.iter().find(|v| &v.valcons == valcons);
                match (bonded, in_set) {
                    (Some(v), _) => out.push(from_bonded(v)),
                    (None, Some(v)) => out.push(Selected {
                        operator_address: v.operator_address.clone(),
                        moniker: v.moniker.clone(),
                    }),
                    (None, None) => unresolved.push(valcons.clone()),
                }
            }
            out
        }
        Selection::AllBonded => state.bonded_validators.iter().map(from_bonded).collect(),
        Selection::Subset { percent } => {
            subset(&consumer.consumer_id, &state.bonded_validators, percent)
                .into_iter()
                .map(from_bonded)
                .collect()
        }
        Selection::IcsMonitorV1 { ratio } => {
            ics_monitor_v1(&consumer.consumer_id, &state.bonded_validators, ratio)
                .ok_or_else(|| SelectionError::NoConvergence {
                    consumer_id: consumer.consumer_id.clone(),
                })?
                .into_iter()
                .map(from_bonded)
                .collect()
        }
    };
    out.sort();
    out.dedup();
    Ok(Selections {
        selected: out,
        unresolved,
    })
}

pub(crate) fn subset<'a>(
    consumer_id: &str,
    validators: &'a [BondedValidator],
    percent: u8,
) -> Vec<&'a BondedValidator> {
    let rank = |v: &BondedValidator| {
        let mut h = Sha256::new();
        h.update(consumer_id.as_bytes());
        h.update([0u8]);
        h.update(v.operator_address.as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        digest
    };
    let mut ranked: Vec<_> = validators.iter().map(|v| (rank(v), v)).collect();
    ranked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.operator_address.cmp(&b.1.operator_address))
    });
    let take = (validators.len() * usize::from(percent)).div_ceil(100);
    ranked.into_iter().take(take).map(|(_, v)| v).collect()
}

/// Compares decimal integer strings (validated at snapshot load: no sign, no leading zeros).
fn cmp_tokens(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Go `big.Int.Bytes()` of a digest read as a big-endian integer: leading zero bytes dropped.
fn minimal_be(digest: &[u8]) -> &[u8] {
    let start = digest.iter().position(|&b| b != 0).unwrap_or(digest.len());
    &digest[start..]
}

fn mod_small(digest: &[u8], n: usize) -> usize {
    let n = n as u128;
    let r = digest
        .iter()
        .fold(0u128, |acc, &b| (acc * 256 + u128::from(b)) % n);
    usize::try_from(r).expect("remainder below n")
}

/// Rule A of the reference: sort by tokens desc (ties by operator address), size = trunc(n·ratio)
/// clamped to [1, n], then walk a sha256 chain seeded by the consumer id, picking `seed mod n`.
pub(crate) fn ics_monitor_v1<'a>(
    consumer_id: &str,
    validators: &'a [BondedValidator],
    ratio: f64,
) -> Option<Vec<&'a BondedValidator>> {
    let n = validators.len();
    if n == 0 {
        return Some(Vec::new());
    }
    let mut by_power: Vec<&BondedValidator> = validators.iter().collect();
    by_power.sort_by(|a, b| {
        cmp_tokens(&b.tokens, &a.tokens).then_with(|| {
            a.operator_address
                .as_bytes()
                .cmp(b.operator_address.as_bytes())
        })
    });
    // Go: int(float64(n) * ratio), a truncating conversion.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let size = ((n as f64 * ratio) as usize).clamp(1, n);
    if size >= n {
        return Some(by_power);
    }
    let mut seed: [u8; 32] = Sha256::digest(consumer_id.as_bytes()).into();
    let mut used = BTreeSet::new();
    let mut picked = Vec::with_capacity(size);
    // Each step is a fresh sha256, so this ends with probability 1; the cap turns a pathological
    // input into an error instead of a hang.
    for _ in 0..10_000_000 {
        if picked.len() == size {
            picked.sort_by(|a: &&BondedValidator, b| a.operator_address.cmp(&b.operator_address));
            return Some(picked);
        }
        let v = by_power[mod_small(&seed, n)];
        if used.insert(&v.operator_address) {
            picked.push(v);
        }
        let mut h = Sha256::new();
        h.update(minimal_be(&seed));
        h.update(picked.len().to_string().as_bytes());
        seed = h.finalize().into();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Vectors {
        validator_sets: BTreeMap<String, Vec<BondedValidator>>,
        selection: Vec<SelectionVector>,
    }

    #[derive(Deserialize)]
    struct SelectionVector {
        set: String,
        consumer_id: String,
        ratio: f64,
        subset_operator_addresses: Vec<String>,
    }

    /// The ICS Monitor reference vectors (tests/data/ics-monitor-vectors.json, from
    /// shared/reference), bit for bit.
    #[test]
    fn ics_monitor_selection_vectors_all_pass() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/ics-monitor-vectors.json"
        );
        let v: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(v.selection.len() >= 10, "vector file too small");
        for case in &v.selection {
            let set = &v.validator_sets[&case.set];
            let picked = ics_monitor_v1(&case.consumer_id, set, case.ratio).unwrap();
            let got: Vec<&str> = picked.iter().map(|b| b.operator_address.as_str()).collect();
            assert_eq!(
                got, case.subset_operator_addresses,
                "set {} consumer {} ratio {}",
                case.set, case.consumer_id, case.ratio
            );
        }
    }
}
