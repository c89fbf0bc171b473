//! The one backoff every retry loop waits by (provider queries, rejected pushes): exponential,
//! capped, with equal jitter so that parallel workers that failed together do not retry in
//! lock-step, yet every wait still grows.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The first wait's upper bound.
    pub(crate) initial: Duration,
    /// No wait is longer.
    pub(crate) max: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first): uniform in `[exp/2, exp]` with
    /// `exp = min(initial · 2^retry, max)`.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for retry in 0..40 {
            let d = b.delay(retry);
            let exp = (100u64.saturating_mul(1 << retry.min(20))).min(1000);
            assert!(d >= Duration::from_millis(exp / 2), "{retry}: {d:?}");
            assert!(d <= Duration::from_millis(exp), "{retry}: {d:?}");
        }
    }
}
