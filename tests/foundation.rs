//! Foundation: inventory + snapshot → verified render; check, port and node-id; every error path.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::harness::*;

fn inv() -> String {
    example_inventory().display().to_string()
}

// ------------------------------------------------------------------ ICS Monitor reference vectors

#[derive(Deserialize)]
struct Vectors {
    validator_sets: BTreeMap<String, Vec<BondedValidator>>,
    selection: Vec<SelectionVector>,
    ports: BTreeMap<String, u16>,
}

/// A snapshot's bonded validator, as the vector file and `peergen/provider-state/v1` spell it.
#[derive(Deserialize, serde::Serialize)]
struct BondedValidator {
    operator_address: String,
    moniker: String,
    tokens: String,
    consensus_pubkey: String,
    valcons: String,
}

#[derive(Deserialize)]
struct SelectionVector {
    set: String,
    consumer_id: String,
    ratio: f64,
    subset_operator_addresses: Vec<String>,
}

fn vectors() -> Vectors {
    let text =
        std::fs::read_to_string(repo_root().join("tests/data/ics-monitor-vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn ics_monitor_port_vectors_all_pass_through_the_cli() {
    let v = vectors();
    let env = Env::new();
    let ids: Vec<&String> = v.ports.keys().collect();
    let run = env.run(std::iter::once("port").chain(ids.iter().map(|s| s.as_str())));
    run.success();
    let got: BTreeMap<String, u16> = run
        .stdout
        .lines()
        .map(|l| {
            let (id, p) = l.split_once('\t').unwrap();
            (id.to_owned(), p.parse().unwrap())
        })
        .collect();
    assert_eq!(got, v.ports);
    run.stderr_has("consumers 19 and 29 share port 35176");
}

// ------------------------------------------------------------------ the bundled example

#[test]
fn example_renders_and_every_file_is_snapshotted() {
    let env = Env::new();
    let run = env.run(["render", "-i", &inv(), "--out", "out"]);
    run.success()
        .stdout_has("53 written, 0 unchanged, 0 removed");
    let tree = read_tree(&env.path("out"));
    assert_eq!(tree.len(), 53, "{:?}", tree.keys().collect::<Vec<_>>());
    for (path, content) in &tree {
        insta::assert_snapshot!(format!("example__{}", path.replace('/', "__")), content);
    }
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "a"]).success();
    env.run(["render", "-i", &inv(), "--out", "b"]).success();
    assert_eq!(read_tree(&env.path("a")), read_tree(&env.path("b")));
    let before = read_tree(&env.path("a"));
    let inode = |rel: &str| {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(env.path("a").join(rel)).unwrap();
        (m.ino(), m.mtime_nsec())
    };
    let peers = inode("alice/pion-1/peers.yaml");
    env.run(["render", "-i", &inv(), "--out", "a"])
        .success()
        .stdout_has("0 written, 53 unchanged, 0 removed");
    assert_eq!(before, read_tree(&env.path("a")));
    assert_eq!(
        inode("alice/pion-1/peers.yaml"),
        peers,
        "an unchanged file is not rewritten"
    );
    let names: Vec<String> = std::fs::read_dir(env.path("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".peergen-tmp-")),
        "{names:?}"
    );
}

/// Under a umask that strips the group and world bits, new directories are the umask's but every
/// file is still 0644 (config a container reads as another user), whole new directories included.
#[test]
fn files_are_0644_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let mut c = env.command();
    let peergen = c.get_program().to_owned();
    c.env("PEERGEN", peergen);
    let run = Run::from(
        std::process::Command::new("sh")
            .args(["-c", "umask 077 && exec \"$PEERGEN\" \"$@\"", "sh"])
            .args(["render", "-i", &inv(), "--out", "out"])
            .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .current_dir(env.dir.path())
            .output()
            .unwrap(),
    );
    run.success().stdout_has("53 written");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.path("out/alice")), 0o700, "the umask's directory");
    let files = walk(&env.path("out"));
    assert_eq!(files.len(), 53, "the manifest included");
    for path in files {
        assert_eq!(mode(&path), 0o644, "{}", path.display());
    }
}

#[test]
fn every_kustomization_builds_with_kubectl() {
    let kubectl = tool("kubectl");
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    let tree = read_tree(&env.path("out"));
    let dirs: Vec<&str> = tree
        .keys()
        .filter_map(|p| p.strip_suffix("/kustomization.yaml"))
        .filter(|d| !d.ends_with("/rollout"))
        .collect();
    assert_eq!(dirs.len(), 3 + 12, "{dirs:?}");
    for dir in dirs {
        let out = std::process::Command::new(&kubectl)
            .args(["kustomize", env.path("out").join(dir).to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl kustomize {dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built = String::from_utf8(out.stdout).unwrap();
        assert!(built.contains("kind: ConfigMap"), "{dir}: {built}");
    }
}

/// The rollout Component really reaches a user's StatefulSet: a peer-list change changes its pod template.
#[test]
fn rollout_component_annotates_the_workload() {
    let kubectl = tool("kubectl");
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    env.write(
        "app/statefulset.yaml",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: pion-1\n  namespace: alice-pion-1\nspec:\n  selector:\n    matchLabels: {app: pion-1}\n  template:\n    metadata:\n      labels: {app: pion-1}\n    spec:\n      containers: [{name: node, image: gaia}]\n",
    );
    env.write(
        "app/kustomization.yaml",
        "resources:\n  - statefulset.yaml\n  - ../out/alice/pion-1\ncomponents:\n  - ../out/alice/pion-1/rollout\n",
    );
    let out = std::process::Command::new(&kubectl)
        .args([
            "kustomize",
            "--load-restrictor",
            "LoadRestrictionsNone",
            env.path("app").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = String::from_utf8(out.stdout).unwrap();
    let cm: ConfigMap = serde_saphyr::from_str(&env.read("out/alice/pion-1/peers.yaml")).unwrap();
    let sha = &cm.metadata.annotations["peergen.io/peers-sha256"];
    assert!(
        built.contains(&format!("peergen.io/peers-sha256: {sha}")),
        "{built}"
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigMap {
    api_version: String,
    kind: String,
    metadata: Metadata,
    data: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Kubernetes' own rules for a ConfigMap (apimachinery validation): typed fields only, names as
/// DNS-1123, label keys/values and data keys in their character sets.
#[test]
fn every_configmap_is_a_valid_kubernetes_configmap_and_matches_the_plan() {
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    let check = env.run(["check", "-i", &inv()]);
    check.success();
    let members = members_from_check(&check.stdout);
    let tree = read_tree(&env.path("out"));
    let mut seen = 0;
    for (path, text) in tree.iter().filter(|(p, _)| p.ends_with("/peers.yaml")) {
        seen += 1;
        let cm: ConfigMap = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            (cm.api_version.as_str(), cm.kind.as_str()),
            ("v1", "ConfigMap")
        );
        assert!(
            cm.metadata.name.len() <= 253 && cm.metadata.name.split('.').all(dns1123_label),
            "{path}"
        );
        assert!(dns1123_label(&cm.metadata.namespace), "{path}");
        for (k, v) in &cm.metadata.labels {
            assert!(
                v.len() <= 63
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "{path}: label {k}={v}"
            );
        }
        for k in cm.data.keys() {
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "{path}: data key {k}"
            );
        }
        let (validator, slug) = {
            let mut parts = path.split('/');
            (parts.next().unwrap(), parts.next().unwrap())
        };
        let mut expected: Vec<String> = members[slug]
            .iter()
            .filter(|(v, _)| v != validator)
            .map(|(_, p)| p.clone())
            .collect();
        expected.sort();
        assert_eq!(cm.data["persistent_peers"], expected.join(","), "{path}");
        let lines: String = expected.iter().map(|p| format!("{p}\n")).collect();
        assert_eq!(cm.data["peers.txt"], lines, "{path}");
        // The rollout annotation is the digest of the node's whole [p2p] fragment.
        let p2p = &tree[&path.replace("peers.yaml", "p2p.toml")];
        assert_eq!(
            cm.metadata.annotations["peergen.io/peers-sha256"],
            peergen_sha256(p2p)
        );
        assert_eq!(
            cm.metadata.labels["app.kubernetes.io/managed-by"],
            "peergen"
        );
        assert_eq!(cm.metadata.labels["peergen.io/validator"], validator);

        let toml_path = path.replace("peers.yaml", "p2p.toml");
        let doc: toml::Table =
            toml::from_str(&tree[&toml_path]).unwrap_or_else(|e| panic!("{toml_path}: {e}"));
        assert_eq!(
            doc["p2p"]["persistent_peers"].as_str().unwrap(),
            expected.join(","),
            "{toml_path}"
        );
    }
    assert_eq!(seen, 12);
}

fn peergen_sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// `check` lists each consumer's members as `  name  node@host:port` under `consumer ID CHAIN ... -> SLUG/`.
fn members_from_check(stdout: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(slug) = line
            .strip_prefix("consumer ")
            .and_then(|l| l.rsplit_once("-> "))
            .map(|(_, s)| s.trim_end_matches('/'))
        {
            current = Some(slug.to_owned());
            out.entry(slug.to_owned()).or_default();
        } else if let (Some(slug), Some(rest)) = (&current, line.strip_prefix("  ")) {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(peer)) = (parts.next(), parts.next())
                && peer.contains('@')
            {
                out.get_mut(slug)
                    .unwrap()
                    .push((name.to_owned(), peer.to_owned()));
            }
        }
    }
    out
}

#[test]
fn check_reports_missing_inactive_and_shared_chain_ids() {
    let env = Env::new();
    let run = env.run(["check", "-i", &inv()]);
    run.success()
        .stdout_has("missing from inventory: cosmosvaloper13pvrtayl29vry9chuyxgkcu8uqupgrdy0xch53 (\"SmartNodes\")")
        .stdout_has("consumer 2 stride-1 (stopped): no peers")
        .stdout_has("-> sandbox-1/")
        .stdout_has("-> sandbox-1--5/")
        .stdout_has("excluded: carol")
        .stderr_has("is not in the inventory");
    insta::assert_snapshot!("check_example", run.stdout);
}

#[test]
fn render_self_renders_only_that_validator() {
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--self", "carol", "--out", "out"])
        .success();
    let tree = read_tree(&env.path("out"));
    assert!(
        tree.keys()
            .all(|p| p.starts_with("carol/") || p == ".peergen-manifest"),
        "{:?}",
        tree.keys()
    );
    assert!(tree.contains_key("carol/sandbox-1--5/p2p.toml"));
    env.run(["render", "-i", &inv(), "--self", "mallory", "--out", "out2"])
        .failure()
        .stderr_has(
            "--self mallory: no validator of that name in the inventory (known: alice, bob, carol)",
        );
}

#[test]
fn node_id_command_derives_the_reference_vector() {
    let env = Env::new();
    let key = repo_root().join("inventories/keys/carol/node_key.json");
    env.run(["node-id", key.to_str().unwrap()])
        .success()
        .stdout_has("a3258dcbf45dca0df052981870f2d1441a36d145");
    env.write(
        "bad.json",
        "{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"c2VjcmV0\"}}",
    );
    let run = env.run(["node-id", "bad.json"]);
    run.failure().stderr_has("decodes to 6 bytes");
    assert!(
        !run.stderr.contains("c2VjcmV0"),
        "key material echoed: {}",
        run.stderr
    );
}

// ------------------------------------------------------------------ the seed's Option A file

const OPTION_A_STATE: &str = r#"{
  "format": "peergen/provider-state/v1",
  "provider": {"chain_id": "provider", "height": 7},
  "bonded_validators": [],
  "consumers": [
    {"consumer_id": "8", "chain_id": "finaltest", "phase": "launched", "top_n": 0, "opted_in": [],
     "validators": [
       {"operator_address": "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg", "valcons": "cosmosvalcons1a", "moniker": "alice"},
       {"operator_address": "cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn", "valcons": "cosmosvalcons1b", "moniker": "bob"},
       {"operator_address": "cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm", "valcons": "cosmosvalcons1c", "moniker": "charlie"}
     ]}
  ]
}
"#;

#[test]
fn seed_option_a_loads_as_written_with_node_ids_beside_it() {
    let env = Env::new();
    env.write("state.json", OPTION_A_STATE);
    let a = repo_root().join("inventories/option-a.yaml");
    let ids = repo_root().join("inventories/option-a-node-ids.yaml");
    let run = env.run([
        "check",
        "-i",
        a.to_str().unwrap(),
        "-i",
        ids.to_str().unwrap(),
        "--state",
        "state.json",
    ]);
    run.success()
        .stdout_has("alice    529a2b1b52c1a79a57989bb89630c08d1aaaa689@alice-finaltest.validators.com:36536")
        .stdout_has("bob      e326eeb620fccafb2391a9df7f5b71d3f101dd5b@bob-consumer-finaltest.example.org:36536")
        .stdout_has("charlie  9cb184002eeaa2d9f01c67ffc448f991afdea6c7@203.0.113.10:36536")
        .stderr_has("validators.alice has no operator_address; it is matched to provider state by moniker");
    env.run(["check", "-i", a.to_str().unwrap(), "--state", "state.json"])
        .failure()
        .stderr_has("option-a.yaml:3:5: validators.alice: has no node ID");
}

/// The seed's "Option A" block, exactly as `../shared/seeds/000_9589ca74e5638174.txt` writes it.
const SEED_OPTION_A: &str = "validators:
  alice:
    provider_endpoint: alice.validators.com:26656
    consumer_template: alice-{{chain-id}}.validators.com:{{port}}
  bob:
    provider_endpoint: bob-validator.example.org:26656
    consumer_template: bob-consumer-{{chain-id}}.example.org:{{port}}
  charlie:
    provider_endpoint: 203.0.113.10:26656
    consumer_template: 203.0.113.10:{{port}}
";

#[test]
fn option_a_file_is_the_seed_block_unchanged() {
    let file = std::fs::read_to_string(repo_root().join("inventories/option-a.yaml")).unwrap();
    assert_eq!(file, SEED_OPTION_A);
}

// ------------------------------------------------------------------ port collisions

fn collision_state() -> String {
    let v = |op: &str, m: &str| {
        format!(
            r#"{{"operator_address": "{op}", "valcons": "cosmosvalcons1{m}", "moniker": "{m}"}}"#
        )
    };
    let set = [
        v(
            "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg",
            "alice",
        ),
        v(
            "cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm",
            "charlie",
        ),
    ]
    .join(",");
    format!(
        r#"{{"format": "peergen/provider-state/v1", "provider": {{"chain_id": "p", "height": 1}}, "bonded_validators": [],
  "consumers": [
    {{"consumer_id": "19", "chain_id": "nineteen-1", "phase": "launched", "top_n": 0, "opted_in": [], "validators": [{set}]}},
    {{"consumer_id": "29", "chain_id": "twentynine-1", "phase": "launched", "top_n": 0, "opted_in": [], "validators": [{set}]}}
  ]}}"#
    )
}

const COLLISION_INVENTORY: &str = "validators:
  alice:
    consumer_template: alice-{{chain-id}}.validators.com:{{port}}
    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689
  charlie:
    consumer_template: 203.0.113.10:{{port}}
    node_id: 9cb184002eeaa2d9f01c67ffc448f991afdea6c7
";

/// The fix a port-collision error suggests, as an inventory file: the error prints it only after
/// re-planning with it, so applying it must make the plan succeed.
fn suggested_fix(stderr: &str) -> String {
    let (_, rest) = stderr
        .split_once("its own port with `")
        .unwrap_or_else(|| panic!("no suggested fix in: {stderr}"));
    let (fix, _) = rest.split_once('`').unwrap();
    if let Some(rest) = fix.strip_prefix("validators.") {
        // `validators.V.port_overrides: {"C": P}`
        let (validator, rest) = rest.split_once(".port_overrides: {").unwrap();
        let (consumer, port) = rest.trim_end_matches('}').split_once(": ").unwrap();
        format!("validators:\n  {validator}:\n    port_overrides:\n      {consumer}: \"{port}\"\n")
    } else {
        // `consumers: {"C": {port: P}}`
        let rest = fix.strip_prefix("consumers: {").unwrap();
        let (consumer, rest) = rest.split_once(": {port: ").unwrap();
        let port = rest.trim_end_matches('}');
        format!("consumers:\n  {consumer}:\n    port: {port}\n")
    }
}

#[track_caller]
fn collision_is_fixed_by_its_suggestion(env: &Env, inventory: &str, expected_fix: &str) {
    env.write("state.json", &collision_state());
    env.write("inv.yaml", inventory);
    let mut stderr = String::new();
    for cmd in ["check", "render"] {
        let mut args = vec![cmd, "-i", "inv.yaml", "--state", "state.json"];
        if cmd == "render" {
            args.extend(["--out", "out"]);
        }
        let run = env.run(args);
        run.failure()
            .stderr_has("port collision: validator charlie would serve consumer 19 (nineteen-1) and consumer 29 (twentynine-1) both at 203.0.113.10:")
            .stderr_has(expected_fix)
            .stderr_has("(checked: the plan with it has no collision)");
        assert!(
            !run.stderr.contains("validator alice"),
            "alice's hosts differ per chain: {}",
            run.stderr
        );
        stderr = run.stderr.clone();
    }
    assert!(!env.path("out").exists(), "nothing may be written on error");
    env.write("fix.yaml", &suggested_fix(&stderr));
    env.run([
        "render",
        "-i",
        "inv.yaml",
        "-i",
        "fix.yaml",
        "--state",
        "state.json",
        "--out",
        "out",
    ])
    .success();
    let ports = |rel: &str| {
        let text = env.read(rel);
        let (_, after) = text.split_once("@203.0.113.10:").unwrap();
        after[..5].parse::<u16>().unwrap()
    };
    let (a, b) = (
        ports("out/alice/nineteen-1/peers.yaml"),
        ports("out/alice/twentynine-1/peers.yaml"),
    );
    assert_ne!(a, b);
    for p in [a, b] {
        assert!(
            ![26657, 26658, 26660, 1317, 9090, 9091].contains(&p),
            "{p} is a CometBFT service port"
        );
    }
}

#[test]
fn hash_port_collision_fails_naming_both_consumers_and_the_fix() {
    collision_is_fixed_by_its_suggestion(
        &Env::new(),
        COLLISION_INVENTORY,
        "`validators.charlie.port_overrides: {\"29\": 35177}`",
    );
}

#[test]
fn range_collision_suggests_a_validator_port_override() {
    collision_is_fixed_by_its_suggestion(
        &Env::new(),
        &COLLISION_INVENTORY.replace("203.0.113.10:{{port}}", "203.0.113.10:{26700-26709}"),
        "`validators.charlie.port_overrides: {\"29\": 26710}`",
    );
}

/// A validator's fixed `ports` wins over a consumer's `port`, so only an override can move it; and
/// the ports right above 26656 are CometBFT's RPC and ABCI ports, never suggested.
#[test]
fn fixed_ports_collision_suggests_an_override_that_skips_cometbft_service_ports() {
    collision_is_fixed_by_its_suggestion(
        &Env::new(),
        &COLLISION_INVENTORY.replace(
            "    consumer_template: 203.0.113.10:{{port}}\n",
            "    consumer_template: 203.0.113.10:{{port}}\n    ports: 26656\n",
        ),
        "`validators.charlie.port_overrides: {\"29\": 26659}`",
    );
}

// ------------------------------------------------------------------ error paths

fn check_inventory(env: &Env, yaml: &str) -> Run {
    env.write("inv.yaml", yaml);
    env.run([
        "check",
        "-i",
        "inv.yaml",
        "--state",
        example_state().to_str().unwrap(),
    ])
}

#[test]
fn template_expanding_to_an_invalid_host_names_validator_and_consumer() {
    let env = Env::new();
    env.write(
        "state.json",
        &collision_state().replace("nineteen-1", "Nine_teen"),
    );
    env.write("inv.yaml", COLLISION_INVENTORY);
    env.run(["check", "-i", "inv.yaml", "--state", "state.json"])
        .failure()
        .stderr_has("validators.alice.consumer_template: \"alice-{{chain-id}}.validators.com:{{port}}\" for consumer 19 (Nine_teen) gives an invalid peer address");
}

#[test]
fn a_setting_made_in_two_files_is_a_conflict() {
    let env = Env::new();
    env.write("a.yaml", "validators:\n  alice:\n    consumer_template: a.example.com\n    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689\n");
    env.write(
        "b.yaml",
        "validators:\n  alice:\n    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b\n",
    );
    env.run([
        "check",
        "-i",
        "a.yaml",
        "-i",
        "b.yaml",
        "--state",
        example_state().to_str().unwrap(),
    ])
    .failure()
    .stderr_has("b.yaml:3:14: validators.alice.node_id is also set at a.yaml:4:14");
}

#[test]
fn bad_snapshots_are_rejected() {
    let env = Env::new();
    let good = std::fs::read_to_string(example_state()).unwrap();
    env.write("inv.yaml", "validators: {}\n");
    for (broken, message) in [
        (
            good.replace("\"consumer_id\": \"5\"", "\"consumer_id\": \"3\""),
            "consumer \"3\" appears twice",
        ),
        (
            good.replace("\"chain_id\": \"dash-2\"", "\"chain_id\": \"dash/2\""),
            "consumers[5].chain_id: \"dash/2\" is not a supported chain id",
        ),
        (
            good.replace("peergen/provider-state/v1", "v0"),
            "format: is \"v0\"",
        ),
        (
            good.replace("\"top_n\": 95,", "\"top_n\": 95, \"extra\": 1,"),
            "unknown field `extra`",
        ),
        (good[..good.len() / 2].to_owned(), "state.json:"),
    ] {
        env.write("state.json", &broken);
        env.run(["check", "-i", "inv.yaml", "--state", "state.json"])
            .failure()
            .stderr_has(message);
    }
    env.run(["check", "-i", "inv.yaml"])
        .failure()
        .stderr_has("no provider-state snapshot: pass --state FILE");
}

// ------------------------------------------------------------------ selection modes

#[test]
fn subset_selection_ranks_by_sha256_and_takes_the_ceiling() {
    use sha2::Digest;
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_state()).unwrap()).unwrap();
    let mut bonded: Vec<(Vec<u8>, String)> = state["bonded_validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let op = v["operator_address"].as_str().unwrap().to_owned();
            let mut h = sha2::Sha256::new();
            h.update(b"0\0");
            h.update(op.as_bytes());
            (h.finalize().to_vec(), op)
        })
        .collect();
    bonded.sort();
    // 4 bonded validators at 50% -> ceil(2.0) = 2; at 51% -> ceil(2.04) = 3.
    let env = Env::new();
    for (percent, take) in [(50, 2), (51, 3)] {
        let yaml = example_inventory_text().replace(
            "selection: consumer-validators",
            &format!("selection: subset\n  percent: {percent}"),
        );
        env.write("inv.yaml", &yaml);
        let run = env.run([
            "check",
            "-i",
            "inv.yaml",
            "--state",
            example_state().to_str().unwrap(),
        ]);
        run.success();
        let chosen: Vec<&String> = bonded.iter().take(take).map(|(_, op)| op).collect();
        let pion = run.stdout.split("consumer 1 ").next().unwrap();
        for (_, op) in &bonded {
            let named = ["alice", "bob", "carol"].iter().find(|n| {
                state["bonded_validators"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["operator_address"] == op.as_str() && v["moniker"] == **n)
            });
            let listed = match named {
                Some(n) => pion.contains(&format!("\n  {n} ")),
                None => pion.contains(&format!("missing from inventory: {op}")),
            };
            assert_eq!(
                listed,
                chosen.contains(&op),
                "percent {percent}, {op}:\n{pion}"
            );
        }
    }
}

// ------------------------------------------------------------------ templates and output safety

#[test]
fn template_overrides_are_used_and_strays_or_undefined_values_fail() {
    let env = Env::new();
    env.write(
        "tpl/cosmos/p2p.toml.j2",
        "[p2p]\npersistent_peers = {{ persistent_peers }}\nmoniker_note = {{ validator.moniker }}\n",
    );
    env.run(["render", "-i", &inv(), "--templates", "tpl", "--out", "out"])
        .success();
    assert!(
        env.read("out/alice/pion-1/p2p.toml")
            .contains("moniker_note = \"alice\"")
    );

    env.write(
        "tpl/cosmos/p2p.toml.j2",
        "[p2p]\npersistent_peers = {{ persistent_peer }}\n",
    );
    env.run([
        "render",
        "-i",
        &inv(),
        "--templates",
        "tpl",
        "--out",
        "out2",
    ])
    .failure()
    .stderr_has("template cosmos/p2p.toml: undefined value");
    assert!(!env.path("out2").exists());

    env.write("tpl/cosmos/p2p.toml.j2", "[p2p]\npersistent_peers = \"\"\n");
    env.run([
        "render",
        "-i",
        &inv(),
        "--templates",
        "tpl",
        "--out",
        "out3",
    ])
    .failure()
    .stderr_has(
        "p2p.toml fails verification: p2p.persistent_peers differs from the planned peer list",
    );
    // The files rendered before the failing one were spooled in out3, and went with it.
    assert!(!env.path("out3").exists());

    env.write("tpl/cosmos/peer.yaml.j2", "x");
    env.run([
        "render",
        "-i",
        &inv(),
        "--templates",
        "tpl",
        "--out",
        "out4",
    ])
    .failure()
    .stderr_has("peer.yaml.j2: not a peergen template name");
}

#[test]
fn refuses_foreign_directories_and_large_removals() {
    let env = Env::new();
    env.write("foreign/notes.txt", "mine");
    env.run(["render", "-i", &inv(), "--out", "foreign"])
        .failure()
        .stderr_has("was not written by peergen");
    assert_eq!(env.read("foreign/notes.txt"), "mine");

    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    env.write("out/alice/my-own-file.txt", "keep me");
    let state = std::fs::read_to_string(example_state()).unwrap();
    let emptied: serde_json::Value = {
        let mut v: serde_json::Value = serde_json::from_str(&state).unwrap();
        for c in v["consumers"].as_array_mut().unwrap() {
            if c["consumer_id"] != "0" {
                c["phase"] = "stopped".into();
            }
        }
        v
    };
    env.write(
        "state.json",
        &serde_json::to_string_pretty(&emptied).unwrap(),
    );
    let args = [
        "render",
        "-i",
        &inv(),
        "--state",
        "state.json",
        "--out",
        "out",
    ];
    env.run(args)
        .failure()
        .stderr_has("refusing to remove 36 of 52 previously generated files")
        .stderr_has("pass --force");
    assert!(env.path("out/alice/neutron-1/peers.yaml").exists());
    env.run(args.iter().copied().chain(["--force"]))
        .success()
        .stdout_has("36 removed");
    assert!(!env.path("out/alice/neutron-1").exists());
    assert_eq!(env.read("out/alice/my-own-file.txt"), "keep me");
}

#[test]
fn escaping_keeps_hostile_values_inside_their_strings() {
    let env = Env::new();
    env.write(
        "tpl/cosmos/p2p.toml.j2",
        "[p2p]\npersistent_peers = {{ persistent_peers }}\nmoniker = {{ validator.moniker }}\n",
    );
    env.write(
        "tpl/cosmos/peers.yaml.j2",
        &std::fs::read_to_string(repo_root().join("templates/cosmos/peers.yaml.j2"))
            .unwrap()
            .replace(
                "  persistent_peers: {{ persistent_peers }}",
                "  persistent_peers: {{ persistent_peers }}\n  moniker: {{ validator.moniker }}",
            ),
    );
    let hostile = "x\\\"\nevil = true\n[other]\nkind: Secret # ' \u{2028}";
    let state = std::fs::read_to_string(example_state()).unwrap().replace(
        "\"moniker\": \"alice\"",
        &format!("\"moniker\": {}", serde_json::to_string(hostile).unwrap()),
    );
    env.write("state.json", &state);
    let yaml = example_inventory_text().replace("    moniker: alice\n", "");
    env.write("inv.yaml", &yaml);
    env.run([
        "render",
        "-i",
        "inv.yaml",
        "--state",
        "state.json",
        "--templates",
        "tpl",
        "--out",
        "out",
    ])
    .success();
    let doc: toml::Table = toml::from_str(&env.read("out/alice/pion-1/p2p.toml")).unwrap();
    assert_eq!(doc["p2p"]["moniker"].as_str(), Some(hostile));
    assert_eq!(doc.len(), 1);
    let cm: BTreeMap<String, serde_json::Value> =
        serde_saphyr::from_str(&env.read("out/alice/pion-1/peers.yaml")).unwrap();
    assert_eq!(cm["data"]["moniker"].as_str(), Some(hostile));
    assert_eq!(cm["kind"], "ConfigMap");
}

#[test]
fn help_explains_each_command_with_an_example() {
    use clap::CommandFactory as _;
    let env = Env::new();
    let commands: Vec<String> = peergen::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    for cmd in &commands {
        env.run([cmd, "--help"]).success().stdout_has("Example");
    }
}

// ------------------------------------------------------------------ review regressions

fn example_state_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_state()).unwrap()).unwrap();
    edit(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn registering_a_consumer_with_a_used_chain_id_renames_nothing() {
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    let before = read_tree(&env.path("out"));
    env.write(
        "state.json",
        &example_state_with(|v| {
            v["consumers"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "consumer_id": "42", "chain_id": "pion-1", "phase": "registered", "top_n": 0,
                    "validators": [], "opted_in": []
                }));
        }),
    );
    env.run([
        "render",
        "-i",
        &inv(),
        "--state",
        "state.json",
        "--out",
        "out",
    ])
    .success()
    .stdout_has("0 written, 53 unchanged, 0 removed");
    assert_eq!(read_tree(&env.path("out")), before);
}

#[test]
fn two_validators_at_one_address_is_an_error() {
    let env = Env::new();
    let yaml = example_inventory_text().replace(
        "bob-consumer-{{chain-id}}.example.org:{{port}}",
        "alice-{{chain-id}}.validators.com:{{port}}",
    );
    env.write("inv.yaml", &yaml);
    env.run(["check", "-i", "inv.yaml", "--state", example_state().to_str().unwrap()])
        .failure()
        .stderr_has("address collision: validator alice on consumer 0 (pion-1) and validator bob on consumer 0 (pion-1) would both be reached at alice-pion-1.validators.com:29536");
}

#[test]
fn moniker_matched_validators_must_be_distinguishable() {
    let env = Env::new();
    check_inventory(
        &env,
        "validators:\n  alice:\n    consumer_template: a.example.com\n    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689\n  alice2:\n    moniker: alice\n    consumer_template: b.example.com\n    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b\n",
    )
    .failure()
    .stderr_has("inv.yaml:6:5: validators.alice2.moniker: \"alice\" is also the moniker of validators.alice");
}

#[test]
fn opted_in_validators_that_left_the_bonded_set_are_reported_not_fatal() {
    let env = Env::new();
    env.write(
        "state.json",
        &example_state_with(|v| {
            let c = &mut v["consumers"][0];
            c["opted_in"]
                .as_array_mut()
                .unwrap()
                .push("cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk".into());
            c["opted_in"]
                .as_array_mut()
                .unwrap()
                .push("cosmosvalcons1jailedjailedjailedjailedjailedjailedxxx".into());
        }),
    );
    let yaml =
        example_inventory_text().replace("selection: consumer-validators", "selection: opted-in");
    env.write("inv.yaml", &yaml);
    env.run(["check", "-i", "inv.yaml", "--state", "state.json"])
        .success()
        .stdout_has("opted in, but neither bonded nor in the consumer's set: cosmosvalcons1jailedjailedjailedjailedjailedjailedxxx")
        .stderr_has("consumer 0 (pion-1): opted-in validator cosmosvalcons1jailed");
}

#[test]
fn unused_overrides_and_idle_validators_are_warned_about() {
    let env = Env::new();
    let yaml = std::fs::read_to_string(example_inventory())
        .unwrap()
        .replace(
            "    node_key_file: keys/carol/node_key.json\n",
            &format!(
                "    node_key_file: {}\n    port_overrides:\n      pion-one: 30000\n  dave:\n    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn\n    consumer_template: dave.example.org\n    node_id: 9cb184002eeaa2d9f01c67ffc448f991afdea6c7\n",
                repo_root().join("inventories/keys/carol/node_key.json").display()
            ),
        )
        .replace("  bob:\n    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn\n", "  bob:\n");
    env.write("inv.yaml", &yaml);
    env.run([
        "check",
        "-i",
        "inv.yaml",
        "--state",
        example_state().to_str().unwrap(),
    ])
    .success()
    .stderr_has("validators.carol.port_overrides.pion-one matches no consumer id or chain id")
    .stderr_has("validators.bob has no operator_address");
}

#[test]
fn writes_refuse_links_and_foreign_files_before_touching_anything() {
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    let before = read_tree(&env.path("out"));
    for (setup, message) in [
        ("dir", "is not a regular file; nothing was written"),
        (
            "link",
            "is a symbolic link; peergen never writes through links",
        ),
    ] {
        let target = env.path("out/alice/pion-1/peers.yaml");
        let saved = std::fs::read(&target).unwrap();
        std::fs::remove_file(&target).unwrap();
        match setup {
            "dir" => std::fs::create_dir(&target).unwrap(),
            _ => std::os::unix::fs::symlink(env.path("elsewhere.yaml"), &target).unwrap(),
        }
        let state = example_state_with(|v| {
            v["consumers"][1]["validators"]
                .as_array_mut()
                .unwrap()
                .remove(0);
        });
        env.write("state.json", &state);
        env.run([
            "render",
            "-i",
            &inv(),
            "--state",
            "state.json",
            "--out",
            "out",
        ])
        .failure()
        .stderr_has(message);
        assert!(!env.path("elsewhere.yaml").exists());
        for (path, text) in &before {
            if path != "alice/pion-1/peers.yaml" {
                assert_eq!(
                    &env.read(&format!("out/{path}")),
                    text,
                    "{path} changed by a failed render"
                );
            }
        }
        if setup == "dir" {
            std::fs::remove_dir(&target).unwrap();
        } else {
            std::fs::remove_file(&target).unwrap();
        }
        std::fs::write(&target, saved).unwrap();
    }
    let grown = example_inventory_text();
    env.write(
        "inv.yaml",
        &grown.replace(
            "configmap: \"{{chain_id}}-peers\"",
            "configmap: \"{{chain_id}}-peer-list\"",
        ),
    );
    env.write("out/alice/stride-1/notes.txt", "mine");
    env.write("out/mallory/kustomization.yaml", "not peergen's");
    let dave = grown.replace("  carol:\n", "  mallory:\n    operator_address: cosmosvaloper13pvrtayl29vry9chuyxgkcu8uqupgrdy0xch53\n    consumer_template: m.example.org\n    node_id: 9cb184002eeaa2d9f01c67ffc448f991afdea6c7\n  carol:\n");
    env.write("inv2.yaml", &dave);
    env.run([
        "render",
        "-i",
        "inv2.yaml",
        "--state",
        example_state().to_str().unwrap(),
        "--out",
        "out",
    ])
    .failure()
    .stderr_has("mallory/kustomization.yaml: exists but is not listed in the manifest");
    assert_eq!(env.read("out/mallory/kustomization.yaml"), "not peergen's");
}

#[test]
fn generated_files_are_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.run(["render", "-i", &inv(), "--out", "out"]).success();
    for rel in [
        ".peergen-manifest",
        "alice/pion-1/peers.yaml",
        "dns/validators.zone.zone",
    ] {
        let mode = std::fs::metadata(env.path(&format!("out/{rel}")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{rel}");
    }
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let env = Env::new();
    env.run(["render", "-i", "x.yaml"])
        .failure()
        .stderr_has("--out <DIR>");
    env.run(["frobnicate"]).failure();
    env.run(["--help"]).success();
    env.run(["--version"]).success().stdout_has("peergen ");
}

#[test]
fn ics_monitor_v1_selection_through_the_cli_matches_the_go_vectors() {
    let v = vectors();
    let set = &v.validator_sets["equal3"];
    let consumer = |id: &str| {
        serde_json::json!({"consumer_id": id, "chain_id": format!("chain-{id}"), "phase": "launched",
            "top_n": 0, "validators": [], "opted_in": []})
    };
    let state = serde_json::json!({
        "format": "peergen/provider-state/v1",
        "provider": {"chain_id": "provider", "height": 1},
        "bonded_validators": set,
        "consumers": [consumer("0"), consumer("2")],
    });
    let env = Env::new();
    env.write("state.json", &serde_json::to_string_pretty(&state).unwrap());
    let mut inv = String::from(
        "defaults:\n  selection: ics-monitor-v1\nconsumers:\n  \"2\":\n    selection: ics-monitor-v1\n    ratio: 0.5\nvalidators:\n",
    );
    for (i, b) in set.iter().enumerate() {
        inv.push_str(&format!(
            "  v{i}:\n    operator_address: {}\n    consumer_template: v{i}-{{{{chain_id}}}}.example.net\n    node_id: {:040x}\n",
            b.operator_address,
            i + 1
        ));
    }
    env.write("inv.yaml", &inv);
    let run = env.run(["check", "-i", "inv.yaml", "--state", "state.json"]);
    run.success();
    let members = members_from_check(&run.stdout);
    for (consumer_id, ratio) in [("0", 0.67), ("2", 0.5)] {
        let expected: Vec<String> = v
            .selection
            .iter()
            .find(|c| c.set == "equal3" && c.consumer_id == consumer_id && c.ratio == ratio)
            .unwrap()
            .subset_operator_addresses
            .iter()
            .map(|op| {
                format!(
                    "v{}",
                    set.iter().position(|b| &b.operator_address == op).unwrap()
                )
            })
            .collect();
        let got: Vec<String> = members[&format!("chain-{consumer_id}")]
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        assert_eq!(got, expected, "consumer {consumer_id}, ratio {ratio}");
    }
}

#[test]
fn one_node_id_claimed_by_two_validators_with_different_endpoints_is_an_error() {
    let env = Env::new();
    let yaml = example_inventory_text().replace(
        "node_id: E326EEB620FCCAFB2391A9DF7F5B71D3F101DD5B",
        "node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689",
    );
    env.write("inv.yaml", &yaml);
    env.run(["check", "-i", "inv.yaml", "--state", example_state().to_str().unwrap()])
        .failure()
        .stderr_has("consumer 0: validators alice and bob both claim node ID 529a2b1b52c1a79a57989bb89630c08d1aaaa689 with different endpoints");
}
