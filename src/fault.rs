//! A test-only fault hook. With `PEERGEN_TEST_FAULT=<point>:<n>` in the environment the process
//! aborts the n-th time it reaches `<point>`, as a kill at that moment would: no destructor runs,
//! temporary files stay behind. The integration tests use it to prove that the next run repairs
//! whatever a killed run left. Points: `rename` (before each rename of a write into `--out` or the
//! working tree), `index` (after apply wrote the index, before the commit moves the branch).

use std::sync::atomic::{AtomicU32, Ordering};

static REACHED: AtomicU32 = AtomicU32::new(0);

pub(crate) fn point(name: &str) {
    let Ok(spec) = std::env::var("PEERGEN_TEST_FAULT") else {
        return;
    };
    let Some((at, n)) = spec.split_once(':') else {
        return;
    };
    if at != name {
        return;
    }
    let reached = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if n.parse() == Ok(reached) {
        std::process::abort();
    }
}
