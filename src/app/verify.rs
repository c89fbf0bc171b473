//! `peergen verify`: fail when the committed output is not what the inputs produce.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::TargetArgs;

pub(super) fn run(args: &TargetArgs, color: bool, out: &mut dyn Write) -> Result<ExitCode, Error> {
    super::plan::compare(args, true, false, color, out)
}
