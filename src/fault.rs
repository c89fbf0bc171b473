//! A test-only fault hook. With `PEERGEN_TEST_FAULT=<point>:<n>` in the environment the process
//! aborts the n-th time it reaches `<point>`, as a kill at that moment would: no destructor runs,
//! temporary files stay behind. The integration tests use it to prove that the next run repairs
//! whatever a killed run left. Points: `rename` (before each rename of a write into `--out` or the
//! working tree), `index` (after apply wrote the index, before the commit moves the branch).
//! `PEERGEN_TEST_FAULT=fail-<point>:<n>` instead makes the n-th [`fails`] check at `<point>` report
//! an error, for the paths that must undo a half-done step (`commit`: apply's commit fails after
//! the files were written and staged).
//! `PEERGEN_TEST_PAUSE=<point>:<ms>` instead sleeps the first time `<point>` is reached, so a test
//! can act in that window. Pause points: `publish-read` (after `publish` read the registry, before
//! its transaction).

use std::sync::atomic::{AtomicU32, Ordering};

static REACHED: AtomicU32 = AtomicU32::new(0);

pub(crate) fn point(name: &str) {
    if reached(name) {
        std::process::abort();
    }
}

/// True when the test fault asks this check at `name` to fail.
pub(crate) fn fails(name: &str) -> bool {
    reached(&format!("fail-{name}"))
}

/// Whether the fault spec names `name` and this is its n-th arrival.
fn reached(name: &str) -> bool {
    let Ok(spec) = std::env::var("PEERGEN_TEST_FAULT") else {
        return false;
    };
    let Some((at, n)) = spec.split_once(':') else {
        return false;
    };
    if at != name {
        return false;
    }
    let reached = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    n.parse() == Ok(reached)
}

static PAUSED: AtomicU32 = AtomicU32::new(0);

pub(crate) fn pause(name: &str) {
    let Ok(spec) = std::env::var("PEERGEN_TEST_PAUSE") else {
        return;
    };
    let Some((at, ms)) = spec.split_once(':') else {
        return;
    };
    if at == name
        && let Ok(ms) = ms.parse()
        && PAUSED.fetch_add(1, Ordering::SeqCst) == 0
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
