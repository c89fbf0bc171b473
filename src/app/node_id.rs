//! `peergen node-id`: a CometBFT node ID from its `node_key.json`.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::NodeIdArgs;
use crate::cosmos::node_id;

pub(super) fn run(args: &NodeIdArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let id = node_id::from_node_key_file(&args.file)?;
    writeln!(out, "{id}")?;
    Ok(ExitCode::SUCCESS)
}
