//! `peergen plan`: what `apply` would change in a GitOps repository, as a diff, a pull-request
//! comment or JSON, with Terraform-style exit codes.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::{PlanArgs, PlanFormat, TargetArgs};
use super::source::Source;
use crate::gitops::changes::{self, Changes};
use crate::gitops::{self, GitopsError, report};
use crate::output::file::Keep;
use crate::output::previous::{Previous, PreviousDir, manifest_of};
use crate::output::removal;
use crate::output::template::Templates;
use crate::output::tree::MANIFEST;

pub(super) fn run(args: &PlanArgs, color: bool, out: &mut dyn Write) -> Result<ExitCode, Error> {
    compare(&args.target, args.check, args.detailed_exitcode, color, out)
}

/// Renders, compares with the repository's HEAD (or a plain directory), shows the plan; with
/// `check`, any difference is an error (`verify`).
pub(super) fn compare(
    args: &TargetArgs,
    check: bool,
    detailed: bool,
    color: bool,
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let source = Source::load(&args.inputs)?;
    let templates = Templates::new(args.templates.as_deref())?;
    let target = gitops::Target::new(&args.repo, &args.path)?;
    let out_dir = target.out_dir();
    let repo = gitops::plan_repo(&target)?;
    // HEAD's tree is read while the inputs are planned.
    let (plan, committed) = std::thread::scope(|s| {
        let planning = s.spawn(|| source.plan());
        let committed = repo.as_ref().map(|r| r.committed(&target)).transpose();
        let plan = planning
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (plan, committed)
    });
    let committed = committed?;
    let plan = plan?;
    let dir = PreviousDir::new(&out_dir);
    let base: &dyn Previous = match &committed {
        Some(c) => c,
        None => &dir,
    };
    if manifest_of(base)?.is_none() {
        // Also what a mistyped --path looks like: say it rather than report a plausible plan.
        tracing::warn!(
            "no peergen output under {} yet (no {MANIFEST}): everything is new",
            out_dir.display()
        );
    }
    let threads = super::cli::threads(args.threads);
    // What HEAD holds already is hashed and dropped as it is rendered.
    let ids = base.ids();
    let keep = ids
        .as_ref()
        .map_or(Keep::ALL, |ids| Keep::changed(ids, None));
    let (plan, tree) = source.render(
        plan,
        &templates,
        args.only.as_deref(),
        Some(base),
        threads,
        &keep,
    )?;
    tree.hash(threads)?;
    let joins = match args.format {
        PlanFormat::Text => changes::JoinLists::Counted,
        PlanFormat::Markdown | PlanFormat::Json => changes::JoinLists::Listed,
    };
    let mut changes = changes::compare(
        &tree,
        base,
        args.only.as_deref(),
        plan.as_ref(),
        threads,
        joins,
    )?;
    changes.needs_force = changes.threshold_violations(removal::DEFAULT_MAX_PERCENT);
    show(out, args.format, color, &changes, base, &target.prefix())?;
    let changed = changes.files.len();
    // The command ends here: freeing a fleet's plan and tree one allocation at a time (tens of
    // milliseconds) is work nobody waits for, so it is left to the process's exit.
    std::mem::forget((changes, tree, plan, source));
    if check && changed > 0 {
        return Err(GitopsError::Drift {
            path: out_dir.display().to_string(),
            files: changed,
        }
        .into());
    }
    Ok(if detailed && changed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the plan in the chosen format.
pub(super) fn show(
    out: &mut dyn Write,
    format: PlanFormat,
    color: bool,
    changes: &Changes,
    previous: &dyn Previous,
    prefix: &str,
) -> Result<(), Error> {
    let text = match format {
        PlanFormat::Text => {
            report::text::write(out, changes, previous, prefix, color)?;
            return Ok(());
        }
        PlanFormat::Markdown => report::markdown::markdown(changes, previous, prefix)?,
        PlanFormat::Json => report::json::json(changes, prefix),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}
