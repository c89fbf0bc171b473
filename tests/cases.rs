//! Error-path cases as files: `tests/cases/<name>.toml` holds the command line, the input files it
//! writes into a scratch directory, and the exact exit code and stderr. Adding a case is adding a
//! file; `PEERGEN_CASES=overwrite cargo test cases` rewrites the expectations from what the CLI
//! now prints (review the diff before committing it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::harness::*;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case is about, for whoever reads a failure.
    about: String,
    /// Arguments after `peergen`. `{example_state}` and `{repo}` are replaced by absolute paths.
    args: Vec<String>,
    /// Files written into the scratch directory before the run, by relative path.
    #[serde(default)]
    files: BTreeMap<String, String>,
    code: i32,
    #[serde(default)]
    stdout: String,
    stderr: String,
}

fn expand(text: &str) -> String {
    text.replace("{example_state}", &example_state().display().to_string())
        .replace("{repo}", &repo_root().display().to_string())
}

/// The other way round: machine-specific paths in the output become the placeholders.
fn placeholders(text: &str, scratch: &Path) -> String {
    text.replace(&example_state().display().to_string(), "{example_state}")
        .replace(&repo_root().display().to_string(), "{repo}")
        .replace(&scratch.display().to_string(), "{scratch}")
}

#[test]
fn every_case_file_gives_its_exit_code_and_exact_output() {
    let overwrite = std::env::var("PEERGEN_CASES").is_ok_and(|v| v == "overwrite");
    let dir = repo_root().join("tests/cases");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "tests/cases holds too few cases");
    let mut failures = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut case: Case =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let env = Env::new();
        for (rel, content) in &case.files {
            env.write(rel, &expand(content));
        }
        let run = env.run(case.args.iter().map(|a| expand(a)));
        let stdout = placeholders(&run.stdout, env.dir.path());
        let stderr = placeholders(&run.stderr, env.dir.path());
        if overwrite {
            case.code = run.code;
            case.stdout = stdout;
            case.stderr = stderr;
            std::fs::write(&path, toml::to_string(&case).unwrap()).unwrap();
            continue;
        }
        if (run.code, &stdout, &stderr) != (case.code, &case.stdout, &case.stderr) {
            failures.push(format!(
                "{} ({}):\n  exit {} (expected {})\n  stdout:\n{stdout}\n  stderr:\n{stderr}\n  expected stderr:\n{}",
                path.display(),
                case.about,
                run.code,
                case.code,
                case.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
