//! `peergen resolve`: re-resolve the SRV records of DNS-sourced validators (and, with an
//! `allowlist:`, the A/AAAA answers of planned host names) into the snapshot.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::Error;
use super::cli::ResolveArgs;
use super::source::load;
use crate::cosmos::dns::addresses;
use crate::cosmos::dns::srv::{self, SrvError};

pub(super) fn run(args: &ResolveArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let loaded = load(&args.inputs)?;
    let config = srv::ResolverConfig::new(args.nameserver, Duration::from_secs(args.timeout))?;
    let resolved = srv::resolve_endpoints(&loaded.inventory, &loaded.state, &config)?;
    let count = resolved.len();
    let mut state = loaded.state.clone();
    state.resolved_endpoints = resolved;
    let mut what = format!("{count} SRV records");
    if loaded.inventory.allowlist.is_some() {
        let plan = crate::cosmos::peers::plan(&loaded.inventory, &state).map_err(SrvError::from)?;
        state.resolved_addresses = addresses::resolve_addresses(&plan, &config)?;
        what.push_str(&format!(
            " and {} host names",
            state.resolved_addresses.len()
        ));
    }
    if state == loaded.state {
        // Same answers: the snapshot keeps its bytes and its modification time.
        writeln!(
            out,
            "resolved {what}: {} unchanged",
            loaded.state_path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    srv::write_snapshot(&loaded.state_path, &state)?;
    writeln!(out, "resolved {what} into {}", loaded.state_path.display())?;
    Ok(ExitCode::SUCCESS)
}
