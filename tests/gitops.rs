//! plan / verify / apply against real git repositories: a bare remote and clones in a temp dir,
//! every commit checked with the `git` CLI.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// Runs the git CLI in `dir` and returns its stdout; any failure fails the test.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Human",
            "-c",
            "user.email=human@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn commits(dir: &Path, rev: &str) -> usize {
    git(dir, &["rev-list", "--count", rev])
        .trim()
        .parse()
        .unwrap()
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

fn fsck(dir: &Path) {
    git(dir, &["fsck", "--strict", "--no-dangling"]);
}

/// A bare remote `remote.git` holding one human commit on `main`, cloned to `work`, and a copy of
/// the example snapshot at `state.json` that tests edit.
struct Repo {
    env: Env,
}

impl Repo {
    fn new() -> Repo {
        let env = Env::new();
        git(env.dir.path(), &["init", "-q", "--bare", "remote.git"]);
        git(env.dir.path(), &["clone", "-q", "remote.git", "work"]);
        env.write("work/README.md", "# GitOps repository\n");
        git(&env.path("work"), &["add", "README.md"]);
        git(&env.path("work"), &["commit", "-q", "-m", "initial"]);
        git(&env.path("work"), &["push", "-q", "origin", "main"]);
        env.write(
            "state.json",
            &std::fs::read_to_string(example_state()).unwrap(),
        );
        Repo { env }
    }

    fn work(&self) -> std::path::PathBuf {
        self.env.path("work")
    }

    fn remote(&self) -> std::path::PathBuf {
        self.env.path("remote.git")
    }

    fn args(&self, command: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            command,
            "-i",
            example_inventory().to_str().unwrap(),
            "--state",
            "state.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["--repo", "work", "--path", "peers"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, command: &str, extra: &[&str]) -> Run {
        let out = self
            .env
            .command()
            .args(self.args(command, extra))
            .env("GIT_AUTHOR_NAME", "Peergen Bot")
            .env("GIT_AUTHOR_EMAIL", "bot@example.org")
            .output()
            .expect("run peergen");
        Run::from(out)
    }

    /// Runs `command` with another inventory file against the same snapshot and repository.
    fn run_inventory(&self, inventory: &Path, command: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            command,
            "-i",
            inventory.to_str().unwrap(),
            "--state",
            "state.json",
        ];
        args.extend(["--repo", "work", "--path", "peers"]);
        args.extend(extra);
        self.env.run(args)
    }

    /// Removes `moniker` from the validator set of consumer `consumer_id` in `state.json`.
    fn drop_from_consumer(&self, consumer_id: &str, moniker: &str) {
        let mut state: serde_json::Value =
            serde_json::from_str(&self.env.read("state.json")).unwrap();
        let consumer = state["consumers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["consumer_id"] == consumer_id)
            .unwrap();
        let validators = consumer["validators"].as_array_mut().unwrap();
        let i = validators
            .iter()
            .position(|v| v["moniker"] == moniker)
            .unwrap();
        let valcons = validators.remove(i)["valcons"].clone();
        consumer["opted_in"]
            .as_array_mut()
            .unwrap()
            .retain(|v| *v != valcons);
        self.env
            .write("state.json", &serde_json::to_string_pretty(&state).unwrap());
    }
}

#[test]
fn first_apply_commits_once_and_a_second_apply_changes_nothing() {
    let repo = Repo::new();
    let work = repo.work();
    let run = repo.run("apply", &[]);
    run.success()
        .stdout_has("Plan: 53 to add, 0 to change, 0 to remove")
        .stdout_has("committed ");
    assert_eq!(commits(&work, "HEAD"), 2);
    assert_eq!(
        git(&work, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "Peergen Bot <bot@example.org>"
    );
    let stat = git(&work, &["show", "--stat=200", "--format=", "HEAD"]);
    assert!(stat.contains("53 files changed"), "{stat}");
    assert!(
        stat.lines()
            .take(53)
            .all(|l| l.trim_start().starts_with("peers/")),
        "{stat}"
    );
    assert!(stat.contains("peers/.peergen-manifest"), "{stat}");
    // Before anything refreshes the index: its entries carry the files' own status, as `git add`
    // records it, so git finds every file unchanged without reading it.
    git(&work, &["diff-files", "--quiet"]);
    // git compares change times to the second; to the nanosecond, nothing touched a file after
    // its entry was made.
    let index = git(&work, &["ls-files", "--debug", "peers"]);
    let (mut path, mut entries) = ("", 0);
    for line in index.lines() {
        if let Some(ctime) = line.strip_prefix("  ctime: ") {
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::symlink_metadata(work.join(path)).unwrap();
            let on_disk = format!("{}:{}", meta.ctime(), meta.ctime_nsec());
            assert_eq!(ctime, on_disk, "{path}");
            entries += 1;
        } else if !line.starts_with(' ') {
            path = line;
        }
    }
    assert_eq!(entries, 53, "{index}");
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    fsck(&work);

    let first = head(&work);
    let tree_before = read_tree(&work.join("peers"));
    let again = repo.run("apply", &[]);
    again
        .success()
        .stdout_has("No changes: 53 files are up to date.")
        .stdout_has("no commit: main");
    assert_eq!(head(&work), first, "a second apply must not commit");
    assert_eq!(read_tree(&work.join("peers")), tree_before);
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
}

#[test]
fn a_peer_change_yields_exactly_the_expected_diff_and_commit() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    repo.drop_from_consumer("5", "bob");

    let detailed = repo.run("plan", &["--detailed-exitcode"]);
    assert_eq!(detailed.code, 2, "{}", detailed.stderr);
    insta::assert_snapshot!("plan_text", detailed.stdout);
    let markdown = repo.run("plan", &["--format", "markdown"]);
    markdown.success();
    assert!(markdown.stdout.starts_with("<!-- peergen-plan -->\n"));
    insta::assert_snapshot!("plan_markdown", markdown.stdout);
    let (diagrams, _) = crate::mermaid::blocks(&markdown.stdout);
    assert_eq!(diagrams.len(), 1, "one consumer changes");
    crate::mermaid::parse(&diagrams[0]).unwrap();
    let json = repo.run("plan", &["--format", "json"]);
    json.success();
    insta::assert_snapshot!("plan_json", json.stdout);

    repo.run("apply", &[]).success().stdout_has("committed ");
    assert_eq!(commits(&work, "HEAD"), 3);
    insta::assert_snapshot!(
        "peer_change_commit",
        git(&work, &["show", "--stat=200", "--format=%s%n%n%b", "HEAD"])
    );
    // The committed diff is the plan's diff, byte for byte.
    let committed = git(&work, &["diff", "HEAD~1", "HEAD", "--", "peers"]);
    let planned: String = detailed
        .stdout
        .lines()
        .filter(|l| !l.starts_with("Plan:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(strip_git_index_lines(&committed), planned);
    fsck(&work);
    repo.run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_has("No changes");
}

/// `git diff` adds `diff --git`, `index` and file-mode lines and a function context after each hunk
/// header, none of which a plain unified diff has.
fn strip_git_index_lines(diff: &str) -> String {
    diff.lines()
        .filter(|l| {
            !(l.starts_with("diff --git")
                || l.starts_with("index ")
                || l.starts_with("deleted file mode"))
        })
        .map(
            |l| match l.strip_prefix("@@ ").and_then(|rest| rest.find(" @@")) {
                Some(end) => format!("{}\n", &l[..end + 6]),
                None => format!("{l}\n"),
            },
        )
        .collect()
}

#[test]
fn a_removed_validator_is_pruned_behind_the_threshold_and_unowned_files_stay() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    // A human's files: one committed inside a directory peergen prunes, one untracked.
    repo.env.write("work/peers/bob/NOTES.md", "bob's runbook\n");
    git(&work, &["add", "peers/bob/NOTES.md"]);
    git(&work, &["commit", "-q", "-m", "notes"]);
    repo.env.write("work/peers/scratch.txt", "untracked\n");
    let before = head(&work);

    let inventory = std::fs::read_to_string(example_inventory()).unwrap();
    let (start, end) = (
        inventory.find("  bob:\n").unwrap(),
        inventory.find("  carol:\n").unwrap(),
    );
    let keys = example_inventory().parent().unwrap().join("keys");
    let without_bob = format!("{}{}", &inventory[..start], &inventory[end..])
        .replace("state: example-state.json", "")
        .replace("keys/carol", &format!("{}/carol", keys.display()));
    let inv = repo.env.write("no-bob.yaml", &without_bob);
    let apply = |extra: &[&str]| repo.run_inventory(&inv, "apply", extra);

    let plan = |format: &str| repo.run_inventory(&inv, "plan", &["--format", format]);
    plan("text").success().stdout_has(
        "Would need --force:\n  - alice on dash-2: the peer list would become empty (had 1)\n",
    );
    plan("markdown")
        .success()
        .stdout_has("**Would need `--force`:**")
        .stdout_has("- `alice on neutron-1: the peer list would become empty (had 1)`");
    let json: serde_json::Value = serde_json::from_str(&plan("json").stdout).unwrap();
    assert!(
        json["needs_force"]
            .as_array()
            .unwrap()
            .contains(&"alice on dash-2: the peer list would become empty (had 1)".into()),
        "{json}"
    );

    let blocked = apply(&[]);
    blocked
        .failure()
        .stderr_has("refusing to apply without --force")
        .stderr_has("alice on dash-2: the peer list would become empty (had 1)")
        .stderr_has("alice on neutron-1: the peer list would become empty (had 1)");
    assert!(
        blocked.stdout.contains("Plan: 0 to add"),
        "the plan is printed before refusing"
    );
    assert_eq!(head(&work), before);
    assert!(
        work.join("peers/bob/pion-1/peers.yaml").is_file(),
        "nothing is written when refused"
    );

    apply(&["--force"]).success().stdout_has("committed ");
    assert_eq!(
        git(&work, &["ls-files", "peers/bob"]),
        "peers/bob/NOTES.md\n"
    );
    assert_eq!(repo.env.read("work/peers/bob/NOTES.md"), "bob's runbook\n");
    assert_eq!(repo.env.read("work/peers/scratch.txt"), "untracked\n");
    assert_eq!(
        git(&work, &["status", "--porcelain"]),
        "?? peers/scratch.txt\n"
    );
    let stat = git(&work, &["show", "--stat=200", "--format=", "HEAD"]);
    assert!(
        !stat.contains("NOTES") && !stat.contains("scratch") && !stat.contains("README"),
        "{stat}"
    );
    assert!(
        stat.contains("peers/bob/pion-1/peers.yaml")
            && stat.contains("peers/alice/dash-2/peers.yaml"),
        "{stat}"
    );
    assert!(
        !work.join("peers/bob/pion-1").exists(),
        "emptied directories are removed"
    );
    fsck(&work);
}

#[test]
fn a_concurrent_push_is_survived_by_re_rendering_and_retrying() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &["--push"])
        .success()
        .stdout_has("pushed to origin (attempt 1)");
    assert_eq!(
        git(&repo.remote(), &["rev-parse", "main"]).trim(),
        head(&work)
    );

    // Someone else pushes while our next render runs: our push of main is no fast-forward.
    git(repo.env.dir.path(), &["clone", "-q", "remote.git", "other"]);
    let other = repo.env.path("other");
    repo.env.write("other/docs/ops.md", "on-call notes\n");
    git(&other, &["add", "docs/ops.md"]);
    git(&other, &["commit", "-q", "-m", "ops notes"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let theirs = head(&other);

    repo.drop_from_consumer("5", "bob");
    let run = repo.run("apply", &["--push"]);
    run.success()
        .stdout_has("pushed to origin (attempt 2)")
        .stderr_has("rejected");
    let remote = repo.remote();
    assert_eq!(git(&remote, &["rev-parse", "main"]).trim(), head(&work));
    assert_eq!(
        git(&remote, &["rev-parse", "main~1"]).trim(),
        theirs,
        "our commit sits on top of theirs"
    );
    assert_eq!(
        git(&remote, &["log", "--format=%s", "main"]),
        "peergen: update peer configuration (0 added, 11 changed, 4 removed files)\n\
         ops notes\n\
         peergen: update peer configuration (53 added, 0 changed, 0 removed files)\n\
         initial\n"
    );
    assert_eq!(
        git(&remote, &["show", "main:docs/ops.md"]),
        "on-call notes\n"
    );
    assert!(
        !git(&remote, &["ls-tree", "-r", "--name-only", "main"])
            .contains("peers/bob/sandbox-1--5/")
    );
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    fsck(&work);
    fsck(&remote);
}

#[test]
fn plan_checksum_binds_apply_to_the_reviewed_plan() {
    let repo = Repo::new();
    let work = repo.work();
    let json = repo.run("plan", &["--format", "json"]);
    json.success();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let checksum = plan["checksum"].as_str().unwrap().to_owned();
    assert_eq!(checksum.len(), 64);

    let wrong = "0".repeat(64);
    repo.run("apply", &["--plan-checksum", &wrong])
        .failure()
        .stderr_has(&format!(
            "--plan-checksum {wrong} does not match this plan's checksum {checksum}"
        ));
    assert_eq!(commits(&work, "HEAD"), 1);
    assert!(!work.join("peers").exists());

    repo.run("apply", &["--plan-checksum", &checksum])
        .success()
        .stdout_has("committed ");
    assert_eq!(commits(&work, "HEAD"), 2);
}

#[test]
fn plan_checksum_also_binds_the_repository_state_it_was_reviewed_against() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    repo.drop_from_consumer("5", "bob");
    let plan = |r: &Repo| -> String {
        let json = r.run("plan", &["--format", "json"]);
        json.success();
        let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        plan["checksum"].as_str().unwrap().to_owned()
    };
    let reviewed = plan(&repo);
    let markdown = repo.run("plan", &["--format", "markdown"]);
    markdown.stdout_has(&format!("Plan checksum: `{reviewed}`"));

    // Between review and apply someone commits a hand edit to a generated file the plan does not
    // change: the rendered tree is the same, the change set is not.
    let edited = "work/peers/alice/pion-1/p2p.toml";
    repo.env
        .write(edited, &format!("{}# hand edit\n", repo.env.read(edited)));
    git(&work, &["commit", "-q", "-am", "hand edit"]);
    let before = head(&work);
    let now = plan(&repo);
    assert_ne!(now, reviewed);
    repo.run("apply", &["--plan-checksum", &reviewed])
        .failure()
        .stderr_has(&format!(
            "--plan-checksum {reviewed} does not match this plan's checksum {now}: the inputs or the committed output changed"
        ));
    assert_eq!(head(&work), before);
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    repo.run("apply", &["--plan-checksum", &now])
        .success()
        .stdout_has("committed ");
}

#[test]
fn output_rendered_but_never_committed_is_committed_by_apply_and_caught_by_verify() {
    let repo = Repo::new();
    let work = repo.work();
    let mut render: Vec<String> = repo.args("render", &[]);
    // render takes --out instead of --repo/--path.
    render.truncate(5);
    render.extend(["--out".to_owned(), "work/peers".to_owned()]);
    repo.env.run(render).success();
    assert!(git(&work, &["status", "--porcelain"]).contains("?? peers/"));

    repo.run("verify", &[])
        .failure()
        .stderr_has("is not what the inputs produce (53 files differ)");
    assert_eq!(repo.run("plan", &["--detailed-exitcode"]).code, 2);
    repo.run("apply", &[])
        .success()
        .stdout_has("Plan: 53 to add")
        .stdout_has("committed ");
    assert_eq!(commits(&work, "HEAD"), 2);
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    let stat = git(&work, &["show", "--stat=200", "--format=", "HEAD"]);
    assert!(stat.contains("53 files changed"), "{stat}");
    repo.run("verify", &[]).success();
    fsck(&work);
}

#[test]
fn a_failed_apply_leaves_nothing_written_or_staged() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    let before = head(&work);
    let pristine = read_tree(&work.join("peers"));
    repo.drop_from_consumer("5", "bob");

    repo.run("apply", &["--author-name", ""])
        .failure()
        .stderr_has("building the author signature");
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    assert_eq!(read_tree(&work.join("peers")), pristine);

    // The branch's ref is locked (by git, or by a killed run): refused before anything is
    // written, naming the lock file.
    let lock = work.join(".git/refs/heads/main.lock");
    std::fs::write(&lock, "").unwrap();
    repo.run("apply", &[])
        .failure()
        .stderr_has("refs/heads/main.lock exists");
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(head(&work), before);
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
    assert_eq!(read_tree(&work.join("peers")), pristine);

    repo.run("apply", &[]).success().stdout_has("committed ");
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    fsck(&work);
}

#[test]
fn symlinks_in_the_output_are_refused_and_never_read() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    git(
        &work,
        &[
            "config",
            "remote.origin.pushurl",
            "https://x:SECRET-TOKEN@example.org/r.git",
        ],
    );
    let link = work.join("peers/bob/pion-1/p2p.toml");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../../../.git/config", &link).unwrap();

    // Uncommitted: apply reads the working tree to decide whether writing would lose anything.
    repo.drop_from_consumer("0", "carol");
    let apply = repo.run("apply", &["--format", "markdown"]);
    apply.failure().stderr_has("p2p.toml: a symbolic link");
    assert!(!apply.stdout.contains("SECRET") && !apply.stderr.contains("SECRET"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "nothing is written through or over the link"
    );

    // Committed: plan and verify refuse it in HEAD's tree.
    git(&work, &["add", "peers/bob/pion-1/p2p.toml"]);
    git(&work, &["commit", "-q", "-m", "link"]);
    for run in [
        repo.run("plan", &["--format", "markdown"]),
        repo.run("verify", &[]),
    ] {
        run.failure()
            .stderr_has("peers/bob/pion-1/p2p.toml is a symbolic link in the repository");
        assert!(!run.stdout.contains("SECRET") && !run.stderr.contains("SECRET"));
    }

    // A plain directory (not a git repository) is read without following links either.
    let plain = repo.env.path("plain");
    git(repo.env.dir.path(), &["clone", "-q", "remote.git", "plain"]);
    std::fs::remove_dir_all(plain.join(".git")).unwrap();
    repo.env
        .write("plain/peers/.peergen-manifest", "alice/pion-1/p2p.toml\n");
    std::fs::create_dir_all(plain.join("peers/alice")).unwrap();
    std::os::unix::fs::symlink("../../../work/.git", plain.join("peers/alice/pion-1")).unwrap();
    let mut args = repo.args("plan", &["--format", "markdown"]);
    let at = args.iter().position(|a| a == "work").unwrap();
    args[at] = "plain".to_owned();
    let run = repo.env.run(args);
    run.failure().stderr_has("pion-1: a symbolic link");
    assert!(!run.stdout.contains("SECRET"));

    // The output directory itself, or a parent inside the repository, must not be a link.
    std::fs::rename(work.join("peers"), repo.env.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", work.join("peers")).unwrap();
    repo.run("plan", &[])
        .failure()
        .stderr_has("peers is a symbolic link; peergen's output directory");
}

#[test]
fn a_dirty_or_staged_repository_is_refused_without_losing_the_change() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    let before = head(&work);

    let edited = "work/peers/alice/pion-1/p2p.toml";
    let hand = format!("{}# hand edit\n", repo.env.read(edited));
    repo.env.write(edited, &hand);
    repo.drop_from_consumer("5", "bob");
    repo.run("apply", &[])
        .failure()
        .stderr_has("uncommitted changes to files peergen owns (peers/alice/pion-1/p2p.toml)");
    assert_eq!(repo.env.read(edited), hand);
    assert_eq!(head(&work), before);

    git(&work, &["checkout", "--", "peers"]);
    repo.env.write("work/README.md", "# staged\n");
    git(&work, &["add", "README.md"]);
    repo.run("apply", &[])
        .failure()
        .stderr_has("staged changes (README.md)");
    assert_eq!(head(&work), before);
}

#[test]
fn verify_and_check_fail_on_hand_edited_output() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    repo.run("verify", &[]).success();
    repo.run("plan", &["--check", "--detailed-exitcode"])
        .success();

    let edited = "work/peers/alice/pion-1/peers.yaml";
    repo.env
        .write(edited, &repo.env.read(edited).replace("26700", "26701"));
    git(&work, &["commit", "-q", "-am", "hand edit"]);
    let verify = repo.run("verify", &[]);
    verify
        .failure()
        .stderr_has("is not what the inputs produce (1 files differ)");
    assert!(
        verify.stdout.contains(
            "-  persistent_peers: \"a3258dcbf45dca0df052981870f2d1441a36d145@203.0.113.10:26701"
        ),
        "{}",
        verify.stdout
    );
    repo.run("plan", &["--check"]).failure();
    assert_eq!(repo.run("plan", &["--detailed-exitcode"]).code, 2);
}

#[test]
fn a_checksum_branch_is_created_pushed_and_reused() {
    let repo = Repo::new();
    let work = repo.work();
    let run = repo.run("apply", &["--branch", "peergen/{checksum}", "--push"]);
    run.success();
    let branch = git(&work, &["branch", "--show-current"]).trim().to_owned();
    assert!(
        branch.starts_with("peergen/") && branch.len() == "peergen/".len() + 12,
        "{branch}"
    );
    run.stdout_has(&format!("on {branch}; pushed to origin"))
        .stdout_has(&format!(
            "; the working copy is now on {branch} (it was on main)"
        ));
    assert_eq!(
        git(&repo.remote(), &["rev-parse", &branch]),
        git(&work, &["rev-parse", "HEAD"])
    );
    assert_eq!(commits(&repo.remote(), "main"), 1, "main is untouched");

    git(&work, &["checkout", "-q", "main"]);
    let again = repo.run("apply", &["--branch", "peergen/{checksum}", "--push"]);
    again
        .success()
        .stdout_has(&format!("no commit: {branch} already holds this output"));
    assert_eq!(commits(&repo.remote(), &branch), 2);
    fsck(&repo.remote());
}

#[test]
fn a_push_the_remote_refuses_is_retried_a_bounded_number_of_times_then_reported() {
    let repo = Repo::new();
    let work = repo.work();
    let remote = repo.remote();
    repo.run("apply", &["--push"]).success();
    let pushed = head(&work);
    // A held ref lock makes the remote refuse the update itself: libgit2 reports that only through
    // the push_update_reference callback, never as an error.
    let lock = remote.join("refs/heads/main.lock");
    std::fs::write(&lock, "").unwrap();
    repo.drop_from_consumer("5", "bob");
    repo.run("apply", &["--push", "--max-push-attempts", "2"])
        .failure()
        .stderr_has("push of main to origin still rejected after 2 attempts: failed to lock file");
    assert_eq!(git(&remote, &["rev-parse", "main"]).trim(), pushed);
    assert_eq!(
        commits(&work, "origin/main..main"),
        1,
        "exactly one re-made commit waits locally"
    );
    assert!(git(&work, &["status", "--porcelain"]).is_empty());

    std::fs::remove_file(&lock).unwrap();
    repo.run("apply", &["--push"])
        .success()
        .stdout_has("no commit: main already holds this output; pushed to origin (attempt 1)");
    assert_eq!(git(&remote, &["rev-parse", "main"]).trim(), head(&work));
    fsck(&remote);
}

#[test]
fn a_rejected_push_never_drops_someone_elses_unpushed_commit() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &["--push"]).success();
    git(repo.env.dir.path(), &["clone", "-q", "remote.git", "other"]);
    let other = repo.env.path("other");
    git(&other, &["commit", "-q", "--allow-empty", "-m", "theirs"]);
    git(&other, &["push", "-q", "origin", "main"]);
    git(
        &work,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "a local human commit",
        ],
    );
    let mine = head(&work);

    repo.drop_from_consumer("5", "bob");
    repo.run("apply", &["--push"]).failure().stderr_has(
        "the local branch has 1 unpushed commit(s) that peergen did not make in this run",
    );
    assert_eq!(
        git(&work, &["rev-parse", "HEAD~1"]).trim(),
        mine,
        "the human commit is kept"
    );
    assert_eq!(
        git(&work, &["log", "-1", "--format=%s", "HEAD~1"]).trim(),
        "a local human commit"
    );
}

#[test]
fn the_commit_message_template_and_author_can_be_overridden() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    repo.drop_from_consumer("5", "bob");
    repo.env.write(
        "message.j2",
        "peers: {{ consumers | map(attribute='slug') | join(', ') }}\n\n\
         {% for c in consumers %}{% for v in c.validators %}{{ v.validator }}={{ v.removed | length }}\n{% endfor %}{% endfor %}",
    );
    repo.run(
        "apply",
        &[
            "--message-template",
            "message.j2",
            "--author-name",
            "Ops",
            "--author-email",
            "ops@example.org",
        ],
    )
    .success();
    assert_eq!(
        git(&work, &["log", "-1", "--format=%B"]),
        "peers: sandbox-1--5\n\nalice=1\nbob=2\ncarol=1\n\n"
    );
    assert_eq!(
        git(&work, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "Ops <ops@example.org>"
    );

    repo.env.write("bad.j2", "{{ no_such_field }}");
    repo.drop_from_consumer("0", "carol");
    let before = head(&work);
    repo.run("apply", &["--message-template", "bad.j2"])
        .failure()
        .stderr_has("commit message template: undefined value");
    // The template is rendered before anything is written.
    assert_eq!(head(&work), before);
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
    repo.run("apply", &[]).success().stdout_has("committed ");
}

#[test]
fn plan_for_one_validator_compares_only_its_subtree() {
    let repo = Repo::new();
    repo.run("apply", &[]).success();
    repo.drop_from_consumer("5", "bob");
    let alice = repo.run("plan", &["--self", "alice", "--format", "json"]);
    alice.success();
    let plan: serde_json::Value = serde_json::from_str(&alice.stdout).unwrap();
    let files: Vec<&str> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "alice/sandbox-1--5/kustomization.yaml",
            "alice/sandbox-1--5/p2p.toml",
            "alice/sandbox-1--5/peers.yaml",
            "alice/sandbox-1--5/rollout/kustomization.yaml"
        ]
    );
}

#[test]
fn port_changes_are_reported_per_peer() {
    let repo = Repo::new();
    repo.run("apply", &[]).success();
    let extra = repo
        .env
        .write("port.yaml", "consumers:\n  \"5\":\n    port: 30001\n");
    let mut args = repo.args("plan", &["--format", "markdown"]);
    args.splice(3..3, ["-i".to_owned(), extra.to_str().unwrap().to_owned()]);
    let run = repo.env.run(args);
    run.success();
    let tables = run.stdout.split("<details>").next().unwrap();
    insta::assert_snapshot!("plan_markdown_port_change", tables);
}

#[test]
fn a_fixed_branch_continues_from_the_remote_branch_in_a_fresh_clone() {
    let repo = Repo::new();
    let work = repo.work();
    let remote = repo.remote();
    repo.run("apply", &["--branch", "peer-updates", "--push"])
        .success();
    let first = git(&remote, &["rev-parse", "peer-updates"])
        .trim()
        .to_owned();
    // main moves on meanwhile, so a branch started from main would carry a commit that is not
    // on the remote branch.
    git(&work, &["checkout", "-q", "main"]);
    git(
        &work,
        &["commit", "-q", "--allow-empty", "-m", "human work on main"],
    );
    git(&work, &["push", "-q", "origin", "main"]);

    git(repo.env.dir.path(), &["clone", "-q", "remote.git", "fresh"]);
    let fresh = repo.env.path("fresh");
    repo.drop_from_consumer("5", "bob");
    let mut args = repo.args("apply", &["--branch", "peer-updates", "--push"]);
    let at = args.iter().position(|a| a == "work").unwrap();
    args[at] = "fresh".to_owned();
    repo.env
        .run(args)
        .success()
        .stdout_has("committed ")
        .stdout_has("on peer-updates; pushed to origin (attempt 1)")
        .stdout_has("Plan: 0 to add, 11 to change, 4 to remove");
    assert_eq!(
        git(&remote, &["rev-parse", "peer-updates~1"]).trim(),
        first,
        "the new commit sits on the remote branch"
    );
    assert_eq!(commits(&remote, "peer-updates"), 3);
    assert_eq!(
        git(&fresh, &["branch", "--show-current"]).trim(),
        "peer-updates"
    );
    assert!(git(&fresh, &["status", "--porcelain"]).is_empty());
    fsck(&remote);

    // Without --push, a clone's tracking branch origin/peer-updates is where the branch continues.
    git(
        repo.env.dir.path(),
        &["clone", "-q", "remote.git", "offline"],
    );
    let mut args = repo.args("apply", &["--branch", "peer-updates"]);
    let at = args.iter().position(|a| a == "work").unwrap();
    args[at] = "offline".to_owned();
    repo.env
        .run(args)
        .success()
        .stdout_has("no commit: peer-updates already holds this output");
    assert_eq!(
        head(&repo.env.path("offline")),
        git(&remote, &["rev-parse", "peer-updates"]).trim()
    );
}

/// The two threshold rules beyond an emptied list: more than 30% of a list of at least four peers,
/// and a consumer whose directory disappears for every validator. Both are listed by `plan` and
/// refused by `apply` until `--force`.
#[test]
fn large_peer_removals_and_deleted_consumers_need_force() {
    let repo = Repo::new();
    let work = repo.work();
    // Two more validators on consumer 0 give alice four peers there.
    let extra = [
        ("dave", "ab11ab11ab11ab11ab11ab11ab11ab11ab11ab11"),
        ("erin", "cd22cd22cd22cd22cd22cd22cd22cd22cd22cd22"),
    ];
    let hrp = bech32::Hrp::parse("cosmosvaloper").unwrap();
    let address = |name: &str| {
        let data: Vec<u8> = name.bytes().cycle().take(20).collect();
        bech32::encode::<bech32::Bech32>(hrp, &data).unwrap()
    };
    let keys = example_inventory().parent().unwrap().join("keys");
    let mut inventory = std::fs::read_to_string(example_inventory())
        .unwrap()
        .replace("state: example-state.json", "")
        .replace("keys/carol", &format!("{}/carol", keys.display()));
    let mut state: serde_json::Value = serde_json::from_str(&repo.env.read("state.json")).unwrap();
    let carol_key = format!(
        "    node_key_file: {}/carol/node_key.json\n",
        keys.display()
    );
    for (name, node_id) in extra {
        inventory = inventory.replace(
            &carol_key,
            &format!(
                "{carol_key}  {name}:\n    operator_address: {}\n    consumer_template: {name}-{{{{chain_id}}}}.example.net\n    node_id: {node_id}\n",
                address(name)
            ),
        );
        state["consumers"][0]["validators"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"operator_address": address(name), "valcons": format!("cosmosvalcons1{name}"), "moniker": name}));
    }
    repo.env
        .write("state.json", &serde_json::to_string_pretty(&state).unwrap());
    let inv = repo.env.write("five.yaml", &inventory);
    let run = |command: &str, extra: &[&str]| repo.run_inventory(&inv, command, extra);
    run("apply", &[]).success().stdout_has("committed ");
    let committed = head(&work);

    // alice loses bob and carol on pion-1: 2 of 4.
    repo.drop_from_consumer("0", "bob");
    repo.drop_from_consumer("0", "carol");
    run("plan", &[])
        .success()
        .stdout_has("alice on pion-1: 2 of 4 peers would be removed (more than 30%)");
    run("apply", &[])
        .failure()
        .stderr_has("alice on pion-1: 2 of 4 peers would be removed (more than 30%)")
        .stderr_has("--force");
    assert_eq!(head(&work), committed, "a refused apply must not commit");
    run("apply", &["--max-peer-removal-percent", "50"]).success();
    let after_peers = head(&work);
    assert_ne!(after_peers, committed);

    // neutron-1 stops: its directories go for every validator.
    let mut state: serde_json::Value = serde_json::from_str(&repo.env.read("state.json")).unwrap();
    state["consumers"][1]["phase"] = "stopped".into();
    repo.env
        .write("state.json", &serde_json::to_string_pretty(&state).unwrap());
    run("plan", &["--format", "json"])
        .success()
        .stdout_has("consumer directory neutron-1 would be deleted for every validator");
    run("apply", &[])
        .failure()
        .stderr_has("consumer directory neutron-1 would be deleted for every validator");
    assert_eq!(head(&work), after_peers);
    run("apply", &["--force"]).success();
    assert!(!work.join("peers/alice/neutron-1").exists());
    fsck(&work);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let repo = Repo::new();
    repo.run("apply", &[]).success();
    repo.drop_from_consumer("5", "bob");
    let plain = repo.run("plan", &[]);
    assert!(
        !plain.stdout.contains('\x1b'),
        "piped output must be a plain patch"
    );
    let forced = repo.run("plan", &["--color", "always"]);
    assert!(forced.stdout.contains("\x1b["), "{}", forced.stdout);
    let never = repo.run("plan", &["--color", "never"]);
    assert_eq!(never.stdout, plain.stdout);
}

/// An HTTP remote that answers 401 makes libgit2 ask for credentials: peergen answers with
/// `PEERGEN_GIT_TOKEN` (the server sees it), and the token appears nowhere in its output or logs,
/// even at trace level.
#[test]
fn a_push_credential_is_sent_when_challenged_and_never_shown() {
    use base64::Engine as _;
    let repo = Repo::new();
    let work = repo.work();
    let token = "ghp_s3cretT0KEN4242";
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
    );
    let mut server = mockito::Server::new();
    let challenge = server
        .mock("GET", "/gitops.git/info/refs")
        .match_query(mockito::Matcher::Any)
        .match_header("authorization", mockito::Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", "Basic realm=\"git\"")
        .expect_at_least(1)
        .create();
    let answered = server
        .mock("GET", "/gitops.git/info/refs")
        .match_query(mockito::Matcher::Any)
        .match_header("authorization", basic.as_str())
        .with_status(401)
        .with_header("www-authenticate", "Basic realm=\"git\"")
        .expect_at_least(1)
        .create();
    git(
        &work,
        &[
            "remote",
            "set-url",
            "origin",
            &format!("{}/gitops.git", server.url()),
        ],
    );
    let mut args = repo.args("apply", &["--push", "origin", "-vvv"]);
    args.push("--max-push-attempts".into());
    args.push("1".into());
    let out = repo
        .env
        .command()
        .args(&args)
        .env("PEERGEN_GIT_TOKEN", token)
        .env("PEERGEN_LOG", "trace")
        .env("GIT_AUTHOR_NAME", "Peergen Bot")
        .env("GIT_AUTHOR_EMAIL", "bot@example.org")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("authenticating with PEERGEN_GIT_TOKEN"),
        "{stderr}"
    );
    challenge.assert();
    answered.assert();
    for shown in [token, &basic[6..]] {
        assert!(
            !stdout.contains(shown) && !stderr.contains(shown),
            "credential leaked:\n{stdout}\n{stderr}"
        );
    }
}

/// Runs `apply` with the fault hook armed; the process aborts as a kill would.
fn killed_apply(repo: &Repo, fault: &str) -> Run {
    let out = repo
        .env
        .command()
        .args(repo.args("apply", &[]))
        .env("GIT_AUTHOR_NAME", "Peergen Bot")
        .env("GIT_AUTHOR_EMAIL", "bot@example.org")
        .env("PEERGEN_TEST_FAULT", fault)
        .output()
        .expect("run peergen");
    Run::from(out)
}

#[test]
fn an_apply_killed_mid_write_or_before_its_commit_is_completed_by_the_next() {
    // What a clean first apply commits.
    let clean = Repo::new();
    clean.run("apply", &[]).success();
    let expected = git(&clean.work(), &["ls-tree", "-r", "HEAD", "peers"]);
    assert!(run_files(&clean).is_empty(), "an apply leaves its spool");
    // Every rename a first apply makes (the manifest's, then each new directory moved in whole
    // from the spool; tests/reliability.rs kills file-by-file writes of the same code), until
    // one is past the last, and the moment after the index is written.
    let renames = 1..;
    for fault in renames
        .map(|n| format!("rename:{n}"))
        .take_while(|fault| {
            let reached = killed_apply(&Repo::new(), fault).code != 0;
            assert!(
                reached || fault != "rename:3",
                "a first apply renames at least three times"
            );
            reached
        })
        .chain(["index:1".to_owned()])
    {
        let fault = fault.as_str();
        let repo = Repo::new();
        let killed = killed_apply(&repo, fault);
        assert_ne!(killed.code, 0, "{fault} was not reached");
        let spools = run_files(&repo);
        assert!(
            spools.len() == 1 && spools[0].starts_with(".peergen-tmp-spool-"),
            "{fault}: a killed apply leaves its spool of changed files: {spools:?}"
        );
        repo.run("apply", &[]).success().stdout_has("committed ");
        assert_eq!(
            git(&repo.work(), &["ls-tree", "-r", "HEAD", "peers"]),
            expected,
            "after a kill at {fault}"
        );
        assert_eq!(commits(&repo.work(), "HEAD"), 2, "{fault}: one commit");
        assert_eq!(
            git(&repo.work(), &["status", "--porcelain"]),
            "",
            "{fault}: clean"
        );
        let left = run_files(&repo);
        assert!(left.is_empty(), "{fault}: left behind: {left:?}");
        fsck(&repo.work());
    }
}

/// What runs keep in the git directory: apply's spools, older versions' HEAD exports.
fn run_files(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.work().join(".git"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("peergen-HEAD-") || n.starts_with(".peergen-tmp-spool-"))
        .collect()
}

#[test]
fn a_second_apply_waits_for_the_first_and_gives_up_without_touching_anything() {
    let repo = Repo::new();
    let head_before = head(&repo.work());
    let held = std::fs::File::open(repo.work()).unwrap();
    held.try_lock().unwrap();
    let out = repo
        .env
        .command()
        .args(repo.args("apply", &[]))
        .env("PEERGEN_LOCK_WAIT", "1")
        .output()
        .unwrap();
    Run::from(out)
        .failure()
        .stderr_has("another peergen run holds the lock on work (waited 1s");
    assert_eq!(head(&repo.work()), head_before);
    assert_eq!(git(&repo.work(), &["status", "--porcelain"]), "");
    drop(held);
    repo.run("apply", &[]).success();
}

#[test]
fn a_git_lock_file_is_named_with_what_to_do() {
    let repo = Repo::new();
    repo.env.write("work/.git/index.lock", "");
    repo.run("apply", &[])
        .failure()
        .stderr_has("work/.git/index.lock exists: a git command is running in this repository, or one was killed (an interrupted peergen apply included); when no git process is running, remove it and run again");
}

/// One count everywhere: the files `render` reports, the files it writes, what a first `plan`
/// adds and what a second `plan` finds up to date all include the ownership manifest.
#[test]
fn render_and_plan_count_the_same_files() {
    let env = Env::new();
    let inv = example_inventory().display().to_string();
    let state = example_state().display().to_string();
    let run = env.run(["render", "-i", &inv, "--state", &state, "--out", "out"]);
    let files = read_tree(&env.path("out")).len();
    run.success().stdout_has(&format!(
        "rendered {files} files into out (the ownership manifest included): {files} written, 0 unchanged, 0 removed"
    ));
    env.run(["render", "-i", &inv, "--state", &state, "--out", "out"])
        .success()
        .stdout_has(&format!("{files} unchanged"));
    let repo = env.path("repo");
    git(&env.path(""), &["init", "-q", "repo"]);
    let repo = repo.display().to_string();
    env.run(["plan", "-i", &inv, "--state", &state, "--repo", &repo])
        .success()
        .stdout_has(&format!("Plan: {files} to add, 0 to change, 0 to remove"));
}

/// Without --author-name/--author-email (or GIT_AUTHOR_*), the commit is authored by the
/// repository's own git identity, as `git commit` would do.
#[test]
fn apply_takes_the_repositorys_git_identity_when_none_is_given() {
    let repo = Repo::new();
    let work = repo.work();
    git(&work, &["config", "user.name", "Repo Owner"]);
    git(&work, &["config", "user.email", "owner@example.org"]);
    let out = repo
        .env
        .command()
        .args(repo.args("apply", &[]))
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .output()
        .unwrap();
    Run::from(out).success();
    assert_eq!(
        git(&work, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "Repo Owner <owner@example.org>"
    );
}

/// A commit that fails after apply wrote and staged the files puts the working tree and the index
/// back as they were: nothing half-applied, the next apply succeeds.
#[test]
fn a_failed_commit_restores_the_working_tree_and_the_index() {
    let repo = Repo::new();
    let work = repo.work();
    repo.run("apply", &[]).success();
    // An inventory change the next apply will write: carol leaves the inventory.
    let edited = repo.env.write(
        "edited.yaml",
        &example_inventory_text().replace("  carol:", "  carol-gone:"),
    );
    let before = read_tree(&work.join("peers"));
    let status_before = git(&work, &["status", "--porcelain"]);
    let out = repo
        .env
        .command()
        .args([
            "apply",
            "-i",
            edited.to_str().unwrap(),
            "--state",
            "state.json",
            "--repo",
            "work",
            "--path",
            "peers",
            "--force",
        ])
        .env("PEERGEN_TEST_FAULT", "fail-commit:1")
        .env("GIT_AUTHOR_NAME", "Peergen Bot")
        .env("GIT_AUTHOR_EMAIL", "bot@example.org")
        .output()
        .unwrap();
    Run::from(out)
        .failure()
        .stderr_has("committing: test fault");
    assert_eq!(read_tree(&work.join("peers")), before, "files restored");
    assert_eq!(
        git(&work, &["status", "--porcelain"]),
        status_before,
        "index restored"
    );
    assert_eq!(commits(&work, "HEAD"), 2);
    repo.run_inventory(&edited, "apply", &["--force"]).success();
    assert_eq!(commits(&work, "HEAD"), 3);
}

/// A peer that leaves a consumer is still named in the JSON plan when it used a per-consumer
/// node ID (alice on neutron-1): the moniker comes from the inventory, not only from the plan.
#[test]
fn a_removed_peer_with_a_per_consumer_node_id_keeps_its_moniker() {
    let repo = Repo::new();
    repo.run("apply", &[]).success();
    let edited = repo.env.write(
        "edited.yaml",
        &example_inventory_text().replace(
            "  neutron-1:\n    p2p:\n",
            "  neutron-1:\n    exclude: [alice]\n    p2p:\n",
        ),
    );
    let run = repo.run_inventory(&edited, "plan", &["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&run.success().stdout).unwrap();
    let removed: Vec<&serde_json::Value> = plan["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["chain_id"] == "neutron-1")
        .flat_map(|c| c["removed"].as_array().unwrap())
        .filter(|p| p["node_id"] == "7d5ae1d8b6e0a3f4c9b2d1e0f3a4b5c6d7e8f901")
        .collect();
    assert!(!removed.is_empty(), "{}", run.stdout);
    for p in removed {
        assert_eq!(p["moniker"], "alice", "{p}");
    }
}

/// An owned file the operator already deleted, which the plan removes too, is no uncommitted work
/// to protect: apply goes ahead and commits the removal.
#[test]
fn a_file_deleted_by_hand_that_the_plan_removes_does_not_block_apply() {
    let repo = Repo::new();
    repo.run("apply", &[]).success();
    let work = repo.work();
    let edited = repo.env.write(
        "edited.yaml",
        &example_inventory_text().replace(
            "  neutron-1:\n    p2p:\n",
            "  neutron-1:\n    exclude: [alice]\n    p2p:\n",
        ),
    );
    let gone = work.join("peers/alice/neutron-1/peers.yaml");
    std::fs::remove_file(&gone).unwrap();
    // A file the plan keeps, deleted by hand, is still refused.
    let kept = work.join("peers/bob/neutron-1/peers.yaml");
    let kept_bytes = std::fs::read(&kept).unwrap();
    std::fs::remove_file(&kept).unwrap();
    repo.run_inventory(&edited, "apply", &["--force"])
        .failure()
        .stderr_has("uncommitted changes to files peergen owns (peers/bob/neutron-1/peers.yaml)");
    std::fs::write(&kept, kept_bytes).unwrap();
    repo.run_inventory(&edited, "apply", &["--force"])
        .success()
        .stdout_has("committed ");
    assert!(!gone.exists());
    let removed = git(&work, &["show", "--stat=200", "--format=", "HEAD"]);
    assert!(
        removed.contains("peers/alice/neutron-1/peers.yaml"),
        "{removed}"
    );
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
}
