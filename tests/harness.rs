//! A small harness around the built CLI: temp dirs, file helpers, and finding external validators.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// 2026-11-21 00:00:00 UTC, the date the snapshots were accepted on.
pub const PINNED_EPOCH: &str = "1795219200";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example_inventory() -> PathBuf {
    repo_root().join("inventories/example.yaml")
}

/// The bundled example inventory's text with its `node_key_file` made absolute, so the text can be
/// edited and written anywhere.
pub fn example_inventory_text() -> String {
    bundled_inventory_text("example.yaml")
}

/// A bundled inventory's text (`inventories/<name>`) with its `node_key_file` made absolute.
pub fn bundled_inventory_text(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("inventories").join(name))
        .unwrap()
        .replace(
            "keys/carol",
            &repo_root()
                .join("inventories/keys/carol")
                .display()
                .to_string(),
        )
}

pub fn example_state() -> PathBuf {
    repo_root().join("inventories/example-state.json")
}

/// The result of one CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.exit(0)
    }

    #[track_caller]
    pub fn failure(&self) -> &Self {
        self.exit(1)
    }

    #[track_caller]
    pub fn exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The whole of stderr, exactly.
    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stderr, expected, "stderr differs");
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

/// A scratch directory in which the CLI runs.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_peergen"));
        // A fresh render's zone serial is today's date (YYYYMMDD00); pinning the date keeps every
        // snapshot valid tomorrow. Tests of the date rule set their own SOURCE_DATE_EPOCH.
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", PINNED_EPOCH)
            .env_remove("PEERGEN_LOG");
        // Every server a test talks to is on loopback: a CI runner's proxy must not intercept it.
        for proxy in [
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ] {
            c.env_remove(proxy);
        }
        c
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(self.command().args(args).output().expect("run peergen"))
    }
}

/// An external validator the tests rely on. Missing is a failure, never a skip: CI installs them.
pub fn tool(name: &str) -> PathBuf {
    for dir in std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
    {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("external validator `{name}` is not installed; .ci/run installs it (see README)");
}

/// Every file under `dir` (relative path → content), skipping the manifest.
/// Every file under `dir` (not directories), depth first.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}
