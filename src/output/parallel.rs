//! Work spread over threads with the result of a serial run: items are claimed in input order,
//! results come back in input order, and the error reported is the first in input order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many threads a render uses when not told: every core the process may run on.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `f` applied to every item on up to `threads` threads. After an error no new item is started,
/// but every item before it finishes, so the error returned is the one a serial run would meet
/// first.
pub(crate) fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, E>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
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
