//! Topology: sentry fleets and the peer graphs CometBFT admits (docs/topology.md).

use std::collections::BTreeMap;

use crate::harness::*;

fn sentries() -> String {
    repo_root()
        .join("inventories/sentries.yaml")
        .display()
        .to_string()
}

fn render(env: &Env) -> BTreeMap<String, String> {
    env.run(["render", "-i", &sentries(), "--out", "out"])
        .success();
    read_tree(&env.path("out"))
}

#[test]
fn sentry_fleet_renders_and_every_file_is_snapshotted() {
    let env = Env::new();
    let tree = render(&env);
    assert!(tree.contains_key("alice/pion-1/validator/p2p.toml"));
    assert!(tree.contains_key("alice/pion-1/sentry-a/peers.yaml"));
    assert!(
        tree.contains_key("carol/pion-1/p2p.toml"),
        "a validator without sentries keeps today's layout"
    );
    for (path, text) in &tree {
        insta::assert_snapshot!(format!("sentries__{}", path.replace('/', "__")), text);
    }
    // Byte-identical on a second render into a fresh directory.
    let again = Env::new();
    assert_eq!(render(&again), tree);
}

/// Node IDs and private endpoints of alice's and bob's validator nodes, from the inventory.
const PRIVATE: [(&str, &str, &str); 2] = [
    (
        "alice",
        "529a2b1b52c1a79a57989bb89630c08d1aaaa689",
        "alice.svc.cluster.local",
    ),
    (
        "bob",
        "e326eeb620fccafb2391a9df7f5b71d3f101dd5b",
        "10.20.0.5",
    ),
];

#[test]
fn a_validator_node_is_never_published() {
    let env = Env::new();
    let tree = render(&env);
    for (owner, id, address) in PRIVATE {
        for (path, text) in &tree {
            let own_node_config = path.starts_with(&format!("{owner}/"))
                && (path.contains("/validator/")
                    || path.contains("/sentry-")
                    || path.contains("/eu/")
                    || path.contains("/us/"));
            if own_node_config {
                continue;
            }
            assert!(
                !text.contains(id) && !text.contains(address),
                "{owner}'s validator node leaks into {path}"
            );
        }
    }
    // Within its own output, the validator node's ID reaches only its sentries (private and
    // unconditional) and its own directory.
    let zone = &tree["dns/validators.zone.zone"];
    let checked = std::process::Command::new(tool("named-checkzone"))
        .args([
            "validators.zone",
            &env.path("out/dns/validators.zone.zone")
                .display()
                .to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert!(
        zone.contains("alice-a-pion-1.validators.com.")
            && zone.contains("bob-us-pion-1.example.org.")
    );
    assert_eq!(
        zone.matches("_cosmos-p2p._tcp.alice-pion-1 ").count(),
        1,
        "one owner per validator x consumer:\n{zone}"
    );
    assert_eq!(
        zone.matches("IN SRV").count(),
        // alice and bob serve four consumers each with two sentries; carol, at an IP, gets none.
        (4 + 4) * 2,
        "one SRV record per public node:\n{zone}"
    );
}

#[test]
fn sentries_and_validator_nodes_get_the_settings_the_sentry_architecture_needs() {
    let env = Env::new();
    let tree = render(&env);
    let p2p = |path: &str| -> toml::Table {
        let doc: toml::Table = toml::from_str(&tree[path]).unwrap();
        doc["p2p"].as_table().unwrap().clone()
    };
    let list = |t: &toml::Table, key: &str| -> Vec<String> {
        t.get(key)
            .and_then(toml::Value::as_str)
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let validator = p2p("alice/pion-1/validator/p2p.toml");
    assert_eq!(validator["pex"].as_bool(), Some(false));
    assert_eq!(
        list(&validator, "persistent_peers"),
        [
            "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1@alice-a-pion-1.validators.com:29536",
            "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2@alice-b-pion-1.validators.com:29536"
        ]
    );
    assert_eq!(
        list(&validator, "unconditional_peer_ids"),
        ["a1".repeat(20), "a2".repeat(20)]
    );
    let sentry = p2p("alice/pion-1/sentry-a/p2p.toml");
    assert_eq!(
        list(&sentry, "private_peer_ids"),
        ["529a2b1b52c1a79a57989bb89630c08d1aaaa689"]
    );
    let unconditional = list(&sentry, "unconditional_peer_ids");
    for id in [
        "529a2b1b52c1a79a57989bb89630c08d1aaaa689".to_owned(),
        "a2".repeat(20),
        "b1".repeat(20),
    ] {
        assert!(
            unconditional.contains(&id),
            "{id} not unconditional for sentry-a: {unconditional:?}"
        );
    }
    assert!(
        list(&sentry, "persistent_peers")[0]
            .starts_with("529a2b1b52c1a79a57989bb89630c08d1aaaa689@alice-validator-pion-1.")
    );
    assert_eq!(sentry["pex"].as_bool(), Some(true));
    assert_eq!(
        sentry["persistent_peers_max_dial_period"].as_str(),
        Some("30s")
    );
    // Each node has its own ConfigMap and rollout hash.
    let names: std::collections::BTreeSet<&str> = ["validator", "sentry-a", "sentry-b"]
        .iter()
        .map(|n| {
            let cm = &tree[&format!("alice/pion-1/{n}/peers.yaml")];
            cm.lines().find(|l| l.contains("peers-sha256")).unwrap()
        })
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn every_sentry_fleet_kustomization_builds_with_kubectl() {
    let env = Env::new();
    render(&env);
    let kubectl = tool("kubectl");
    for v in ["alice", "bob", "carol"] {
        let out = std::process::Command::new(&kubectl)
            .args([
                "kustomize",
                &env.path(&format!("out/{v}")).display().to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let configmaps = text.matches("kind: ConfigMap").count();
        let expected = match v {
            "alice" => 3 * 4,
            "bob" => 3 * 4,
            _ => 4,
        };
        assert_eq!(configmaps, expected, "{v}:\n{text}");
    }
}

#[test]
fn a_sparse_topology_lists_fewer_peers_and_check_reports_the_graph() {
    let env = Env::new();
    let tree = render(&env);
    let peers = |path: &str| {
        tree[path]
            .lines()
            .find(|l| l.starts_with("persistent_peers"))
            .unwrap()
            .matches('@')
            .count()
    };
    assert_eq!(
        peers("alice/pion-1/sentry-a/p2p.toml"),
        5,
        "full mesh: 4 public nodes and its validator"
    );
    assert_eq!(
        peers("alice/neutron-1/sentry-a/p2p.toml"),
        3,
        "k-connected 2: two ring neighbours and its validator"
    );
    env.run(["check", "-i", &sentries()])
        .success()
        .stdout_has("topology k-connected 2: 4 public nodes, 2 behind sentries; degree 2-2, connectivity 2, diameter 2");
}

#[test]
fn duplicate_ips_are_accepted_and_emitted_when_the_consumer_allows_them() {
    let env = Env::new();
    let case = std::fs::read_to_string(repo_root().join("tests/cases/topology-duplicate-ip.toml"))
        .unwrap();
    let doc: toml::Table = toml::from_str(&case).unwrap();
    let inv = doc["files"]["inv.yaml"].as_str().unwrap();
    env.write(
        "inv.yaml",
        &format!("defaults:\n  p2p:\n    allow_duplicate_ip: true\n{inv}"),
    );
    env.run([
        "render",
        "-i",
        "inv.yaml",
        "--state",
        example_state().to_str().unwrap(),
        "--out",
        "out",
    ])
    .success();
    assert!(
        env.read("out/carol/pion-1/p2p.toml")
            .contains("allow_duplicate_ip = true\n")
    );
}
