//! `peergen render`: render and verify everything (the bytes spooled in `--out` as they come),
//! then write it into `--out`.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::RenderArgs;
use super::source::Source;
use crate::output::file::{Keep, Spool};
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
    let created = !args.out.exists();
    std::fs::create_dir_all(&args.out)
        .map_err(crate::output::tree::io(&args.out))
        .map_err(Error::from)?;
    let spool = Spool::new_in(&args.out).map_err(Error::from);
    let written = spool.and_then(|spool| {
        let (_, tree) = source.render(
            source.plan()?,
            &templates,
            args.only.as_deref(),
            Some(&previous),
            threads,
            &Keep::spooled(&spool, &args.out),
        )?;
        spool.sync()?;
        let report = tree.write(&args.out, args.only.as_deref(), args.force, threads)?;
        Ok((tree.len(), report))
    });
    let (files, report) = match written {
        Ok(written) => written,
        Err(e) => {
            // A directory this run made for its spool goes when nothing else is in it (nothing
            // was written before the failure).
            if created {
                let _ = std::fs::remove_dir(&args.out);
            }
            return Err(e);
        }
    };
    for removed in &report.removed {
        tracing::info!("removed {removed} (no longer generated)");
    }
    writeln!(
        out,
        "rendered {} files into {} (the ownership manifest included): {} written, {} unchanged, {} removed",
        files + 1,
        args.out.display(),
        report.written.len(),
        report.unchanged,
        report.removed.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
