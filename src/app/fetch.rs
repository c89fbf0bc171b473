//! `peergen fetch`: lock the provider's state (and DNS-published endpoints) into the snapshot.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::Error;
use super::cli::{FetchArgs, FetchPhase};
use crate::cosmos::fetch::{self, FetchRequest, Written};
use crate::cosmos::inventory;
use crate::cosmos::state::Phase;

pub(super) fn run(args: &FetchArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let inventory = inventory::load(&args.inventory)?;
    let request = FetchRequest {
        provider: args.provider.clone(),
        consumers: args.consumers.clone(),
        out: args.out.clone(),
        phases: args
            .phases
            .iter()
            .map(|p| match p {
                FetchPhase::Registered => Phase::Registered,
                FetchPhase::Initialized => Phase::Initialized,
                FetchPhase::Launched => Phase::Launched,
            })
            .collect(),
        force: args.force,
        timeout: Duration::from_secs_f64(args.net.timeout),
        connect_timeout: Duration::from_secs_f64(args.net.connect_timeout),
        retries: args.net.retries,
        retry_backoff: Duration::from_millis(args.net.retry_backoff_ms),
        concurrency: usize::from(args.concurrency),
        max_drop_percent: args.max_drop_percent,
        with_timestamp: args.with_timestamp,
        nameserver: args.nameserver,
        dns_timeout: Duration::from_secs(args.dns_timeout),
        registry_revision: args.registry_revision,
    };
    let fetched = fetch::fetch(&request, &inventory)?;
    // The changes are shown before the safety limits are applied, so a refusal says why.
    for line in fetched.summary() {
        writeln!(out, "{line}")?;
    }
    match fetched.write()? {
        Written::Unchanged(path) => writeln!(out, "no changes; {} not rewritten", path.display())?,
        Written::Wrote(path) => writeln!(out, "wrote {}", path.display())?,
    }
    Ok(ExitCode::SUCCESS)
}
