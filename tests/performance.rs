//! What the performance work must not change: output and plan checksum are the same for any
//! number of rendering threads, on a fleet whose peer lists take the checked (placeholder) path.

use crate::harness::{Env, read_tree};

#[path = "../benches/synth.rs"]
mod synth;

#[test]
fn any_thread_count_renders_the_same_bytes_and_plan() {
    let env = Env::new();
    let (validators, consumers) = (24, 6);
    synth::write(env.dir.path(), validators, consumers);
    let inputs = ["-i", "inventory.yaml", "--state", "state.json"];
    std::fs::create_dir_all(env.path("repo")).unwrap();
    let mut trees = Vec::new();
    let mut checksums = Vec::new();
    for threads in ["1", "2", "5"] {
        let out = format!("out-{threads}");
        env.run(
            ["render", "--threads", threads, "--out", &out]
                .iter()
                .chain(&inputs),
        )
        .success();
        trees.push(read_tree(&env.path(&out)));
        let plan = env.run(
            [
                "plan",
                "--threads",
                threads,
                "--repo",
                "repo",
                "--format",
                "json",
            ]
            .iter()
            .chain(&inputs),
        );
        plan.success();
        let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        checksums.push(json["checksum"].as_str().unwrap().to_owned());
    }
    let p2p = &trees[0]["val-000/chain-0/p2p.toml"];
    assert!(
        p2p.lines().any(|l| l.len() > 1000),
        "peer lists long enough for the placeholder path"
    );
    assert_eq!(trees[0].len(), validators * consumers * 3 + validators + 1);
    assert!(trees.iter().all(|t| *t == trees[0]));
    assert!(checksums.iter().all(|c| *c == checksums[0]));
}
