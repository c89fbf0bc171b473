//! `peergen apply`: write the rendered output into a GitOps repository, commit it (one commit, or
//! none when nothing changed) and optionally push it.

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::{ApplyArgs, PlanFormat};
use super::source::Source;
use crate::gitops::changes::{Changes, JoinLists};
use crate::gitops::{self, ApplyOptions, GitopsError};
use crate::output::file::Keep;
use crate::output::previous::Previous;
use crate::output::template::Templates;

pub(super) fn run(args: ApplyArgs, color: bool, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let source = Source::load(&args.target.inputs)?;
    let templates = Templates::new(args.target.templates.as_deref())?;
    let target = gitops::Target::new(&args.target.repo, &args.target.path)?;
    let message_template = args
        .message_template
        .as_ref()
        .map(|p| {
            crate::input::file::read_text(p, crate::input::file::TEXT_LIMIT)
                .map_err(|e| GitopsError::Message(format!("{}: {e}", p.display())))
        })
        .transpose()?;
    // A custom message template is documented to see every peer list.
    let joins = if args.target.format == PlanFormat::Text && message_template.is_none() {
        JoinLists::Counted
    } else {
        JoinLists::Listed
    };
    let opts = ApplyOptions {
        only: args.target.only.clone(),
        branch: args.branch,
        push: args.push,
        plan_checksum: args.plan_checksum,
        force: args.force,
        max_removal_percent: args.max_peer_removal_percent,
        message_template,
        author_name: args.author_name,
        author_email: args.author_email,
        max_push_attempts: args.max_push_attempts,
        threads: super::cli::threads(args.target.threads),
        joins,
    };
    let (format, prefix) = (args.target.format, target.prefix());
    let only = args.target.only.as_deref();
    let threads = opts.threads;
    let mut render = |previous: &dyn Previous, keep: &Keep<'_>| {
        source.render(
            source.plan()?,
            &templates,
            only,
            Some(previous),
            threads,
            keep,
        )
    };
    let mut show = |c: &Changes, previous: &dyn Previous| {
        super::plan::show(&mut *out, format, color, c, previous, &prefix)
    };
    let outcome = gitops::apply(&target, &opts, &mut render, &mut show)?;
    let done = match outcome.commit {
        Some(oid) => format!("committed {oid} on {}", outcome.branch),
        None => format!("no commit: {} already holds this output", outcome.branch),
    };
    let mut tail = match (&opts.push, outcome.pushed) {
        (Some(remote), true) => format!("; pushed to {remote} (attempt {})", outcome.attempts),
        _ => String::new(),
    };
    if let Some(from) = &outcome.switched_from {
        tail.push_str(&format!(
            "; the working copy is now on {} (it was on {from})",
            outcome.branch
        ));
    }
    if format == PlanFormat::Text {
        writeln!(out, "{done}{tail}")?;
    } else {
        tracing::info!("{done}{tail}");
    }
    Ok(ExitCode::SUCCESS)
}
