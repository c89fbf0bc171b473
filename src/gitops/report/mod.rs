//! How a plan is shown: a unified diff for people at a terminal ([`text`]), a Markdown
//! pull-request comment ([`markdown`]), and JSON for machines ([`json`]). Pure functions of
//! [`Changes`]; the caller decides where the text goes.

mod diagram;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod text;

use similar::TextDiff;

use crate::gitops::changes::{Action, Changes, FileChange};

fn lossy(bytes: Option<&[u8]>) -> std::borrow::Cow<'_, str> {
    // The strict check is the fast one; rendered files are UTF-8, so the lossy pass rarely runs.
    bytes.map_or(std::borrow::Cow::Borrowed(""), |b| {
        std::str::from_utf8(b)
            .map_or_else(|_| String::from_utf8_lossy(b), std::borrow::Cow::Borrowed)
    })
}

/// One file's unified diff with paths as `git apply` expects them from the repository root;
/// `old` is what the previous output holds there, `new` what the rendered tree holds.
pub(crate) fn file_diff(
    change: &FileChange,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
    prefix: &str,
) -> String {
    let old = lossy(old);
    let new = lossy(new);
    let (a, b) = headers(change, prefix);
    // A whole file added or removed is one hunk of every line: written directly, as the diff
    // would write it, since a first apply shows every file so. (The diff also ends lines at a
    // lone `\r`; rendered files hold none, and such text takes the diff.)
    match (
        old.is_empty() && !new.contains('\r'),
        new.is_empty() && !old.contains('\r'),
    ) {
        (true, false) => return whole(&a, &b, &new, '+'),
        (false, true) => return whole(&a, &b, &old, '-'),
        _ => {}
    }
    by_lines(&old, &new, &a, &b)
}

/// The `---` and `+++` names of a change's diff.
fn headers(change: &FileChange, prefix: &str) -> (String, String) {
    let path = format!("{prefix}{}", change.path);
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
    (a, b)
}

/// The line diff of `old` and `new`, as `git diff` shows it.
fn by_lines(old: &str, new: &str, a: &str, b: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(a, b)
        .to_string()
}

/// The unified diff of a non-empty `text` against nothing, its lines marked with `sign`.
fn whole(a: &str, b: &str, text: &str, sign: char) -> String {
    let lines = text.split_inclusive('\n').count();
    let range = if lines == 1 {
        "1".to_owned()
    } else {
        format!("1,{lines}")
    };
    let hunk = if sign == '+' {
        format!("@@ -0,0 +{range} @@\n")
    } else {
        format!("@@ -{range} +0,0 @@\n")
    };
    let mut out = String::with_capacity(text.len() + lines + a.len() + b.len() + hunk.len() + 64);
    out.push_str("--- ");
    out.push_str(a);
    out.push_str("\n+++ ");
    out.push_str(b);
    out.push('\n');
    out.push_str(&hunk);
    for line in text.split_inclusive('\n') {
        out.push(sign);
        out.push_str(line);
    }
    if !text.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
    out
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
        new: Some(crate::output::file::File::new(
            "x\n".repeat(bytes / 2).into_bytes(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::file::File;
    use proptest::prelude::*;

    fn by_similar(change: &FileChange, old: &str) -> String {
        let new = change.read_new().unwrap();
        let new = lossy(new.as_deref().map(Vec::as_slice));
        let (a, b) = headers(change, "peers/");
        by_lines(old, &new, &a, &b)
    }

    proptest! {
        #[test]
        fn a_whole_file_diff_is_the_diff_libraries(
            text in "(([a-z\"\\\\ ]{0,8}|\u{2028}|\r)\n?){1,12}",
            add in any::<bool>(),
        ) {
            prop_assume!(!text.is_empty());
            let change = FileChange {
                path: "v/c/peers.yaml".to_owned(),
                action: if add { Action::Add } else { Action::Remove },
                new: add.then(|| File::new(text.clone().into_bytes())),
            };
            let old = if add { "" } else { text.as_str() };
            prop_assert_eq!(
                file_diff(
                    &change,
                    (!add).then_some(old.as_bytes()),
                    add.then_some(text.as_bytes()),
                    "peers/"
                ),
                by_similar(&change, old)
            );
        }
    }
}
