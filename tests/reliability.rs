//! Faults: runs killed mid-write (through the documented `PEERGEN_TEST_FAULT` hook, which aborts
//! the process as a kill would), leftovers, and two runs at once.

use std::collections::BTreeMap;

use crate::harness::*;

fn render(env: &Env, inventory: &str, out: &str, fault: Option<&str>) -> Run {
    let mut c = env.command();
    c.args(["render", "-i", inventory, "--out", out, "--state"])
        .arg(example_state());
    if let Some(f) = fault {
        c.env("PEERGEN_TEST_FAULT", f);
    }
    Run::from(c.output().unwrap())
}

/// Every file under `dir`, the manifest included.
fn everything(dir: &std::path::Path) -> BTreeMap<String, String> {
    read_tree(dir)
}

/// The example with one peer list changed, so a second render rewrites files and prunes some.
fn changed_inventory(env: &Env) -> String {
    let text =
        example_inventory_text().replace("bob-consumer-{{chain-id}}", "bob-moved-{{chain-id}}");
    env.write("changed.yaml", &text).display().to_string()
}

#[test]
fn a_render_killed_at_any_rename_is_completed_by_the_next_run() {
    let env = Env::new();
    let example = example_inventory().display().to_string();
    let changed = changed_inventory(&env);
    render(&env, &example, "clean-first", None).success();
    render(&env, &example, "clean-update", None).success();
    render(&env, &changed, "clean-update", None).success();
    let first = everything(&env.path("clean-first"));
    let update = everything(&env.path("clean-update"));
    // Every rename of each run, until one past the last: a first render renames the manifest and
    // moves each new directory in whole; the update writes its changed files one by one.
    let mut first_renames = 0;
    for n in 1.. {
        let out = format!("first-{n}");
        let killed = render(&env, &example, &out, Some(&format!("rename:{n}")));
        if killed.code == 0 {
            break;
        }
        first_renames = n;
        render(&env, &example, &out, None).success();
        same(
            &everything(&env.path(&out)),
            &first,
            &format!("first run killed at rename {n}"),
        );
    }
    let mut update_renames = 0;
    for n in 1.. {
        let out = format!("update-{n}");
        render(&env, &example, &out, None).success();
        let killed = render(&env, &changed, &out, Some(&format!("rename:{n}")));
        if killed.code == 0 {
            break;
        }
        update_renames = n;
        render(&env, &changed, &out, None).success();
        same(
            &everything(&env.path(&out)),
            &update,
            &format!("update killed at rename {n}"),
        );
    }
    // The manifest, then each top-level directory in whole (its final manifest is the same
    // text, not rewritten); the update renames each changed file and both manifests.
    let top: std::collections::BTreeSet<&str> = first
        .keys()
        .filter_map(|p| p.split_once('/'))
        .map(|(dir, _)| dir)
        .collect();
    assert_eq!(first_renames, 1 + top.len(), "{top:?}");
    assert!(
        update_renames > 2 + 10,
        "the update rewrites files one by one: {update_renames}"
    );
}

/// Names the files that differ instead of printing two whole trees.
#[track_caller]
fn same(got: &BTreeMap<String, String>, want: &BTreeMap<String, String>, what: &str) {
    let differ: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: {differ:?} differ from a clean run"
    );
}

#[test]
fn temporary_files_of_a_killed_run_are_removed_by_the_next() {
    let env = Env::new();
    let example = example_inventory().display().to_string();
    assert_ne!(render(&env, &example, "out", Some("rename:3")).code, 0);
    // Staged files beside their targets, and the spool's files in `.peergen-tmp-spool-*/`.
    let leftovers = |env: &Env| {
        let out = env.path("out");
        walk(&out)
            .iter()
            .filter(|p| {
                p.strip_prefix(&out)
                    .unwrap()
                    .components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with(".peergen-tmp-"))
            })
            .count()
    };
    assert!(leftovers(&env) > 0, "a killed run leaves its staged files");
    assert!(
        std::fs::read_dir(env.path("out")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".peergen-tmp-spool-")),
        "a killed run leaves its spool"
    );
    render(&env, &example, "out", None).success();
    assert_eq!(leftovers(&env), 0);
}

#[test]
fn a_second_render_waits_for_the_first_and_gives_up_without_touching_anything() {
    let env = Env::new();
    let example = example_inventory().display().to_string();
    render(&env, &example, "out", None).success();
    let before = everything(&env.path("out"));
    // This test process holds the lock a running peergen would hold.
    let held = std::fs::File::open(env.path("out")).unwrap();
    held.try_lock().unwrap();
    let changed = changed_inventory(&env);
    let mut c = env.command();
    c.args(["render", "-i", &changed, "--out", "out", "--state"])
        .arg(example_state())
        .env("PEERGEN_LOCK_WAIT", "1");
    let started = std::time::Instant::now();
    Run::from(c.output().unwrap())
        .failure()
        .stderr_has("another peergen run holds the lock on out (waited 1s; PEERGEN_LOCK_WAIT sets how long); nothing was changed");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(everything(&env.path("out")), before);
    drop(held);
    render(&env, &changed, "out", None).success();
}

#[test]
fn a_killed_runs_temporary_file_beside_the_snapshot_is_removed_by_the_next_write() {
    let env = Env::new();
    // A stale resolved endpoint, so that `resolve` has something to drop and rewrites the file.
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_state()).unwrap()).unwrap();
    state["resolved_endpoints"] = serde_json::json!([{"validator": "gone", "consumer_id": "0",
        "query": "_cosmos-p2p._tcp.gone-pion-1.validators.zone", "host": "gone.example.org", "port": 26656}]);
    env.write("state.json", &serde_json::to_string_pretty(&state).unwrap());
    let old = env.write(".peergen-tmp-AbC123", "{\"half\": ");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let fresh = env.write(".peergen-tmp-XyZ789", "another run's, still being written");
    env.run([
        "resolve",
        "-i",
        example_inventory().to_str().unwrap(),
        "--state",
        "state.json",
    ])
    .success();
    assert!(!old.exists(), "a killed run's leftover stays");
    assert!(fresh.exists(), "a running writer's file was removed");
}

#[test]
fn resolve_with_nothing_new_leaves_the_snapshot_untouched() {
    let env = Env::new();
    let path = env.write(
        "state.json",
        &std::fs::read_to_string(example_state()).unwrap(),
    );
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.run([
        "resolve",
        "-i",
        example_inventory().to_str().unwrap(),
        "--state",
        "state.json",
    ])
    .success()
    .stdout_has("resolved 0 SRV records: state.json unchanged");
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
}

/// The example snapshot with launched consumers whose provider-chosen chain ids look like names
/// peergen generates.
fn state_with_mistakable_chain_ids() -> String {
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_state()).unwrap()).unwrap();
    let consumers = state["consumers"].as_array_mut().unwrap();
    let template = consumers
        .iter()
        .find(|c| c["consumer_id"] == "5")
        .unwrap()
        .clone();
    for (id, chain) in [("7", "sandbox-1--5"), ("8", "kustomization.yaml")] {
        let mut c = template.clone();
        c["consumer_id"] = serde_json::json!(id);
        c["chain_id"] = serde_json::json!(chain);
        consumers.push(c);
    }
    serde_json::to_string_pretty(&state).unwrap()
}

#[test]
fn chain_ids_that_look_like_generated_names_get_their_own_directories() {
    let env = Env::new();
    env.write("state.json", &state_with_mistakable_chain_ids());
    // A dot cannot be in a namespace: name namespaces by consumer id instead.
    // and leave DNS out: a dot cannot be in a DNS label either (check refuses it, as render does).
    let text = example_inventory_text().replace(
        "namespace: \"{{validator}}-{{chain_id}}\"",
        "namespace: \"{{validator}}-{{consumer_id}}\"",
    );
    let with_dns = env.write("with-dns.yaml", &text).display().to_string();
    env.run(["check", "-i", &with_dns, "--state", "state.json"])
        .failure()
        .stderr_has("\"alice-kustomization.yaml--8\" cannot be a DNS label");
    let text = text[..text.find("\ndns:").unwrap()].to_owned();
    let inventory = env.write("inv.yaml", &text).display().to_string();
    env.run(["check", "-i", &inventory, "--state", "state.json"])
        .success()
        .stdout_has("consumer 7 sandbox-1--5 (launched")
        .stdout_has("-> sandbox-1--5--7/")
        .stdout_has("-> kustomization.yaml--8/");
    env.run([
        "render",
        "-i",
        &inventory,
        "--state",
        "state.json",
        "--out",
        "out",
    ])
    .success();
    let tree = read_tree(&env.path("out"));
    assert!(tree["alice/sandbox-1--5/peers.yaml"].contains("peergen.io/consumer-id: \"5\""));
    assert!(tree["alice/sandbox-1--5--7/peers.yaml"].contains("peergen.io/consumer-id: \"7\""));
    assert!(
        tree["alice/kustomization.yaml--8/peers.yaml"].contains("peergen.io/consumer-id: \"8\"")
    );
    assert!(tree["alice/kustomization.yaml"].contains("kind: Kustomization"));
}

/// A snapshot saved with a UTF-8 byte-order mark (as some editors do) reads like one without.
#[test]
fn a_snapshot_with_a_byte_order_mark_is_accepted() {
    let env = Env::new();
    let state = std::fs::read_to_string(example_state()).unwrap();
    env.write("state.json", &format!("\u{feff}{state}"));
    let with = env.run([
        "check",
        "-i",
        &example_inventory().display().to_string(),
        "--state",
        "state.json",
    ]);
    let without = env.run([
        "check",
        "-i",
        &example_inventory().display().to_string(),
        "--state",
        &example_state().display().to_string(),
    ]);
    with.success();
    assert_eq!(with.stdout, without.success().stdout);
}
