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
        // alice and bob serve four consumers each with two sentries, each recorded under its
        // validator's owner and under its own; carol, at an IP, gets none.
        (4 + 4) * 2 * 2,
        "two SRV records per public sentry:\n{zone}"
    );
    assert!(
        zone.contains("_cosmos-p2p._tcp.sentry-a.alice-pion-1 "),
        "{zone}"
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

/// Another operator's inventory that looks alice's sentries up in DNS instead of templating
/// them: `endpoint_source: dns` on each sentry resolves that sentry's own SRV owner, served here
/// by a real `named` from the zone the publisher rendered. Both inventories render the same peers.
#[test]
fn dns_sourced_sentries_resolve_their_own_records_and_render_the_same_peers() {
    let env = Env::new();
    let root = repo_root().join("inventories");
    for f in ["example-state.json", "keys/carol/node_key.json"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        env.write(&format!("inv/{f}"), &text);
    }
    let publisher = std::fs::read_to_string(root.join("sentries.yaml")).unwrap();
    env.write("inv/publisher.yaml", &publisher);
    env.run(["render", "-i", "inv/publisher.yaml", "--out", "first"])
        .success();
    let zone = env.path("first/dns/validators.zone.zone");
    let named = crate::dns::start_named(&[("validators.zone", zone)]);

    // Bob's validator owner holds both sentries with their weights; each sentry owns one record.
    let dig = |name: &str| crate::dns::dig_srv(named.port, name);
    let mut both = dig("_cosmos-p2p._tcp.bob-pion-1.validators.zone");
    both.sort();
    assert_eq!(
        both,
        [
            "10 40 29536 bob-us-pion-1.example.org.",
            "10 60 29536 bob-eu-pion-1.example.org."
        ]
    );
    assert_eq!(
        dig("_cosmos-p2p._tcp.sentry-a.alice-pion-1.validators.zone"),
        ["0 0 29536 alice-a-pion-1.validators.com."]
    );

    let subscriber = publisher
        .replace(
            "consumer_template: alice-a-{{chain-id}}.validators.com:{{port}}",
            "endpoint_source: dns",
        )
        .replace(
            "consumer_template: alice-b-{{chain-id}}.validators.com:{{port}}",
            "endpoint_source: dns",
        );
    assert_eq!(subscriber.matches("endpoint_source: dns").count(), 2);
    env.write("inv/subscriber.yaml", &subscriber);
    // Before resolving, the plan names the missing answer.
    env.run(["check", "-i", "inv/subscriber.yaml"])
        .failure()
        .stderr_has("the snapshot has no resolved endpoint for _cosmos-p2p._tcp.sentry-a.alice-pion-1.validators.zone");
    let ns = format!("127.0.0.1:{}", named.port);
    env.run([
        "resolve",
        "-i",
        "inv/subscriber.yaml",
        "--nameserver",
        &ns,
        "--timeout",
        "2",
    ])
    .success();
    let snapshot = env.read("inv/example-state.json");
    assert!(
        snapshot.contains("\"node\": \"sentry-b\""),
        "each sentry's answer is kept under its name:\n{snapshot}"
    );
    env.run(["render", "-i", "inv/subscriber.yaml", "--out", "second"])
        .success();
    let peers = |dir: &str| {
        let mut t = read_tree(&env.path(dir));
        // Alice's sentries publish nothing of their own in the subscriber's zone.
        t.retain(|k, _| !k.starts_with("dns/") && k != ".peergen-manifest");
        t
    };
    let (first, second) = (peers("first"), peers("second"));
    assert!(first.contains_key("bob/pion-1/eu/p2p.toml"));
    assert_eq!(first, second);

    // Looking bob up as one node finds two answers: one is kept, and the other is named, not
    // silently dropped.
    let (head, rest) = subscriber.split_once("  bob:\n").unwrap();
    let (_, tail) = rest.split_once("  carol:\n").unwrap();
    let one_node = format!(
        "{head}  bob:\n    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn\n    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b\n    endpoint_source: dns\n  carol:\n{tail}"
    );
    env.write("inv/one-node.yaml", &one_node);
    env.run([
        "resolve",
        "-i",
        "inv/one-node.yaml",
        "--nameserver",
        &ns,
        "--timeout",
        "2",
    ])
    .success()
    .stderr_has("SRV _cosmos-p2p._tcp.bob-pion-1.validators.zone has 2 answers; peergen keeps the preferred one (bob-eu-pion-1.example.org:29536)");
}

/// `consumers:` on a sentry limits it to the consumers it names: the other consumers get the
/// validator's remaining sentries, and its validator node peers only with those.
#[test]
fn a_sentry_serves_only_the_consumers_it_lists() {
    let env = Env::new();
    let text = std::fs::read_to_string(sentries())
        .unwrap()
        .replace(
            "node_id: a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2",
            "node_id: a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2\n        consumers: [pion-1]",
        )
        .replace("state: example-state.json", "state: state.json");
    env.write("inv.yaml", &text);
    let state =
        std::fs::read_to_string(repo_root().join("inventories/example-state.json")).unwrap();
    env.write("state.json", &state);
    let key =
        std::fs::read_to_string(repo_root().join("inventories/keys/carol/node_key.json")).unwrap();
    env.write("keys/carol/node_key.json", &key);
    env.run(["render", "-i", "inv.yaml", "--out", "out"])
        .success();
    let tree = read_tree(&env.path("out"));
    assert!(tree.contains_key("alice/pion-1/sentry-b/p2p.toml"));
    assert!(
        !tree
            .keys()
            .any(|k| k.starts_with("alice/neutron-1/sentry-b/"))
    );
    let validator = &tree["alice/neutron-1/validator/p2p.toml"];
    assert!(validator.contains("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1@"));
    assert!(!validator.contains("a2a2a2a2"), "{validator}");
    assert!(!tree["bob/neutron-1/eu/p2p.toml"].contains("a2a2a2a2"));
}
