//! Every command the README and `docs/` show in a `sh` code block runs as written, from a copy of
//! the repository's bundled inputs. Blocks meant as syntax (`COMMAND [OPTIONS]`) are plain
//! fences; a `sh` fence is a promise that the lines in it work.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// One runnable command: where it is written and its text (continuation lines joined).
struct DocCommand {
    at: String,
    text: String,
}

fn doc_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn commands(path: &Path) -> Vec<DocCommand> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path
        .strip_prefix(repo_root())
        .unwrap()
        .display()
        .to_string();
    scan(&name, &text)
}

/// `peergen …` and `cargo run -- …` lines of every `sh` fence, with `\` continuations joined and
/// trailing `# comments` dropped.
fn scan(name: &str, text: &str) -> Vec<DocCommand> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && lang.trim() == "sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (start, mut joined) = match pending.take() {
            Some((start, so_far)) => (start, format!("{so_far} {trimmed}")),
            None if trimmed.starts_with("peergen ") || trimmed.starts_with("cargo run -- ") => {
                (i + 1, trimmed.to_owned())
            }
            None => continue,
        };
        if let Some(rest) = joined.strip_suffix('\\') {
            pending = Some((start, rest.trim_end().to_owned()));
            continue;
        }
        // A `#` after blanks starts a comment; none of the commands quotes one.
        if let Some(at) = joined.find("  #").or_else(|| joined.find(" # ")) {
            joined.truncate(at);
        }
        out.push(DocCommand {
            at: format!("{name}:{start}"),
            text: joined.trim().to_owned(),
        });
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn every_sh_command_in_readme_and_docs_runs_as_written() {
    let all: Vec<DocCommand> = doc_files().iter().flat_map(|f| commands(f)).collect();
    assert!(
        all.iter().any(|c| c.at.starts_with("README.md")),
        "the README's main command was not found"
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_peergen"));
    let bin_dir = bin.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for c in &all {
        // Each command gets a fresh copy of the bundled inputs, as a reader's fresh clone.
        let env = Env::new();
        for dir in ["inventories", "templates", "docs"] {
            copy_dir(&repo_root().join(dir), &env.path(dir));
        }
        let script = c.text.replacen("cargo run -- ", "peergen ", 1);
        let out = Command::new("timeout")
            .args(["60", "sh", "-c", &script])
            .current_dir(env.dir.path())
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", "1764288000")
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        // `probe` exits 2 when the live network differs from the plan: nothing listens at the
        // bundled examples' addresses, so that is the documented outcome, not a failure.
        let ok = code == 0 || (code == 2 && script.contains(" probe "));
        if !ok {
            failures.push(format!(
                "{} `{}` exited {code}:\n{}",
                c.at,
                c.text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_command_scanner_joins_continuations_and_drops_comments() {
    let md = "text `peergen not-this`\n```sh\npeergen check -i a.yaml   # why\npeergen probe -i b \\\n  --self alice\necho skipped\n```\n```\npeergen SYNOPSIS [X]\n```\n";
    let found: Vec<String> = scan("x.md", md).into_iter().map(|c| c.text).collect();
    assert_eq!(
        found,
        ["peergen check -i a.yaml", "peergen probe -i b --self alice"]
    );
}
