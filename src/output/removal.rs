//! The one rule for a removal too large to make without `--force`, shared by pruning generated
//! files and by shrinking a peer list: a typo in the inventory or a faulty snapshot looks exactly
//! like a large removal.

/// The largest share that may go without `--force` unless told otherwise (`--max-peer-removal-percent`).
pub(crate) const DEFAULT_MAX_PERCENT: u8 = 30;

/// Smaller sets may shrink freely: removing one of three is a third, yet rarely a mistake.
const MIN_GUARDED: usize = 4;

/// True when removing `removed` of `total` exceeds `max_percent` of a guarded set.
pub(crate) fn exceeds(removed: usize, total: usize, max_percent: u8) -> bool {
    total >= MIN_GUARDED && removed * 100 > total * usize::from(max_percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_counts_only_from_four() {
        assert!(!exceeds(3, 10, 30), "exactly 30% is allowed");
        assert!(exceeds(4, 10, 30));
        assert!(exceeds(2, 4, 30));
        assert!(!exceeds(2, 4, 50));
        assert!(!exceeds(2, 3, 30), "small sets are exempt");
    }
}
