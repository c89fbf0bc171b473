//! `peergen publish`: write one validator's own endpoints (what its inventory and templates
//! produce) into the etcd registry, in one compare-and-swap transaction touching only its keys.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::Error;
use super::cli::PublishArgs;
use super::source::{load, plan_cosmos};
use crate::cosmos::registry::{self, PublishRequest, Timing};

pub(super) fn run(args: &PublishArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let loaded = load(&args.inputs)?;
    registry::own_validator(&loaded.inventory, &args.only)?;
    let plan = plan_cosmos(&loaded)?;
    let settings = registry::settings(&loaded.inventory)?;
    let own = registry::desired(
        &plan,
        &loaded.inventory,
        settings,
        &loaded.state.provider.chain_id,
        &args.only,
        &args.consumers,
    )?;
    let timing = Timing {
        connect_timeout: Duration::from_secs_f64(args.net.connect_timeout),
        timeout: Duration::from_secs_f64(args.net.timeout),
        retries: args.net.retries,
        retry_backoff: Duration::from_millis(args.net.retry_backoff_ms),
    };
    let etcd = registry::connect(settings, timing)?;
    let updated = crate::cosmos::date::rfc3339(std::time::SystemTime::now());
    let published = registry::publish(
        &etcd,
        &PublishRequest {
            own: &own.prefix,
            desired: &own.desired,
            scope: own.scope.as_ref(),
            leave: &own.leave,
            lease_ttl: settings.lease_ttl,
            dry_run: args.dry_run,
            updated: &updated,
            backoff: timing.backoff(),
        },
    )?;
    writeln!(
        out,
        "registry {} read at revision {}",
        published.prefix, published.read_revision
    )?;
    for change in &published.changes {
        writeln!(out, "{change}")?;
    }
    for key in &published.left {
        writeln!(
            out,
            "  {key} left as it is (a registry-sourced sentry: its publisher writes it)"
        )?;
    }
    let n = published.changes.len();
    if n == 0 {
        writeln!(out, "no changes")?;
    } else if args.dry_run {
        writeln!(out, "dry run: {n} changes, nothing written")?;
    } else {
        writeln!(
            out,
            "published {n} changes in one transaction (attempt {})",
            published.attempts
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
