//! SRV owner names: one validator × consumer per name. `<validator>-<slug>` is not injective, so
//! both the zone build and SRV discovery refuse two pairs on one name before anything is written
//! or asked.

use std::collections::BTreeMap;
use std::fmt;

/// One validator × consumer and the absolute SRV name (without trailing dot) it publishes or
/// looks up, for [`check_owner_collisions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SrvInstance {
    pub(crate) validator: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    pub(crate) name: String,
}

impl fmt::Display for SrvInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "validator {}, consumer {} ({})",
            self.validator, self.consumer_id, self.chain_id
        )
    }
}

/// Pairs of validator × consumer that share one SRV name, first claimant first.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) struct OwnerCollisions(pub(crate) Vec<(SrvInstance, SrvInstance)>);

impl fmt::Display for OwnerCollisions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "SRV name {} belongs to both {a} and {b}: `<validator>-<chain>` reads the same for both, so their records would form one RRset and a lookup would return either peer; rename one of the two validators (its key under `validators:`) or give it another `dns_zone`",
                a.name
            )?;
        }
        Ok(())
    }
}

/// Refuses two validator × consumer pairs on one SRV name. `<validator>-<slug>` is not
/// injective: validator `a` on chain `b-c` and validator `a-b` on chain `c` both make `a-b-c`,
/// and nothing in DNS can tell their records apart afterwards.
pub(crate) fn check_owner_collisions(
    instances: impl IntoIterator<Item = SrvInstance>,
) -> Result<(), OwnerCollisions> {
    let mut first: BTreeMap<String, SrvInstance> = BTreeMap::new();
    let mut collisions = Vec::new();
    for i in instances {
        match first.get(&i.name) {
            Some(f) if (&f.validator, &f.consumer_id) != (&i.validator, &i.consumer_id) => {
                collisions.push((f.clone(), i));
            }
            Some(_) => {}
            None => {
                first.insert(i.name.clone(), i);
            }
        }
    }
    if collisions.is_empty() {
        Ok(())
    } else {
        Err(OwnerCollisions(collisions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosmos::inventory::dns::DnsSettings;

    fn instance(validator: &str, consumer_id: &str, chain_id: &str, zone: &str) -> SrvInstance {
        let label = DnsSettings::instance_label(validator, chain_id).unwrap();
        SrvInstance {
            validator: validator.to_owned(),
            consumer_id: consumer_id.to_owned(),
            chain_id: chain_id.to_owned(),
            name: format!("_cosmos-p2p._tcp.{label}.{zone}"),
        }
    }

    #[test]
    fn owner_collisions_name_both_pairs() {
        let a = instance("a", "1", "b-c", "validators.zone");
        let ab = instance("a-b", "2", "c", "validators.zone");
        let err = check_owner_collisions([
            a.clone(),
            instance("a", "2", "c", "validators.zone"),
            ab.clone(),
        ])
        .unwrap_err();
        assert_eq!(err.0, vec![(a.clone(), ab.clone())]);
        let text = err.to_string();
        assert!(
            text.contains(
                "SRV name _cosmos-p2p._tcp.a-b-c.validators.zone belongs to both validator a, consumer 1 (b-c) and validator a-b, consumer 2 (c)"
            ) && text.contains("rename one of the two validators"),
            "{text}"
        );
        // The same pair twice is one claim; the same label in another zone is another name.
        assert_eq!(check_owner_collisions([a.clone(), a.clone()]), Ok(()));
        assert_eq!(
            check_owner_collisions([a, instance("a-b", "2", "c", "other.zone")]),
            Ok(())
        );
    }
}
