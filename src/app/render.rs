//! `peergen render`: render and verify everything in memory, then write it into `--out`.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::RenderArgs;
use super::source::Source;
use crate::output::file::Keep;
use crate::output::lock::DirLock;
use crate::output::previous::PreviousDir;
use crate::output::template::Templates;

pub(super) fn run(args: &RenderArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    // Held from reading the previous output (zone serials) to the last rename.
    let _lock = DirLock::exclusive_for(&args.out)?;
    let source = Source::load(&args.inputs)?;
    let templates = Templates::new(args.templates.as_deref())?;
    let previous = PreviousDir::new(&args.out);
    let threads = super::cli::threads(args.threads);
    let (_, tree) = source.render(
        &templates,
        args.only.as_deref(),
        Some(&previous),
        threads,
        &Keep::ALL,
    )?;
    let report = tree.write(&args.out, args.only.as_deref(), args.force, threads)?;
    for removed in &report.removed {
        tracing::info!("removed {removed} (no longer generated)");
    }
    writeln!(
        out,
        "rendered {} files into {} (the ownership manifest included): {} written, {} unchanged, {} removed",
        tree.len() + 1,
        args.out.display(),
        report.written.len(),
        report.unchanged,
        report.removed.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
