//! Consumer P2P ports: the ICS Monitor hash, fixed ports and per-validator ranges.

use sha2::{Digest, Sha256};

use crate::cosmos::inventory::endpoint::PortRange;
use crate::cosmos::inventory::settings::PortStrategy;

/// The port `strategy` gives consumer `consumer_id`.
pub(crate) fn consumer_port(strategy: PortStrategy, consumer_id: &str) -> u16 {
    match strategy {
        PortStrategy::Hash => hash_port(consumer_id),
        PortStrategy::Fixed(p) => p,
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
