//! The shipped workflows' own shell steps, run against real git repositories with a bare remote:
//! a squash merge applies exactly the plan reviewed on the pull request (same zone serials, same
//! checksum), and a plan that no longer covers the pull request's head applies nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

const DAY0: &str = "1767182400"; // 2025-12-31 12:00 UTC: main's first output
const DAY1: &str = "1768046400"; // 2026-01-10 12:00 UTC: the pull request's commit
const DAY2: &str = "1768132800"; // 2026-01-11 12:00 UTC: the squash merge
const REPO: &str = "example/gitops";

fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Human",
            "-c",
            "user.email=human@example.org",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", format!("@{date} +0000"))
        .env("GIT_COMMITTER_DATE", format!("@{date} +0000"))
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `run:` script of the step called `name` in `job` of `.github/workflows/<workflow>`, and
/// the workflow's top-level `env`.
fn step(workflow: &str, job: &str, name: &str) -> (String, BTreeMap<String, String>) {
    let path = repo_root().join(".github/workflows").join(workflow);
    let doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let env = doc["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let script = doc["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{workflow}: job {job} has no step {name:?}"))["run"]
        .as_str()
        .unwrap()
        .to_owned();
    (script, env)
}

/// A runner for workflow steps: GITHUB_ENV carried from step to step as Actions does, peergen and
/// a `gh` that answers `gh api` from fixture files through `jq` (as `gh api --jq` does) on PATH.
struct Runner {
    env: Env,
    vars: std::cell::RefCell<BTreeMap<String, String>>,
}

impl Runner {
    fn new() -> Runner {
        let env = Env::new();
        let gh = env.write(
            "bin/gh",
            r#"#!/usr/bin/env bash
set -euo pipefail
[ "$1" = api ] || exit 97
shift
path="" expr=.
while [ $# -gt 0 ]; do
  case $1 in
    --paginate) ;;
    --jq) expr=$2; shift ;;
    -*) exit 98 ;;
    *) path=$1 ;;
  esac
  shift
done
exec jq -r "$expr" "$GH_FIXTURES/${path//\//_}.json"
"#,
        );
        std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        tool("jq");
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_peergen"));
        let path = format!(
            "{}:{}:{}",
            env.path("bin").display(),
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        );
        std::fs::create_dir_all(env.path("fixtures")).unwrap();
        let vars = BTreeMap::from([("PATH".to_owned(), path)]);
        Runner {
            env,
            vars: std::cell::RefCell::new(vars),
        }
    }

    fn var(&self, name: &str) -> String {
        self.vars.borrow()[name].clone()
    }

    fn fixture(&self, api_path: &str, json: &serde_json::Value) {
        self.env.write(
            &format!("fixtures/{}.json", api_path.replace('/', "_")),
            &json.to_string(),
        );
    }

    /// Runs a step's script in `dir` as Actions does (`bash -e -o pipefail`), then takes what it
    /// wrote to GITHUB_ENV into the environment of the steps that follow.
    fn run(
        &self,
        dir: &Path,
        step: &(String, BTreeMap<String, String>),
        extra: &[(&str, &str)],
    ) -> Output {
        let (script, workflow_env) = step;
        let github_env = self.env.path("github_env");
        std::fs::write(&github_env, "").unwrap();
        let out = Command::new("bash")
            .args([
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
                script,
            ])
            .current_dir(dir)
            .env_clear()
            .envs(workflow_env)
            .envs(self.vars.borrow().clone())
            .envs(extra.iter().copied())
            .env("HOME", self.env.path("home"))
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GITHUB_ENV", &github_env)
            .env("GITHUB_OUTPUT", self.env.path("github_output"))
            .env("RUNNER_TEMP", self.env.path(""))
            .env("GH_FIXTURES", self.env.path("fixtures"))
            .output()
            .expect("run bash");
        for line in std::fs::read_to_string(&github_env).unwrap().lines() {
            let (k, v) = line.split_once('=').unwrap();
            self.vars.borrow_mut().insert(k.to_owned(), v.to_owned());
        }
        out
    }
}

fn zone(tree: &BTreeMap<String, String>) -> &str {
    tree.iter()
        .find(|(k, _)| k.starts_with("dns/") && k.ends_with(".zone"))
        .map(|(_, v)| v.as_str())
        .expect("a zone file in the output")
}

/// main holds inputs and output; a pull request changes the zone's TTL on DAY1 and is planned;
/// it is squash-merged on DAY2; the apply job runs in a fresh clone of the remote.
fn reviewed_and_squash_merged(runner: &Runner) -> (PathBuf, String, String, String) {
    let env = &runner.env;
    let root = env.path("");
    git_at(&root, DAY0, &["init", "-q", "--bare", "remote.git"]);
    git_at(&root, DAY0, &["clone", "-q", "remote.git", "main"]);
    let main = env.path("main");
    let inventory = example_inventory_text();
    env.write("main/inventory.yaml", &inventory);
    env.write(
        "main/provider-state.json",
        &std::fs::read_to_string(example_state()).unwrap(),
    );
    git_at(&main, DAY0, &["add", "."]);
    git_at(&main, DAY0, &["commit", "-q", "-m", "inputs"]);
    let first = env
        .command()
        .current_dir(&main)
        .env("SOURCE_DATE_EPOCH", DAY0)
        .args([
            "apply",
            "-i",
            "inventory.yaml",
            "--state",
            "provider-state.json",
        ])
        .args(["--repo", ".", "--path", "peers", "--push", "origin"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first));

    git_at(&root, DAY1, &["clone", "-q", "remote.git", "pr"]);
    let pr = env.path("pr");
    git_at(&pr, DAY1, &["switch", "-q", "-c", "ttl"]);
    let changed = inventory.replace("      ttl: 3600\n", "      ttl: 1800\n");
    assert_ne!(changed, inventory);
    env.write("pr/inventory.yaml", &changed);
    git_at(&pr, DAY1, &["commit", "-q", "-am", "shorter zone TTL"]);
    let head = git_at(&pr, DAY1, &["rev-parse", "HEAD"]);

    // peergen-pr.yml on the pull request.
    let pin = step("peergen-pr.yml", "plan", "Pin the zone serial date");
    let out = runner.run(&pr, &pin, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(runner.var("SOURCE_DATE_EPOCH"), DAY1);
    let plan = step("peergen-pr.yml", "plan", "Plan");
    let out = runner.run(&pr, &plan, &[("HEAD_SHA", &head)]);
    assert!(out.status.success(), "{}", text(&out));
    let comment = runner.env.read("plan.md");
    assert!(comment.starts_with("<!-- peergen-plan -->\n"), "{comment}");
    let checksum = comment
        .lines()
        .find_map(|l| l.strip_prefix("Plan checksum: `"))
        .unwrap()
        .trim_end_matches('`')
        .to_owned();

    // The merge button's squash: one new commit on main, dated the day after the review.
    git_at(&main, DAY2, &["pull", "-q", "--ff-only", "origin", "main"]);
    git_at(&main, DAY2, &["fetch", "-q", "../pr", "ttl"]);
    git_at(&main, DAY2, &["merge", "-q", "--squash", "FETCH_HEAD"]);
    git_at(
        &main,
        DAY2,
        &["commit", "-q", "-m", "shorter zone TTL (#7)"],
    );
    git_at(&main, DAY2, &["push", "-q", "origin", "main"]);
    let merged = git_at(&main, DAY2, &["rev-parse", "HEAD"]);
    git_at(&root, DAY2, &["clone", "-q", "remote.git", "apply"]);

    runner.fixture(
        &format!("repos/{REPO}/commits/{merged}/pulls"),
        &serde_json::json!([{"number": 7, "merged_at": "2026-01-11T12:00:00Z", "base": {"ref": "main"}}]),
    );
    // A forged plan comment by someone else, posted last: it must be ignored.
    let forged = format!(
        "<!-- peergen-plan -->\nPlan checksum: `{}`\n\n<!-- peergen-plan-epoch: 1 -->\n<!-- peergen-plan-head: {head} -->\n",
        "0".repeat(64)
    );
    runner.fixture(
        &format!("repos/{REPO}/issues/7/comments"),
        &serde_json::json!([
            {"user": {"login": "github-actions[bot]"}, "body": comment},
            {"user": {"login": "mallory"}, "body": forged},
        ]),
    );
    (env.path("apply"), head, merged, checksum)
}

#[test]
fn a_squash_merge_applies_the_reviewed_plan_byte_for_byte() {
    let runner = Runner::new();
    let (apply, head, merged, checksum) = reviewed_and_squash_merged(&runner);
    runner.fixture(
        &format!("repos/{REPO}/pulls/7"),
        &serde_json::json!({"head": {"sha": head}}),
    );
    // What the reviewer saw: the pull request's plan applied on its own branch (never pushed).
    let reviewed = runner
        .env
        .command()
        .current_dir(runner.env.path("pr"))
        .env("SOURCE_DATE_EPOCH", DAY1)
        .args([
            "apply",
            "-i",
            "inventory.yaml",
            "--state",
            "provider-state.json",
        ])
        .args([
            "--repo",
            ".",
            "--path",
            "peers",
            "--plan-checksum",
            &checksum,
        ])
        .output()
        .unwrap();
    assert!(reviewed.status.success(), "{}", text(&reviewed));
    let reviewed = read_tree(&runner.env.path("pr/peers"));
    assert!(
        zone(&reviewed).contains("2026011000"),
        "{}",
        zone(&reviewed)
    );

    // Recomputing the date on main, as the workflows used to, takes the squash commit's day: the
    // serial and so the checksum would differ from the reviewed plan.
    let naive = git_at(
        &apply,
        DAY2,
        &[
            "log",
            "-1",
            "--format=%ct",
            "--",
            "inventory.yaml",
            "provider-state.json",
        ],
    );
    assert_eq!(naive, DAY2);
    let replan = runner
        .env
        .command()
        .current_dir(&apply)
        .env("SOURCE_DATE_EPOCH", &naive)
        .args([
            "plan",
            "-i",
            "inventory.yaml",
            "--state",
            "provider-state.json",
        ])
        .args(["--repo", ".", "--path", "peers", "--format", "json"])
        .output()
        .unwrap();
    let replan: serde_json::Value = serde_json::from_slice(&replan.stdout).unwrap();
    assert_ne!(replan["checksum"], checksum.as_str());

    // peergen-apply.yml on the push of the squash commit.
    let push = [
        ("GH_TOKEN", "unused"),
        ("REPO", REPO),
        ("SHA", merged.as_str()),
        ("EVENT", "push"),
    ];
    let bind = step(
        "peergen-apply.yml",
        "apply",
        "Bind the apply to the reviewed plan",
    );
    let out = runner.run(&apply, &bind, &push);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(runner.var("SOURCE_DATE_EPOCH"), DAY1);
    assert_eq!(runner.var("PLAN_CHECKSUM"), checksum);
    let apply_step = step("peergen-apply.yml", "apply", "Apply and push");
    let out = runner.run(
        &apply,
        &apply_step,
        &[
            ("GIT_AUTHOR_NAME", "github-actions[bot]"),
            ("GIT_AUTHOR_EMAIL", "bot@example.org"),
            ("FORCE", ""),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pushed to origin"), "{}", text(&out));

    // The remote now holds exactly the reviewed bytes.
    git_at(
        &runner.env.path("main"),
        DAY2,
        &["pull", "-q", "--ff-only", "origin", "main"],
    );
    let applied = read_tree(&runner.env.path("main/peers"));
    assert_eq!(applied, reviewed);
    assert!(!zone(&applied).contains("2026011100"));
}

#[test]
fn a_merge_whose_last_commit_was_never_planned_applies_nothing() {
    let runner = Runner::new();
    let (apply, _head, merged, _checksum) = reviewed_and_squash_merged(&runner);
    // A commit pushed after the plan comment was written, merged before the plan re-ran.
    runner.fixture(
        &format!("repos/{REPO}/pulls/7"),
        &serde_json::json!({"head": {"sha": "1".repeat(40)}}),
    );
    let before = git_at(&apply, DAY2, &["ls-remote", "origin", "main"]);
    let bind = step(
        "peergen-apply.yml",
        "apply",
        "Bind the apply to the reviewed plan",
    );
    let push = [
        ("GH_TOKEN", "unused"),
        ("REPO", REPO),
        ("SHA", merged.as_str()),
        ("EVENT", "push"),
    ];
    let out = runner.run(&apply, &bind, &push);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("#7 was merged without a plan of its last commit"),
        "{}",
        text(&out)
    );
    assert!(!runner.vars.borrow().contains_key("PLAN_CHECKSUM"));
    assert_eq!(
        git_at(&apply, DAY2, &["ls-remote", "origin", "main"]),
        before
    );
}
