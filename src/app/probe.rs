//! `peergen probe`: does the live network match the plan? Dials every planned peer address of the
//! scope (never anything else), checks node IDs and networks through CometBFT's handshake, asks own
//! nodes over RPC, and reports with Terraform-style exit codes (0 matches, 2 mismatch, 1 error).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::Error;
use super::cli::{ProbeArgs, ProbeFormat};
use super::source::{self, Source};
use crate::probe::report::{self, Report};
use crate::probe::{rpc, run, scope, stellar};

pub(super) fn run(args: &ProbeArgs, color: bool, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let scope = match Source::load(&args.inputs)? {
        Source::Cosmos(loaded) => {
            if !args.admin.is_empty() {
                return Err(Error::usage(
                    "--admin names stellar-core admin endpoints; Cosmos nodes take `rpc_template` in the inventory",
                ));
            }
            let plan = source::plan_cosmos(&loaded)?;
            scope::cosmos(
                &plan,
                &loaded.inventory,
                args.only.as_deref(),
                &args.consumers,
            )?
        }
        Source::Stellar(inventory) => {
            if !args.consumers.is_empty() {
                return Err(Error::usage(
                    "--consumer selects Cosmos consumer chains; a Stellar inventory has none",
                ));
            }
            scope::stellar(&inventory, args.only.as_deref(), &args.admin)?
        }
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    tracing::info!(
        "probing {} planned peer addresses, {} at a time, {} s each",
        scope.targets.len(),
        args.concurrency,
        args.timeout
    );
    let limits = run::Limits {
        timeout,
        concurrency: usize::from(args.concurrency),
    };
    let report = Report {
        peers: run::probe_all(&scope.targets, limits)?,
        nodes: rpc::check(&scope.rpc, timeout),
        stellar: stellar::check(&scope.admin, timeout),
    };
    let text = match args.format {
        ProbeFormat::Text => report::text::text(&report, color),
        ProbeFormat::Markdown => report::markdown::markdown(&report),
        ProbeFormat::Json => report::json::json(&report),
        ProbeFormat::Prometheus => report::prometheus::prometheus(&report),
    };
    if let Some(path) = &args.metrics {
        write_atomically(path, &report::prometheus::prometheus(&report))?;
    }
    out.write_all(text.as_bytes())?;
    Ok(if report.has_mismatch() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The collector may read the file at any moment: it is written beside its place and renamed in.
fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| Error::usage(format!("--metrics {}: {e}", path.display()));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    // A temporary file is private to its owner; the collector usually runs as another user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
