//! The plan as a unified diff of every file (coloured only when asked), then the summary.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{file_diff, summary_line};
use crate::gitops::changes::Changes;
use crate::output::previous::Previous;

/// A file's diff, its header, hunk, added and removed lines styled when `color`.
fn painted(diff: String, color: bool) -> String {
    if !color {
        return diff;
    }
    let header = Style::new().bold();
    let hunk = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let added = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let removed = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let mut out = String::with_capacity(diff.len());
    for (i, line) in diff.split_inclusive('\n').enumerate() {
        let style = match line.as_bytes().first() {
            _ if i < 2 => header,
            Some(b'@') => hunk,
            Some(b'+') => added,
            Some(b'-') => removed,
            _ => Style::new(),
        };
        paint(&mut out, style, line);
    }
    out
}

/// Resets before the newline, so a pager or a later line never inherits the colour.
fn paint(out: &mut String, style: Style, line: &str) {
    let (body, newline) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
    if style != Style::new() {
        let _ = write!(
            out,
            "{}{body}{}{newline}",
            style.render(),
            style.render_reset()
        );
    } else {
        out.push_str(line);
    }
}

/// The unified diff of every file, then the summary, written to `w` a batch of files at a time
/// (a plan may change tens of thousands of files; the old side is read from `previous` as it
/// goes, and a batch's diffs are made on every thread). `prefix` is the output directory
/// relative to the repository root (empty or ending in `/`).
pub(crate) fn write(
    w: &mut dyn std::io::Write,
    changes: &Changes,
    previous: &dyn Previous,
    prefix: &str,
    color: bool,
) -> std::io::Result<()> {
    let threads = crate::output::parallel::default_threads();
    for batch in changes.files.chunks(256) {
        let mut items = Vec::with_capacity(batch.len());
        for f in batch {
            let old = f
                .old(previous)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            items.push((f, old));
        }
        let shown = crate::output::parallel::try_map(&items, threads, |(f, old)| {
            let new = f.read_new()?;
            let diff = file_diff(f, old.as_deref(), new.as_deref().map(Vec::as_slice), prefix);
            Ok::<_, crate::output::tree::TreeError>(painted(diff, color))
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        for text in shown {
            w.write_all(text.as_bytes())?;
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(changes));
    if !changes.needs_force.is_empty() {
        let _ = writeln!(out, "Would need --force:");
        for v in &changes.needs_force {
            let _ = writeln!(out, "  - {v}");
        }
    }
    w.write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::report::added_file;
    use crate::output::previous::NoPrevious;

    #[test]
    fn colour_only_when_asked() {
        let changes = Changes {
            files: vec![added_file("a.yaml", 4)],
            ..Changes::default()
        };
        let text = |color: bool| {
            let mut out = Vec::new();
            write(&mut out, &changes, &NoPrevious, "peers/", color).unwrap();
            String::from_utf8(out).unwrap()
        };
        let plain = text(false);
        assert!(!plain.contains('\x1b'));
        assert!(
            plain.starts_with("--- /dev/null\n+++ b/peers/a.yaml\n@@ -0,0 +1,2 @@\n+x\n+x\n"),
            "{plain}"
        );
        let coloured = text(true);
        assert!(coloured.contains("\x1b[32m+x\x1b[0m\n"), "{coloured:?}");
    }
}
