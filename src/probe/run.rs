//! One probe run over the scope's targets: bounded concurrency, and every target bounded by the
//! timeout, so a run over N targets ends within timeout × ceil(N / concurrency) and a little. Each
//! target's blocking work (lookup, connect, handshake) runs on a thread of its own: a panic in
//! the handshake library ends that target only, and a peer that never answers is cut off at the
//! deadline the probe keeps itself.

use std::io::IsTerminal;
use std::net::{IpAddr, Shutdown};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, PoisonError, mpsc};
use std::time::{Duration, Instant};

use super::ProbeError;
use super::dial::{self, Step};
use super::handshake::{self, ProbeKey, Seen};
use super::scope::{Network, Target};
use super::verdict::Verdict;

/// The name of the threads a panic hook keeps quiet: their panics become verdicts.
const PEER_THREAD: &str = "peergen-probe-peer";

#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) concurrency: usize,
}

/// What one target turned out to be.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) target: Target,
    pub(crate) resolved: Vec<IpAddr>,
    pub(crate) verdict: Verdict,
    pub(crate) seen: Option<Seen>,
    /// Connect plus handshake (Cosmos) or connect (Stellar), when it completed.
    pub(crate) seconds: Option<f64>,
}

/// Probes every target, results in target order.
pub(crate) fn probe_all(targets: &[Target], limits: Limits) -> Result<Vec<Outcome>, ProbeError> {
    quiet_peer_panics();
    let key = ProbeKey::generate();
    let progress = Progress::new(targets.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; targets.len()]);
    let workers = limits.concurrency.clamp(1, targets.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            std::thread::Builder::new()
                .name("peergen-probe".to_owned())
                .spawn_scoped(s, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(target) = targets.get(i) else { break };
                        let outcome = probe_one(target, &key, limits.timeout);
                        progress.done(&outcome);
                        results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(outcome);
                    }
                })
                .map_err(ProbeError::Threads)?;
        }
        Ok::<(), ProbeError>(())
    })?;
    progress.finish();
    Ok(results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .zip(targets)
        .map(|(o, t)| {
            o.unwrap_or_else(|| Outcome {
                target: t.clone(),
                resolved: Vec::new(),
                verdict: Verdict::HandshakeFailed("the probe thread ended early".to_owned()),
                seen: None,
                seconds: None,
            })
        })
        .collect())
}

/// One target within `timeout`, whatever the peer does.
fn probe_one(target: &Target, key: &ProbeKey, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let deadline = started + timeout;
    let shared = dial::shared();
    let (tx, rx) = mpsc::channel();
    let work = {
        let (target, key, shared) = (target.clone(), key.clone(), shared.clone());
        move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(&target, &key, deadline, &shared)
            }));
            let _ = tx.send(result.map_err(|panic| panic_text(&*panic)));
        }
    };
    let spawned = std::thread::Builder::new()
        .name(PEER_THREAD.to_owned())
        .spawn(work);
    let result = match spawned {
        Err(e) => Err(Verdict::HandshakeFailed(format!(
            "cannot start a probe thread: {e}"
        ))),
        Ok(_detached) => {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Ok(result)) => result,
                Ok(Err(panic)) => Err(Verdict::HandshakeFailed(format!(
                    "the handshake library panicked on the peer's bytes: {panic}"
                ))),
                Err(_) => {
                    // The thread may sit in a lookup or a read: cut its connection and leave it.
                    let mut p = dial::lock(&shared);
                    if let Some(stream) = p.stream.take() {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                    Err(dial::timeout(p.step))
                }
            }
        }
    };
    let resolved = dial::lock(&shared).resolved.clone();
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(seen) => {
            let verdict = match (&target.node_id, &target.network, &seen) {
                (Some(expected), _, Some(seen)) if *expected != seen.node_id => {
                    Verdict::IdMismatch {
                        expected: expected.clone(),
                        seen: seen.node_id.clone(),
                    }
                }
                (_, Network::Cosmos { chain_id, .. }, Some(seen)) if *chain_id != seen.network => {
                    Verdict::WrongNetwork {
                        expected: chain_id.clone(),
                        seen: seen.network.clone(),
                    }
                }
                _ => Verdict::Ok,
            };
            Outcome {
                target: target.clone(),
                resolved,
                verdict,
                seen,
                seconds: Some(seconds),
            }
        }
        Err(verdict) => Outcome {
            target: target.clone(),
            resolved,
            verdict,
            seen: None,
            seconds: None,
        },
    }
}

/// The blocking part: connect, and on Cosmos the handshake. An error after the deadline is the
/// deadline's doing (the library keeps I/O errors as text only), so it reads as a timeout.
fn check(
    target: &Target,
    key: &ProbeKey,
    deadline: Instant,
    shared: &dial::Shared,
) -> Result<Option<Seen>, Verdict> {
    let stream = dial::connect(&target.address, deadline, shared)?;
    let Network::Cosmos { chain_id, .. } = &target.network else {
        return Ok(None);
    };
    match handshake::handshake(stream, key, chain_id) {
        Ok(seen) => Ok(Some(seen)),
        Err(_) if dial::remaining(deadline).is_none() => Err(dial::timeout(Step::Handshake)),
        Err(why) => Err(Verdict::HandshakeFailed(why)),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// A peer's bytes making the handshake library panic is a verdict, not a crash report on stderr:
/// panics on peer threads are logged at debug level; every other panic reaches the usual hook.
fn quiet_peer_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(PEER_THREAD) {
                tracing::debug!("contained a panic in the handshake: {info}");
            } else {
                previous(info);
            }
        }));
    });
}

/// A bar on a terminal, one log line per peer otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} peers {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar }
    }

    fn done(&self, o: &Outcome) {
        let printable = crate::input::printable::printable;
        let peer = printable(&o.target.peer);
        match &self.bar {
            Some(bar) => {
                bar.set_message(peer);
                bar.inc(1);
            }
            None => tracing::info!(
                "{} {peer} {}: {}",
                printable(o.target.network.name()),
                o.target.address,
                o.verdict.name()
            ),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
