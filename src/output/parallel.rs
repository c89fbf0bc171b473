//! Work spread over threads with the result of a serial run: items are claimed in input order,
//! results come back in input order, and the error reported is the first in input order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Bounds every parallel step of the process (planning's checks too, which are not told a
/// thread count) to `n` threads; the first call wins.
pub(crate) fn limit(n: usize) {
    let _ = LIMIT.set(n.max(1));
}

/// How many threads work uses when not told: the limit set, else every core the process may
/// run on.
pub(crate) fn default_threads() -> usize {
    LIMIT
        .get()
        .copied()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `f` applied to every item on up to `threads` threads. After an error no new item is started,
/// but every item before it finishes, so the error returned is the one a serial run would meet
/// first.
pub(crate) fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    try_map_with(items, threads, || Ok(()), |(), item| f(item))
}

/// [`try_map`] with per-thread state: each thread makes its own with `init` before its first
/// item (a failure counts as that item's error), for what cannot be shared between threads.
pub(crate) fn try_map_with<T: Sync, S, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    init: impl Fn() -> Result<S, E> + Sync,
    f: impl Fn(&mut S, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        let mut state = None;
        return items
            .iter()
            .map(|item| with_state(&mut state, &init, &f, item))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, E>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut state = None;
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = with_state(&mut state, &init, &f, item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        match slot
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => return Err(e),
            // Unstarted items all come after a failed one (items are claimed in order), whose
            // error returned above.
            None => {}
        }
    }
    Ok(out)
}

fn with_state<T, S, R, E>(
    state: &mut Option<S>,
    init: &impl Fn() -> Result<S, E>,
    f: &impl Fn(&mut S, &T) -> Result<R, E>,
    item: &T,
) -> Result<R, E> {
    let state = match state {
        Some(s) => s,
        None => state.insert(init()?),
    };
    f(state, item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_the_first_error_are_a_serial_runs() {
        let items: Vec<u32> = (0..200).collect();
        for threads in [1, 2, 3, 8] {
            let doubled = try_map(&items, threads, |&i| Ok::<_, ()>(i * 2)).unwrap();
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let failing = try_map(
                &items,
                threads,
                |&i| {
                    if i % 50 == 7 { Err(i) } else { Ok(i) }
                },
            );
            assert_eq!(failing, Err(7), "{threads} threads");
        }
    }
}
