//! Consumer P2P ports: the ICS Monitor hash, fixed ports and per-validator ranges.

use sha2::{Digest, Sha256};

use crate::cosmos::inventory::endpoint::PortRange;

/// How a consumer's port is chosen when the validator's endpoint does not fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortStrategy {
    /// `26656 + 100 + (BE_u32(sha256(consumer_id)[0..4]) % 1000) * 10`, as the ICS Monitor advertised.
    Hash,
    Fixed(u16),
}

impl PortStrategy {
    pub(crate) fn parse(text: &str) -> Result<PortStrategy, String> {
        match text.trim() {
            "hash" => Ok(PortStrategy::Hash),
            other => crate::input::address::parse_port(other)
                .map(PortStrategy::Fixed)
                .map_err(|_| {
                    format!(
                        "{other:?} is not a port strategy: expected `hash` or a port number 1-65535"
                    )
                }),
        }
    }

    pub(crate) fn port(self, consumer_id: &str) -> u16 {
        match self {
            PortStrategy::Hash => hash_port(consumer_id),
            PortStrategy::Fixed(p) => p,
        }
    }
}

fn hash_u32(consumer_id: &str) -> u32 {
    let digest = Sha256::digest(consumer_id.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

pub(crate) fn hash_port(consumer_id: &str) -> u16 {
    let offset = u16::try_from(hash_u32(consumer_id) % 1000).expect("below 1000");
    26656 + 100 + offset * 10
}

/// A port from a validator's range: numeric consumer ids (ICS ≥ v6 assigns them in sequence) map
/// to `first + id mod len`, so adding or stopping one consumer never moves another; other ids hash.
pub(crate) fn range_port(range: PortRange, consumer_id: &str) -> u16 {
    let len = u64::from(range.size());
    let offset = match consumer_id.parse::<u64>() {
        Ok(id) => id % len,
        Err(_) => u64::from(hash_u32(consumer_id)) % len,
    };
    range.first + u16::try_from(offset).expect("offset below range length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_vectors() {
        assert_eq!(hash_port("0"), 29536);
        assert_eq!(hash_port("19"), 35176);
        assert_eq!(hash_port("29"), 35176);
    }

    #[test]
    fn ranges_are_stable() {
        let r = PortRange {
            first: 26700,
            last: 26799,
        };
        assert_eq!(range_port(r, "0"), 26700);
        assert_eq!(range_port(r, "7"), 26707);
        assert_eq!(range_port(r, "107"), 26707);
        let p = range_port(r, "pion-1");
        assert!((26700..=26799).contains(&p));
    }
}
