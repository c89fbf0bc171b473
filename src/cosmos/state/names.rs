//! Consumer directory names: assigned once per consumer id and kept in the snapshot, so a running
//! consumer's directory, namespace, ConfigMap and rollout names never change when another
//! consumer with its chain id registers, launches, stops or leaves the provider.

use std::collections::{BTreeMap, BTreeSet};

use super::{Consumer, ProviderState, consumer_id_order};

/// A name made only of the chain id could be mistaken for a generated one: it holds `--` (a
/// suffixed name of another consumer) or is one of the validator's own files (its index and its
/// alert rules). Plain names then never
/// hold `--`, and a suffixed name splits at its last `--` into a chain id and a consumer id, so two
/// consumers never share a directory.
fn mistakable(chain_id: &str) -> bool {
    chain_id.contains("--") || matches!(chain_id, "kustomization.yaml" | "prometheus-rule.yaml")
}

/// The one name a consumer may have besides its chain id.
fn suffixed(c: &Consumer) -> String {
    format!("{}--{}", c.chain_id, c.consumer_id)
}

/// Whether `name` is one peergen could have given `c`: its chain id (when not mistakable) or
/// `<chain_id>--<consumer_id>`. Anything else in a snapshot was edited by hand.
pub(crate) fn check_name(c: &Consumer, name: &str) -> Result<(), String> {
    if name == suffixed(c) || (name == c.chain_id && !mistakable(&c.chain_id)) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a name of consumer {} ({}): it is {:?}{}",
            c.consumer_id,
            c.chain_id,
            suffixed(c),
            if mistakable(&c.chain_id) {
                String::new()
            } else {
                format!(" or {:?}", c.chain_id)
            }
        ))
    }
}

/// Every consumer's name: the one the snapshot records, else one given now. New names go to
/// active consumers first, in consumer-id order, then to inactive ones: the first to ask for a
/// chain id no recorded consumer holds gets it plain, every other takes `--<consumer_id>`.
///
/// For a snapshot that records no names (written before names were kept) this is exactly the
/// earlier rule (the lowest active consumer id of a chain id gets the plain name), so the first
/// fetch that records them renames nothing.
pub(crate) fn names(state: &ProviderState) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for c in &state.consumers {
        if let Some(name) = &c.name {
            taken.insert(name.clone());
            out.insert(c.consumer_id.clone(), name.clone());
        }
    }
    let mut unnamed: Vec<&Consumer> = state
        .consumers
        .iter()
        .filter(|c| c.name.is_none())
        .collect();
    unnamed.sort_by(|a, b| {
        b.phase
            .is_active()
            .cmp(&a.phase.is_active())
            .then_with(|| consumer_id_order(&a.consumer_id, &b.consumer_id))
    });
    for c in unnamed {
        let name = if !mistakable(&c.chain_id) && !taken.contains(&c.chain_id) {
            c.chain_id.clone()
        } else {
            suffixed(c)
        };
        taken.insert(name.clone());
        out.insert(c.consumer_id.clone(), name);
    }
    out
}

/// Records a name for every consumer of `new`: the one `previous` gave it (recorded or, for an
/// older snapshot, derived), else a fresh one by [`names`].
pub(crate) fn assign(new: &mut ProviderState, previous: Option<&ProviderState>) {
    let prior = previous.map(names).unwrap_or_default();
    for c in &mut new.consumers {
        // A consumer's owner may change its chain id before launch; the old name then no longer
        // fits, and the consumer is named afresh.
        c.name = prior
            .get(&c.consumer_id)
            .filter(|name| check_name(c, name).is_ok())
            .cloned();
    }
    // A name the previous snapshot gave a consumer that has since left the provider is free again;
    // kept ones are recorded above and win over any fresh choice.
    let all = names(new);
    for c in &mut new.consumers {
        c.name = all.get(&c.consumer_id).cloned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosmos::state::Phase;

    fn consumer(id: &str, chain: &str, phase: Phase) -> Consumer {
        Consumer {
            consumer_id: id.into(),
            chain_id: chain.into(),
            name: None,
            phase,
            top_n: 0,
            validators: Vec::new(),
            opted_in: Vec::new(),
        }
    }

    fn state(consumers: Vec<Consumer>) -> ProviderState {
        ProviderState {
            format: super::super::FORMAT.into(),
            provider: super::super::Provider {
                chain_id: "cosmoshub-4".into(),
                height: 1,
                ics_api: "v6".into(),
                fetched_at: None,
            },
            bonded_validators: Vec::new(),
            consumers,
            resolved_endpoints: Vec::new(),
            registry: None,
            chain_registry: Vec::new(),
            resolved_addresses: Vec::new(),
        }
    }

    /// Fetches `steps` in order, each over the snapshot the one before wrote; returns the names
    /// after each step.
    fn lifecycle(steps: Vec<Vec<Consumer>>) -> Vec<BTreeMap<String, String>> {
        let mut previous: Option<ProviderState> = None;
        let mut out = Vec::new();
        for consumers in steps {
            let mut new = state(consumers);
            assign(&mut new, previous.as_ref());
            out.push(names(&new));
            previous = Some(new);
        }
        out
    }

    fn name(of: &BTreeMap<String, String>, id: &str) -> String {
        of[id].clone()
    }

    use Phase::{Initialized, Launched, Registered, Stopped};

    #[test]
    fn a_running_consumer_keeps_its_name_through_every_neighbour_transition() {
        // Consumer 5 runs as sandbox-1--5 next to 3 (sandbox-1); 3 stops, then leaves the provider;
        // a new consumer 7 with the same chain id registers and launches. 5 never moves.
        let steps = lifecycle(vec![
            vec![
                consumer("3", "sandbox-1", Launched),
                consumer("5", "sandbox-1", Launched),
            ],
            vec![
                consumer("3", "sandbox-1", Stopped),
                consumer("5", "sandbox-1", Launched),
            ],
            vec![consumer("5", "sandbox-1", Launched)],
            vec![
                consumer("5", "sandbox-1", Launched),
                consumer("7", "sandbox-1", Registered),
            ],
            vec![
                consumer("5", "sandbox-1", Launched),
                consumer("7", "sandbox-1", Launched),
            ],
        ]);
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(name(step, "5"), "sandbox-1--5", "step {i}");
        }
        assert_eq!(name(&steps[0], "3"), "sandbox-1");
        assert_eq!(
            name(&steps[1], "3"),
            "sandbox-1",
            "a stopped consumer keeps its name"
        );
        // 3 has left the provider: its plain name is free, and the newcomer takes it.
        assert_eq!(name(&steps[3], "7"), "sandbox-1");
        assert_eq!(name(&steps[4], "7"), "sandbox-1");
    }

    #[test]
    fn the_first_consumer_keeps_its_plain_name_when_a_later_one_registers_launches_or_stops() {
        let steps = lifecycle(vec![
            vec![consumer("3", "sandbox-1", Launched)],
            vec![
                consumer("3", "sandbox-1", Launched),
                consumer("5", "sandbox-1", Registered),
            ],
            vec![
                consumer("3", "sandbox-1", Launched),
                consumer("5", "sandbox-1", Initialized),
            ],
            vec![
                consumer("3", "sandbox-1", Launched),
                consumer("5", "sandbox-1", Launched),
            ],
            vec![
                consumer("3", "sandbox-1", Launched),
                consumer("5", "sandbox-1", Stopped),
            ],
            vec![consumer("3", "sandbox-1", Launched)],
        ]);
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(name(step, "3"), "sandbox-1", "step {i}");
        }
        for step in &steps[1..5] {
            assert_eq!(name(step, "5"), "sandbox-1--5");
        }
    }

    #[test]
    fn an_older_snapshot_without_names_gets_the_names_it_already_rendered() {
        // The earlier rule: the lowest active consumer id of a chain id is plain, inactive ones
        // and later ones are suffixed, and mistakable chain ids always are.
        let old = state(vec![
            consumer("2", "sandbox-1", Stopped),
            consumer("3", "sandbox-1", Launched),
            consumer("10", "sandbox-1", Launched),
            consumer("4", "a--b", Launched),
            consumer("6", "kustomization.yaml", Launched),
        ]);
        let derived = names(&old);
        assert_eq!(derived["3"], "sandbox-1");
        assert_eq!(derived["10"], "sandbox-1--10");
        assert_eq!(derived["2"], "sandbox-1--2");
        assert_eq!(derived["4"], "a--b--4");
        assert_eq!(derived["6"], "kustomization.yaml--6");
        let mut new = state(old.consumers.clone());
        assign(&mut new, Some(&old));
        assert_eq!(names(&new), derived);
        assert!(new.consumers.iter().all(|c| c.name.is_some()));
    }

    #[test]
    fn a_chain_id_changed_before_launch_gets_a_fresh_name() {
        let steps = lifecycle(vec![
            vec![
                consumer("1", "neutron-1", Registered),
                consumer("3", "sandbox-1", Launched),
            ],
            vec![
                consumer("1", "sandbox-1", Registered),
                consumer("3", "sandbox-1", Launched),
            ],
        ]);
        assert_eq!(name(&steps[0], "1"), "neutron-1");
        assert_eq!(name(&steps[1], "1"), "sandbox-1--1");
        assert_eq!(name(&steps[1], "3"), "sandbox-1");
    }

    #[test]
    fn only_the_two_possible_names_are_accepted_from_a_snapshot() {
        let c = consumer("5", "sandbox-1", Launched);
        assert!(check_name(&c, "sandbox-1").is_ok());
        assert!(check_name(&c, "sandbox-1--5").is_ok());
        assert!(check_name(&c, "../x").is_err());
        assert!(check_name(&c, "sandbox-1--6").is_err());
        let m = consumer("6", "kustomization.yaml", Launched);
        assert!(check_name(&m, "kustomization.yaml").is_err());
    }
}
