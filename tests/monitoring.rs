//! Alerts and allowlists rendered with the config (docs/monitoring.md, docs/output.md): every
//! PrometheusRule passes `promtool check rules` and `promtool test rules` with series built from
//! the rendered `p2p.toml` files (not from the rules); every NetworkPolicy builds with kubectl and
//! passes the Kubernetes schema; every nftables file passes `nft -c`; addresses are locked from a
//! real `named`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::*;

fn inventory(name: &str) -> String {
    repo_root()
        .join("inventories")
        .join(name)
        .display()
        .to_string()
}

/// One rendered node, read from its own `p2p.toml` and `peers.yaml`.
#[derive(Debug)]
struct Node {
    dir: String,
    validator: String,
    slug: String,
    node: String,
    consumer_id: String,
    chain_id: String,
    namespace: String,
    /// `node_id@host:port` of every persistent peer.
    peers: Vec<String>,
}

fn nodes(tree: &BTreeMap<String, String>) -> Vec<Node> {
    let mut out = Vec::new();
    for (path, text) in tree {
        let Some(dir) = path.strip_suffix("/p2p.toml") else {
            continue;
        };
        let parts: Vec<&str> = dir.split('/').collect();
        let p2p: toml::Table = toml::from_str(text).unwrap();
        let peers = p2p["p2p"]["persistent_peers"]
            .as_str()
            .unwrap()
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let cm: Value = serde_saphyr::from_str(&tree[&format!("{dir}/peers.yaml")]).unwrap();
        let label = |k: &str| cm["metadata"]["labels"][k].as_str().unwrap().to_owned();
        out.push(Node {
            dir: dir.to_owned(),
            validator: parts[0].to_owned(),
            slug: parts[1].to_owned(),
            node: parts.get(2).copied().unwrap_or("validator").to_owned(),
            consumer_id: label("peergen.io/consumer-id"),
            chain_id: label("peergen.io/chain-id"),
            namespace: cm["metadata"]["namespace"].as_str().unwrap().to_owned(),
            peers,
        });
    }
    out
}

fn run_tool(tool_name: &str, args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(tool(tool_name))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool_name} {args:?} fails:\n{text}");
    text
}

fn render_monitored(env: &Env) -> BTreeMap<String, String> {
    env.run([
        "render",
        "-i",
        &inventory("sentries.yaml"),
        "-i",
        &inventory("monitoring.yaml"),
        "--out",
        "out",
    ])
    .success();
    read_tree(&env.path("out"))
}

/// The annotations of the one rule of `alert` whose labels include `labels`.
fn annotations(rule_doc: &Value, alert: &str, labels: &[(&str, &str)]) -> Value {
    let found: Vec<&Value> = rule_doc["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter(|r| {
            r["alert"] == alert
                && labels
                    .iter()
                    .all(|(k, v)| r["labels"][*k].as_str() == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{alert} {labels:?}");
    found[0]["annotations"].clone()
}

#[test]
fn alert_rules_pass_promtool_and_fire_exactly_when_the_plan_is_not_met() {
    let env = Env::new();
    let tree = render_monitored(&env);
    let all = nodes(&tree);
    for validator in ["alice", "bob", "carol"] {
        let path = format!("{validator}/prometheus-rule.yaml");
        let rule_doc: Value = serde_saphyr::from_str(&tree[&path]).unwrap();
        assert_eq!(rule_doc["kind"], "PrometheusRule");
        assert_eq!(rule_doc["apiVersion"], "monitoring.coreos.com/v1");
        let dir = env.path(&format!("promtool-{validator}"));
        std::fs::create_dir_all(&dir).unwrap();
        // JSON is YAML: promtool reads the rule groups exactly as the operator's Prometheus would.
        std::fs::write(
            dir.join("rules.json"),
            json!({"groups": rule_doc["spec"]["groups"]}).to_string(),
        )
        .unwrap();
        run_tool("promtool", &["check", "rules", "rules.json"], &dir);

        let mine: Vec<&Node> = all.iter().filter(|n| n.validator == validator).collect();
        assert!(!mine.is_empty());
        let selector = |n: &Node| json!({"chain_id": n.chain_id, "namespace": n.namespace, "pod": format!("{}-{}-0", n.slug, n.node)});
        let series = |n: &Node, value: usize| {
            let s = selector(n);
            json!({
                "series": format!(
                    "cometbft_p2p_peers{{chain_id=\"{}\",namespace=\"{}\",pod=\"{}\"}}",
                    s["chain_id"].as_str().unwrap(), s["namespace"].as_str().unwrap(), s["pod"].as_str().unwrap()
                ),
                "values": format!("{value}x20"),
            })
        };
        let node_alert = |n: &Node, alert: &str| {
            let mut labels = selector(n);
            for (k, v) in [
                ("severity", "warning"),
                ("validator", n.validator.as_str()),
                ("consumer_id", n.consumer_id.as_str()),
                ("node", n.node.as_str()),
            ] {
                labels[k] = json!(v);
            }
            json!({
                "exp_labels": labels,
                "exp_annotations": annotations(&rule_doc, alert, &[("consumer_id", &n.consumer_id), ("node", &n.node)]),
            })
        };
        // One below its planned count by one, for longer than `for: 5m`; at the plan, no alert.
        let below: Vec<Value> = mine.iter().map(|n| series(n, n.peers.len() - 1)).collect();
        let at_plan: Vec<Value> = mine.iter().map(|n| series(n, n.peers.len())).collect();
        let below_alerts: Vec<Value> = mine
            .iter()
            .map(|n| node_alert(n, "PeergenPeersBelowPlan"))
            .collect();
        let absent_alerts: Vec<Value> = mine
            .iter()
            .map(|n| node_alert(n, "PeergenPeersMetricAbsent"))
            .collect();

        // The probe's series: per consumer, the first planned peer down, the second up with
        // another node ID, the rest healthy, and an unplanned peer down (never alerted on).
        let mut planned: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for n in &mine {
            planned
                .entry((n.consumer_id.clone(), n.chain_id.clone()))
                .or_default()
                .extend(
                    n.peers
                        .iter()
                        .map(|p| p.split('@').next().unwrap().to_owned()),
                );
        }
        let mut probe_series = Vec::new();
        let (mut down, mut mismatch) = (Vec::new(), Vec::new());
        for ((consumer_id, chain_id), ids) in &planned {
            let ids: Vec<&String> = ids.iter().collect();
            assert!(ids.len() >= 2, "{validator} {consumer_id}: {ids:?}");
            let unplanned = "f".repeat(40);
            for (i, id) in ids
                .iter()
                .map(|s| s.as_str())
                .chain([unplanned.as_str()])
                .enumerate()
            {
                let (up, matched) = match i {
                    0 => (0, 0),
                    1 => (1, 0),
                    _ if id == unplanned => (0, 0),
                    _ => (1, 1),
                };
                for (metric, v) in [
                    ("peergen_probe_up", up),
                    ("peergen_probe_id_match", matched),
                ] {
                    probe_series.push(json!({
                        "series": format!("{metric}{{consumer=\"{consumer_id}\",chain_id=\"{chain_id}\",peer=\"{id}\"}}"),
                        "values": format!("{v}x20"),
                    }));
                }
                let alert = |name: &str| {
                    json!({
                        "exp_labels": {"consumer": consumer_id, "chain_id": chain_id, "peer": id,
                            "severity": "warning", "validator": validator, "consumer_id": consumer_id},
                        "exp_annotations": annotations(&rule_doc, name, &[("consumer_id", consumer_id)]),
                    })
                };
                match i {
                    0 => down.push(alert("PeergenPlannedPeerDown")),
                    1 => mismatch.push(alert("PeergenPlannedPeerIdMismatch")),
                    _ => {}
                }
            }
        }
        let check = |alertname: &str, at: &str, alerts: &[Value]| json!({"eval_time": at, "alertname": alertname, "exp_alerts": alerts});
        let tests = json!({
            "rule_files": ["rules.json"],
            "evaluation_interval": "1m",
            "tests": [
                {"interval": "1m", "input_series": below, "alert_rule_test": [
                    check("PeergenPeersBelowPlan", "4m", &[]),
                    check("PeergenPeersBelowPlan", "10m", &below_alerts),
                    check("PeergenPeersMetricAbsent", "10m", &[]),
                ]},
                {"interval": "1m", "input_series": at_plan, "alert_rule_test": [
                    check("PeergenPeersBelowPlan", "10m", &[]),
                ]},
                {"interval": "1m", "input_series": [], "alert_rule_test": [
                    check("PeergenPeersMetricAbsent", "10m", &absent_alerts),
                ]},
                {"interval": "1m", "input_series": probe_series, "alert_rule_test": [
                    check("PeergenPlannedPeerDown", "4m", &[]),
                    check("PeergenPlannedPeerDown", "10m", &down),
                    check("PeergenPlannedPeerIdMismatch", "10m", &mismatch),
                ]},
            ],
        });
        std::fs::write(dir.join("tests.json"), tests.to_string()).unwrap();
        run_tool("promtool", &["test", "rules", "tests.json"], &dir);
        insta::assert_snapshot!(
            format!("monitoring__{}", path.replace('/', "__")),
            &tree[&path]
        );
    }
    insta::assert_snapshot!(
        "monitoring__alice__kustomization.yaml",
        &tree["alice/kustomization.yaml"]
    );
    // Each validator's directory builds with its rule beside its consumers.
    for validator in ["alice", "bob", "carol"] {
        let built = run_tool(
            "kubectl",
            &["kustomize", &format!("out/{validator}")],
            env.dir.path(),
        );
        assert_eq!(
            built.matches("kind: PrometheusRule").count(),
            1,
            "{validator}"
        );
    }
}

#[test]
fn without_the_new_sections_nothing_changes_but_the_validator_index() {
    let env = Env::new();
    let with = render_monitored(&env);
    let plain = Env::new();
    plain
        .run(["render", "-i", &inventory("sentries.yaml"), "--out", "out"])
        .success();
    let without = read_tree(&plain.path("out"));
    let mut differing = Vec::new();
    for (path, text) in &without {
        if with.get(path) != Some(text) {
            differing.push(path.as_str());
        }
    }
    differing.retain(|p| *p != ".peergen-manifest");
    assert_eq!(
        differing,
        [
            "alice/kustomization.yaml",
            "bob/kustomization.yaml",
            "carol/kustomization.yaml"
        ]
    );
    let added: Vec<&String> = with.keys().filter(|k| !without.contains_key(*k)).collect();
    assert_eq!(
        added,
        [
            "alice/prometheus-rule.yaml",
            "bob/prometheus-rule.yaml",
            "carol/prometheus-rule.yaml"
        ]
    );
}

#[test]
fn tendermint_nodes_and_another_duration_get_their_own_metric_names() {
    let env = Env::new();
    env.write(
        "monitoring.yaml",
        "monitoring:\n  metric_namespace: tendermint\n  for: 90s\n  severity: critical\n  rule_namespace: observability\n  labels:\n    job: \"{{validator}}-{{chain_id}}-{{node}}\"\n    hostile: \"x\\\"} or vector(1) # \\n\\u2028$value }}\"\n",
    );
    env.run([
        "render",
        "-i",
        &inventory("sentries.yaml"),
        "-i",
        "monitoring.yaml",
        "--out",
        "out",
    ])
    .success();
    let rules = env.read("out/bob/prometheus-rule.yaml");
    assert!(rules.contains("namespace: \"observability\""), "{rules}");
    assert!(!rules.contains("cometbft_"));
    // A hostile label value stays one string inside one matcher: promtool reads every rule.
    let doc: Value = serde_saphyr::from_str(&rules).unwrap();
    let expr = doc["spec"]["groups"][0]["rules"][0]["expr"]
        .as_str()
        .unwrap();
    assert_eq!(
        expr,
        r#"tendermint_p2p_peers{chain_id="pion-1", hostile="x\"} or vector(1) # \u000a\u2028$value }}", job="bob-pion-1-eu"} < 5"#
    );
    std::fs::write(
        env.path("rules.json"),
        json!({"groups": doc["spec"]["groups"]}).to_string(),
    )
    .unwrap();
    run_tool(
        "promtool",
        &["check", "rules", "rules.json"],
        env.dir.path(),
    );
    assert_eq!(
        rules.matches("for: \"90s\"").count(),
        rules.matches("- alert:").count()
    );
    assert!(rules.contains("severity\": \"critical\""));
}

// ---------------------------------------------------------------- allowlists

const ALLOWLIST: &str = "allowlist:\n  pod_selector:\n    app.kubernetes.io/instance: \"{{chain_id}}-{{node}}\"\n  own_pods:\n    peergen.io/validator: \"{{validator}}\"\n";

/// Every host name the bundled sentry fleet's peers use, with the addresses the tests give them:
/// each an IPv4 address, every other one an IPv6 address too.
fn fleet_addresses() -> BTreeMap<String, Vec<String>> {
    let env = Env::new();
    env.run(["render", "-i", &inventory("sentries.yaml"), "--out", "out"])
        .success();
    let mut hosts = BTreeSet::new();
    for n in nodes(&read_tree(&env.path("out"))) {
        for p in &n.peers {
            let host = p.split('@').nth(1).unwrap().rsplit_once(':').unwrap().0;
            if host.parse::<std::net::IpAddr>().is_err() {
                hosts.insert(host.to_owned());
            }
        }
    }
    hosts
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let mut a = vec![format!("198.51.100.{}", i + 1)];
            if i % 2 == 1 {
                a.push(format!("2001:db9::{:x}", i + 1));
            }
            (h, a)
        })
        .collect()
}

fn state_with(addresses: &BTreeMap<String, Vec<String>>) -> String {
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(example_state()).unwrap()).unwrap();
    state["resolved_addresses"] = addresses
        .iter()
        .map(|(h, a)| json!({"host": h, "addresses": a}))
        .collect();
    serde_json::to_string_pretty(&state).unwrap()
}

fn render_allowlist(env: &Env, state: &str, out: &str) -> Run {
    env.write("allowlist.yaml", ALLOWLIST);
    env.run([
        "render",
        "-i",
        &inventory("sentries.yaml"),
        "-i",
        "allowlist.yaml",
        "--state",
        state,
        "--out",
        out,
    ])
}

fn cidr(a: &str) -> String {
    if a.contains(':') {
        format!("{a}/128")
    } else {
        format!("{a}/32")
    }
}

#[test]
fn allowlists_admit_exactly_the_planned_peers_and_pass_nft_kubectl_and_the_schema() {
    let env = Env::new();
    let addresses = fleet_addresses();
    env.write("state.json", &state_with(&addresses));
    render_allowlist(&env, "state.json", "out").success();
    let tree = read_tree(&env.path("out"));
    let validate = repo_root().join(".ci/venv/bin/kubernetes-validate");
    assert!(
        validate.is_file(),
        "kubernetes-validate is missing: .ci/run installs it into .ci/venv"
    );
    let mut public = BTreeMap::<String, usize>::new();
    for n in nodes(&tree) {
        let policy_path = format!("{}/network-policy.yaml", n.dir);
        let nft_path = format!("{}/allowlist.nft", n.dir);
        if n.node == "validator" && n.dir.split('/').count() == 3 {
            assert!(!tree.contains_key(&policy_path), "{policy_path}");
            assert!(!tree.contains_key(&nft_path), "{nft_path}");
            continue;
        }
        *public.entry(n.validator.clone()).or_default() += 1;
        // The addresses of the peers its own p2p.toml lists (links are symmetric, so the nodes
        // that list it are the same), by the test's own table.
        let mut want = BTreeSet::new();
        for p in &n.peers {
            let host = p.split('@').nth(1).unwrap().rsplit_once(':').unwrap().0;
            match addresses.get(host) {
                Some(a) => want.extend(a.iter().map(|a| cidr(a))),
                None => {
                    want.insert(cidr(host));
                }
            }
        }
        let policy: Value = serde_saphyr::from_str(&tree[&policy_path]).unwrap();
        let from = policy["spec"]["ingress"][0]["from"].as_array().unwrap();
        let got: BTreeSet<String> = from
            .iter()
            .filter_map(|f| f["ipBlock"]["cidr"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(got, want, "{policy_path}");
        assert_eq!(
            from.last().unwrap()["podSelector"]["matchLabels"]["peergen.io/validator"],
            n.validator.as_str()
        );
        assert_eq!(
            policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"],
            format!("{}-{}", n.slug, n.node).as_str()
        );
        let nft = &tree[&nft_path];
        let elements: BTreeSet<String> = nft
            .lines()
            .filter_map(|l| l.trim().strip_prefix("elements = { "))
            .flat_map(|l| l.trim_end_matches(" }").split(", ").map(str::to_owned))
            .collect();
        assert_eq!(elements, want, "{nft_path}");
        run_tool(
            "nft",
            &["-c", "-f", &format!("out/{nft_path}")],
            env.dir.path(),
        );
        let checked = Command::new(&validate)
            .args(["--strict", &format!("out/{policy_path}")])
            .current_dir(env.dir.path())
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{policy_path}: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
        if n.slug == "pion-1" {
            let kustomization = format!("{}/kustomization.yaml", n.dir);
            assert!(tree[&kustomization].contains("  - network-policy.yaml\n"));
            for path in [&policy_path, &nft_path] {
                insta::assert_snapshot!(
                    format!("allowlist__{}", path.replace('/', "__")),
                    &tree[path]
                );
            }
        }
    }
    insta::assert_snapshot!(
        "allowlist__alice__pion-1__sentry-a__kustomization.yaml",
        &tree["alice/pion-1/sentry-a/kustomization.yaml"]
    );
    assert_eq!(
        public,
        BTreeMap::from([
            ("alice".to_owned(), 8),
            ("bob".to_owned(), 8),
            ("carol".to_owned(), 4)
        ])
    );
    for (validator, count) in &public {
        let built = run_tool(
            "kubectl",
            &["kustomize", &format!("out/{validator}")],
            env.dir.path(),
        );
        assert_eq!(
            built.matches("kind: NetworkPolicy").count(),
            *count,
            "{validator}"
        );
    }

    // A host name without a locked address stops the render: nothing is written.
    let mut missing = addresses.clone();
    missing.remove("bob-us-pion-1.example.org");
    env.write("partial.json", &state_with(&missing));
    render_allowlist(&env, "partial.json", "partial")
        .failure()
        .stderr_has("peer bob/us at host bob-us-pion-1.example.org has no locked address");
    assert!(!env.path("partial").exists());
}

/// A zone of `origin` answering A/AAAA for the given names (relative labels).
fn zone(origin: &str, records: &[(String, Vec<String>)]) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ IN SOA ns1.{origin}. hostmaster.{origin}. 1 3600 600 604800 300\n@ IN NS ns1.{origin}.\nns1 IN A 127.0.0.1\n"
    );
    for (label, addresses) in records {
        for a in addresses {
            let kind = if a.contains(':') { "AAAA" } else { "A" };
            text.push_str(&format!("{label} IN {kind} {a}\n"));
        }
    }
    text
}

/// The fleet's host names served by a real `named`: `resolve` locks the same addresses the
/// hand-written snapshot holds, so the render is byte-identical; a name the server does not know
/// fails the run and leaves the snapshot byte-identical.
#[test]
fn resolve_locks_addresses_from_named_and_keeps_the_snapshot_on_failure() {
    let env = Env::new();
    let addresses = fleet_addresses();
    let origins = ["validators.com", "example.org", "alice.svc.cluster.local"];
    let serve = |skip: Option<&str>| {
        let mut zones = Vec::new();
        for origin in origins {
            let records: Vec<(String, Vec<String>)> = addresses
                .iter()
                .filter(|(h, _)| Some(h.as_str()) != skip)
                .filter_map(|(h, a)| {
                    h.strip_suffix(&format!(".{origin}"))
                        .map(|l| (l.to_owned(), a.clone()))
                })
                .collect();
            let path = env.write(&format!("zones/{origin}.zone"), &zone(origin, &records));
            zones.push((origin, path));
        }
        crate::dns::start_named(&zones)
    };
    let named = serve(None);
    env.write(
        "state.json",
        &std::fs::read_to_string(example_state()).unwrap(),
    );
    env.write("allowlist.yaml", ALLOWLIST);
    let ns = format!("127.0.0.1:{}", named.port);
    let resolve = |state: &str| {
        env.run([
            "resolve",
            "-i",
            &inventory("sentries.yaml"),
            "-i",
            "allowlist.yaml",
            "--state",
            state,
            "--nameserver",
            &ns,
            "--timeout",
            "2",
        ])
    };
    resolve("state.json").success();
    let locked: Value = serde_json::from_str(&env.read("state.json")).unwrap();
    let got: BTreeMap<String, Vec<String>> = locked["resolved_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap().to_owned(),
                r["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let mut want = addresses.clone();
    for a in want.values_mut() {
        a.sort_by_key(|s| s.parse::<std::net::IpAddr>().unwrap());
    }
    assert_eq!(got, want);
    render_allowlist(&env, "state.json", "resolved").success();
    env.write("by-hand.json", &state_with(&addresses));
    render_allowlist(&env, "by-hand.json", "by-hand").success();
    assert_eq!(
        read_tree(&env.path("resolved")),
        read_tree(&env.path("by-hand"))
    );

    // Unchanged answers leave the snapshot's bytes alone; a name that is gone fails the run.
    let before = env.read("state.json");
    resolve("state.json").success().stdout_has("unchanged");
    drop(named);
    let named = serve(Some("bob-us-pion-1.example.org"));
    let ns2 = format!("127.0.0.1:{}", named.port);
    env.run([
        "resolve",
        "-i",
        &inventory("sentries.yaml"),
        "-i",
        "allowlist.yaml",
        "--state",
        "state.json",
        "--nameserver",
        &ns2,
        "--timeout",
        "2",
    ])
    .failure()
    .stderr_has("allowlist: host bob-us-pion-1.example.org: A lookup: no such name (NXDOMAIN)");
    assert_eq!(env.read("state.json"), before);
}

/// A public node no planned peer links to gets a NetworkPolicy that admits nothing on the P2P port
/// (`ingress: []`, never a rule without `from`, which Kubernetes reads as every source) and empty
/// nftables sets; both still pass the schema and `nft -c`.
#[test]
fn a_node_without_planned_peers_is_closed_not_open() {
    let env = Env::new();
    env.write(
        "inv.yaml",
        "validators:\n  carol:\n    operator_address: cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm\n    consumer_template: \"203.0.113.7:{{port}}\"\n    node_id: cccccccccccccccccccccccccccccccccccccccc\nallowlist:\n  pod_selector: {app: \"{{chain_id}}\"}\n",
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
    let policy = env.read("out/carol/pion-1/network-policy.yaml");
    let doc: Value = serde_saphyr::from_str(&policy).unwrap();
    assert_eq!(doc["spec"]["ingress"], json!([]), "{policy}");
    assert_eq!(doc["spec"]["policyTypes"], json!(["Ingress"]));
    let nft = env.read("out/carol/pion-1/allowlist.nft");
    assert!(!nft.contains("elements"), "{nft}");
    run_tool(
        "nft",
        &["-c", "-f", "out/carol/pion-1/allowlist.nft"],
        env.dir.path(),
    );
    let checked = Command::new(repo_root().join(".ci/venv/bin/kubernetes-validate"))
        .args(["--strict", "out/carol/pion-1/network-policy.yaml"])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
}
