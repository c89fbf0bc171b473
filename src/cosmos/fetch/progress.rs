//! Progress of the per-consumer queries: a bar on a terminal, one log line per consumer otherwise.

use std::io::IsTerminal;

use crate::cosmos::state::Consumer;

pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub(super) fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} consumers {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar }
    }

    pub(super) fn done(&self, c: &Consumer) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{} ({})", c.consumer_id, c.chain_id));
                bar.inc(1);
            }
            None => tracing::info!(
                "consumer {} ({}, {}): {} validators, {} opted in",
                c.consumer_id,
                c.chain_id,
                c.phase.as_str(),
                c.validators.len(),
                c.opted_in.len()
            ),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
