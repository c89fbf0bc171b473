//! `peergen port`: the ICS Monitor hash port of consumer ids.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::PortArgs;
use crate::cosmos::peers::port;

pub(super) fn run(args: &PortArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for id in &args.consumer_ids {
        let p = port::hash_port(id);
        writeln!(out, "{id}\t{p}")?;
        if let Some(other) = seen.insert(p, id) {
            tracing::warn!(
                "consumers {other} and {id} share port {p}: a validator serving both on one host needs a port override"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
