//! How a plan is shown: a unified diff for people at a terminal ([`text`]), a Markdown
//! pull-request comment ([`markdown`]), and JSON for machines ([`json`]). Pure functions of
//! [`Changes`]; the caller decides where the text goes.

mod diagram;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod text;

use similar::TextDiff;

use crate::gitops::changes::{Action, Changes, FileChange};

fn lossy(bytes: Option<&[u8]>) -> String {
    bytes
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// One file's unified diff with paths as `git apply` expects them from the repository root;
/// `old` is what the previous output holds there.
pub(crate) fn file_diff(change: &FileChange, old: Option<&[u8]>, prefix: &str) -> String {
    let path = format!("{prefix}{}", change.path);
    let old = lossy(old);
    let new = lossy(change.new.as_deref());
    let a = if change.action == Action::Add {
        "/dev/null".to_owned()
    } else {
        format!("a/{path}")
    };
    let b = if change.action == Action::Remove {
        "/dev/null".to_owned()
    } else {
        format!("b/{path}")
    };
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(&a, &b)
        .to_string()
}

pub(crate) fn summary_line(changes: &Changes) -> String {
    if changes.is_empty() {
        return format!("No changes: {} files are up to date.", changes.unchanged);
    }
    let c = changes.counts();
    let restarts = match changes.restarts {
        0 => String::new(),
        1 => "; 1 running node restarts".to_owned(),
        n => format!("; {n} running nodes restart"),
    };
    format!(
        "Plan: {} to add, {} to change, {} to remove ({} unchanged){restarts}.",
        c.added, c.changed, c.removed, changes.unchanged
    )
}

/// A file added with `bytes` bytes of content, for the reports' tests.
#[cfg(test)]
fn added_file(path: &str, bytes: usize) -> FileChange {
    FileChange {
        path: path.to_owned(),
        action: Action::Add,
        new: Some("x\n".repeat(bytes / 2).into_bytes().into()),
    }
}
