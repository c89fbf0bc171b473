//! Stellar: the reference §5 worked example, StrKey vectors, every startup check failing on its own,
//! StellarNode manifests equal to the inventory, and `kubectl kustomize` over the output.

use std::collections::BTreeMap;

use crate::harness::*;

fn stellar_example() -> std::path::PathBuf {
    repo_root().join("inventories/stellar-example.yaml")
}

fn stellar_nodes() -> std::path::PathBuf {
    repo_root().join("inventories/stellarnodes")
}

const ALPHA_1: &str = "GDND35375HGLMEN4LXQW4HU7VIQRZTVT5LZ3JILD5K7256AGP36L5QJU";
const ALPHA_2: &str = "GBSDYQHENRAHHFBQFWD6MJ7OS7NZDRQMQZYF4YJSIZO6JQGYC7IIJF5W";
const BETA_1: &str = "GBSWZKLZDNRACMJ6WM67GUGCPJTH2SJ73YEWG5XNLNR35CGMF364Q3D6";
/// A fourth valid key (the SEP-23 valid vector).
const OTHER: &str = "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ";
/// The StrKey secret seed (version 18 << 3) of 32 bytes of 42; the crate's unit tests check it.
const SEED_42: &str = "SAVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCVLG5";
/// The StrKey public key (version 6 << 3) of 32 bytes of 1; the crate's unit tests check it.
const KEY_1: &str = "GAAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQDZ7H";

/// The fragment for alpha-1 exactly as reference §5 prints it.
const REFERENCE_ALPHA_1: &str = r#"
NODE_IS_VALIDATOR=true
NODE_HOME_DOMAIN="alpha.example"
PEER_PORT=11625
UNSAFE_QUORUM=true                     # 2 top-level orgs -> FAILURE_SAFETY would be 0
PREFERRED_PEERS=["alpha-2.alpha.example:11625"]   # same org
KNOWN_PEERS=["beta-1.beta.example:11625"]         # other orgs
PREFERRED_PEER_KEYS=["GBSDYQHENRAHHFBQFWD6MJ7OS7NZDRQMQZYF4YJSIZO6JQGYC7IIJF5W",
                     "GBSWZKLZDNRACMJ6WM67GUGCPJTH2SJ73YEWG5XNLNR35CGMF364Q3D6"]

[[HOME_DOMAINS]]
HOME_DOMAIN="alpha.example"
QUALITY="MEDIUM"

[[HOME_DOMAINS]]
HOME_DOMAIN="beta.example"
QUALITY="MEDIUM"

[[VALIDATORS]]                         # alpha-1 itself is NOT listed (core adds "self")
NAME="alpha-2"
HOME_DOMAIN="alpha.example"
PUBLIC_KEY="GBSDYQHENRAHHFBQFWD6MJ7OS7NZDRQMQZYF4YJSIZO6JQGYC7IIJF5W"
HISTORY="curl -sf https://history.alpha.example/alpha-2/{0} -o {1}"

[[VALIDATORS]]
NAME="beta-1"
HOME_DOMAIN="beta.example"
PUBLIC_KEY="GBSWZKLZDNRACMJ6WM67GUGCPJTH2SJ73YEWG5XNLNR35CGMF364Q3D6"
HISTORY="curl -sf https://history.beta.example/beta-1/{0} -o {1}"
"#;

fn render(env: &Env, input: &std::path::Path) -> BTreeMap<String, String> {
    env.run(["render", "-i", input.to_str().unwrap(), "--out", "out"])
        .success();
    read_tree(&env.path("out"))
}

fn toml_table(path: &str, text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("{path} is not TOML: {e}\n{text}"))
}

#[test]
fn worked_example_renders_the_reference_fragment() {
    let env = Env::new();
    let tree = render(&env, &stellar_example());
    let got = toml_table(
        "alpha-1/stellar-core.cfg",
        &tree["alpha-1/stellar-core.cfg"],
    );
    assert_eq!(got, toml_table("reference", REFERENCE_ALPHA_1));
    for (path, text) in tree.iter().filter(|(p, _)| !p.starts_with('.')) {
        insta::assert_snapshot!(
            format!("stellar_example__{}", path.replace('/', "__")),
            text
        );
    }
}

#[test]
fn worked_example_peers_are_symmetric_and_never_self() {
    let env = Env::new();
    let tree = render(&env, &stellar_example());
    let addresses = [
        (
            "alpha-1",
            ALPHA_1,
            "alpha-1.alpha.example:11625",
            "alpha.example",
        ),
        (
            "alpha-2",
            ALPHA_2,
            "alpha-2.alpha.example:11625",
            "alpha.example",
        ),
        (
            "beta-1",
            BETA_1,
            "beta-1.beta.example:11625",
            "beta.example",
        ),
    ];
    for (name, key, address, domain) in addresses {
        let cfg = toml_table(name, &tree[&format!("{name}/stellar-core.cfg")]);
        assert_eq!(cfg["NODE_HOME_DOMAIN"].as_str(), Some(domain));
        let text = &tree[&format!("{name}/stellar-core.cfg")];
        assert!(!text.contains(key), "{name} lists its own key");
        assert!(!text.contains(address), "{name} lists its own address");
        let others: Vec<&str> = addresses
            .iter()
            .filter(|a| a.0 != name)
            .map(|a| a.2)
            .collect();
        let preferred: Vec<&str> = addresses
            .iter()
            .filter(|a| a.0 != name && a.3 == domain)
            .map(|a| a.2)
            .collect();
        let known: Vec<&str> = addresses
            .iter()
            .filter(|a| a.0 != name && a.3 != domain)
            .map(|a| a.2)
            .collect();
        let list = |k: &str| -> Vec<&str> {
            cfg[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect()
        };
        assert_eq!(list("PREFERRED_PEERS"), preferred, "{name}");
        assert_eq!(list("KNOWN_PEERS"), known, "{name}");
        assert_eq!(cfg["VALIDATORS"].as_array().unwrap().len(), 2);
        let cm: serde_json::Value =
            serde_saphyr::from_str(&tree[&format!("{name}/stellar-peers.yaml")]).unwrap();
        let lines: Vec<&str> = cm["data"]["peers.txt"].as_str().unwrap().lines().collect();
        assert_eq!(lines, others);
        let known_peers: toml::Table =
            toml::from_str(cm["data"]["KNOWN_PEERS"].as_str().unwrap()).unwrap();
        let listed: Vec<&str> = known_peers["KNOWN_PEERS"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, others);
        assert_eq!(cm["data"]["stellar-core.cfg"].as_str(), Some(text.as_str()));
    }
}

/// Every fragment is TOML, re-serializes to the same document, and keeps its tables last (core
/// reads keys after a table header as that table's).
#[test]
fn every_fragment_parses_and_round_trips() {
    let env = Env::new();
    let tree = render(&env, &stellar_example());
    let fragments: Vec<_> = tree
        .iter()
        .filter(|(p, _)| p.ends_with("stellar-core.cfg"))
        .collect();
    assert_eq!(fragments.len(), 3);
    for (path, text) in fragments {
        let doc = toml_table(path, text);
        let again: toml::Table = toml::from_str(&toml::to_string(&doc).unwrap()).unwrap();
        assert_eq!(again, doc, "{path}");
        let first_table = text.lines().position(|l| l.starts_with("[[")).unwrap();
        let last_key = text
            .lines()
            .position(|l| l.starts_with("PREFERRED_PEER_KEYS="))
            .unwrap();
        assert!(
            last_key < first_table,
            "{path}: a top-level key after a table"
        );
    }
}

#[test]
fn check_prints_the_derived_quorum_set() {
    let env = Env::new();
    let run = env.run(["check", "-i", stellar_example().to_str().unwrap()]);
    run.success()
        .stdout_has("validator alpha-1 (alpha.example MEDIUM) alpha-1.alpha.example:11625: 2 peers; quorum set {t:2, v:[beta-1], inner:[{t:2, v:[alpha-1, alpha-2]}]}")
        .stdout_has("failure safety 0 (UNSAFE_QUORUM=true)");
    insta::assert_snapshot!("stellar_example_check", run.stdout);
}

/// The §5 inventory with `edit` applied to its text.
fn edited(env: &Env, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(stellar_example()).unwrap();
    let out = edit(text.clone());
    assert_ne!(out, text, "the edit changed nothing");
    env.write("inv.yaml", &out)
}

fn fails(env: &Env, inv: &std::path::Path, needles: &[&str]) -> Run {
    let run = env.run(["check", "-i", inv.to_str().unwrap()]);
    run.failure();
    for n in needles {
        run.stderr_has(n);
    }
    env.run(["render", "-i", inv.to_str().unwrap(), "--out", "out"])
        .failure();
    assert!(
        !env.path("out").exists(),
        "render wrote output despite the error"
    );
    run
}

#[test]
fn secret_seed_is_refused_without_echo() {
    let seed = SEED_42.to_owned();
    let env = Env::new();
    let in_field = edited(&env, |t| t.replace(BETA_1, &seed));
    let run = fails(&env, &in_field, &["inv.yaml:", "secret seed"]);
    assert!(
        !run.stderr.contains(&seed[..10]),
        "the seed is echoed:\n{}",
        run.stderr
    );
    let in_comment = edited(&env, |t| format!("{t}# old key: {seed}\n"));
    let run = fails(&env, &in_comment, &["secret seed"]);
    assert!(
        !run.stderr.contains(&seed[..10]),
        "the seed is echoed:\n{}",
        run.stderr
    );
    // Not a well-formed seed, but still S…: refused by the key check, still not printed.
    let broken = format!("{}AB", &seed[..54]);
    let run = fails(
        &env,
        &edited(&env, |t| t.replace(BETA_1, &broken)),
        &["validators.beta-1.public_key", "secret seed"],
    );
    assert!(
        !run.stderr.contains(&broken[..10]),
        "the seed is echoed:\n{}",
        run.stderr
    );
}

/// Asserts that neither the seed nor its base64 form is in `text`, in whole or as a prefix.
fn assert_not_echoed(seed: &str, text: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(seed);
    for secret in [seed, b64.as_str()] {
        assert!(!text.contains(&secret[..10]), "the seed is echoed:\n{text}");
    }
}

/// The StellarNode directory with `extra` as one more file.
fn nodes_with(env: &Env, extra: &str) -> std::path::PathBuf {
    for f in ["alpha.yaml", "beta.yaml"] {
        let text = std::fs::read_to_string(stellar_nodes().join(f)).unwrap();
        env.write(&format!("nodes/{f}"), &text);
    }
    env.write("nodes/seed.yaml", extra);
    env.path("nodes")
}

#[test]
fn secrets_and_encoded_seeds_in_stellar_nodes_are_refused_without_echo() {
    use base64::Engine as _;
    let seed = SEED_42.to_owned();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{seed}\n"));
    let cases = [
        (
            "Secret with base64 data",
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: alpha-1-seed\n  namespace: stellar\ndata:\n  STELLAR_CORE_SEED: {b64}\n"),
            vec!["seed.yaml:2:7", "Secret alpha-1-seed", "never reads Secrets"],
        ),
        (
            "Secret without a seed",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: passphrase\nstringData:\n  NETWORK_PASSPHRASE: Test SDF Network\n".to_owned(),
            vec!["seed.yaml:2:7", "Secret passphrase"],
        ),
        (
            "ConfigMap with base64 data, folded",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nbinaryData:\n  seed: >-\n    {}\n    {}\n", &b64[..30], &b64[30..]),
            vec!["seed.yaml:6:", "binaryData.seed", "secret seed"],
        ),
        (
            "seed folded over two lines",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    old: >-\n      {}\n      {}\n", &seed[..28], &seed[28..]),
            vec!["seed.yaml:7:7", "secret seed"],
        ),
        (
            "seed glued to a digit",
            format!("# key 2{seed}\nkind: ConfigMap\n"),
            vec!["seed.yaml:1:8", "secret seed"],
        ),
    ];
    for (what, extra, needles) in cases {
        let env = Env::new();
        let dir = nodes_with(&env, &extra);
        let run = env.run(["check", "-i", dir.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        for n in needles {
            assert!(
                run.stderr.contains(n),
                "{what}: stderr lacks {n:?}:\n{}",
                run.stderr
            );
        }
        assert_not_echoed(&seed, &run.stderr);
        env.run(["render", "-i", dir.to_str().unwrap(), "--out", "out"])
            .failure();
        assert!(!env.path("out").exists(), "{what}: render wrote output");
    }
}

#[test]
fn invalid_public_key_names_the_field() {
    let env = Env::new();
    let bad = edited(&env, |t| t.replace(BETA_1, &format!("{}Y", &OTHER[..55])));
    fails(
        &env,
        &bad,
        &["inv.yaml:36:17", "validators.beta-1.public_key", "checksum"],
    );
}

#[test]
fn high_organisation_needs_three_validators() {
    let env = Env::new();
    let inv = edited(&env, |t| t.replacen("quality: MEDIUM", "quality: HIGH", 1));
    fails(
        &env,
        &inv,
        &[
            "organisation alpha (alpha.example) is HIGH with 2 active validator(s) (alpha-1, alpha-2)",
            "at least 3",
        ],
    );
}

/// Three HIGH validators for alpha, one of them without history.
fn high_alpha(history_on_third: bool) -> impl Fn(String) -> String {
    move |t: String| {
        let third = format!(
            "  alpha-3:\n    organisation: alpha\n    public_key: {OTHER}\n    address: alpha-3.alpha.example\n{}",
            if history_on_third {
                "    history: https://history.alpha.example/alpha-3/\n"
            } else {
                ""
            }
        );
        t.replacen("quality: MEDIUM", "quality: HIGH", 1)
            .replace("validators:\n", &format!("validators:\n{third}"))
    }
}

#[test]
fn high_validator_needs_history() {
    let env = Env::new();
    let good = edited(&env, high_alpha(true));
    env.run(["check", "-i", good.to_str().unwrap()])
        .success()
        .stdout_has("alpha-3");
    let inv = edited(&env, high_alpha(false));
    fails(
        &env,
        &inv,
        &["validator alpha-3 of organisation alpha (HIGH) has no `history`"],
    );
}

#[test]
fn fewer_than_four_organisations_need_unsafe_quorum() {
    let env = Env::new();
    let inv = edited(&env, |t| t.replace("unsafe_quorum: true\n", ""));
    fails(
        &env,
        &inv,
        &[
            "2 top-level entities and threshold 2",
            "tolerates 0 failures",
            "unsafe_quorum: true",
        ],
    );
}

#[test]
fn four_organisations_are_safe_without_the_override() {
    let env = Env::new();
    let inv = edited(&env, four_organisations);
    env.run(["check", "-i", inv.to_str().unwrap()])
        .success()
        .stdout_has("failure safety 1\n");
    let tree = render(&env, &inv);
    let cfg = toml_table("gamma-1", &tree["gamma-1/stellar-core.cfg"]);
    assert!(!cfg.contains_key("UNSAFE_QUORUM"));
    assert_eq!(cfg["VALIDATORS"].as_array().unwrap().len(), 4);
    assert_eq!(cfg["HOME_DOMAINS"].as_array().unwrap().len(), 4);
}

/// The worked example grown to four organisations (gamma, delta), so that it is safe without
/// `unsafe_quorum` and the archive check is the only one left to fail.
fn four_organisations(t: String) -> String {
    let keys = [OTHER.to_owned(), KEY_1.to_owned()];
    let mut t = t.replace("unsafe_quorum: true\n", "");
    for (i, name) in ["gamma", "delta"].iter().enumerate() {
        t = t.replace(
            "organisations:\n",
            &format!(
                "organisations:\n  {name}:\n    home_domain: {name}.example\n    quality: MEDIUM\n"
            ),
        );
        t.push_str(&format!(
            "  {name}-1:\n    organisation: {name}\n    public_key: {}\n    address: {name}-1.{name}.example\n    history: https://history.{name}.example/\n",
            keys[i]
        ));
    }
    t
}

fn without_history(t: String) -> String {
    t.lines()
        .filter(|l| !l.contains("history:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Core throws "SCP unsafe" for archives that are not v-blocking only without UNSAFE_QUORUM.
#[test]
fn archives_must_be_v_blocking_unless_unsafe_quorum() {
    let env = Env::new();
    let inv = edited(&env, |t| without_history(four_organisations(t)));
    let run = fails(
        &env,
        &inv,
        &[
            "validator alpha-1: the history archives it sees (none)",
            "SCP unsafe",
            "unless `unsafe_quorum: true`",
        ],
    );
    assert_eq!(run.stderr.matches("error: ").count(), 5, "{}", run.stderr);
    assert!(
        !run.stderr.contains("tolerates 0 failures"),
        "{}",
        run.stderr
    );

    // With the override core starts and only warns: so does peergen, in check's report and on
    // render's stderr.
    let inv = edited(&env, |t| {
        without_history(four_organisations(t)).replace(
            "network: stellar\n",
            "network: stellar\nunsafe_quorum: true\n",
        )
    });
    let check = env.run(["check", "-i", inv.to_str().unwrap()]);
    check
        .success()
        .stdout_has("warning: validator alpha-1: the history archives it sees (none) do not intersect every slice")
        .stdout_has("starts only because UNSAFE_QUORUM=true");
    assert_eq!(
        check.stdout.matches("warning: ").count(),
        5,
        "{}",
        check.stdout
    );
    let run = env.run(["render", "-i", inv.to_str().unwrap(), "--out", "out"]);
    run.success()
        .stderr_has("Quorum can be reached without validators with an archive");
    let cfg = toml_table(
        "alpha-1",
        &read_tree(&env.path("out"))["alpha-1/stellar-core.cfg"],
    );
    assert_eq!(cfg["UNSAFE_QUORUM"].as_bool(), Some(true));
    assert!(
        cfg["VALIDATORS"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("HISTORY").is_none())
    );
}

/// stellar/quickstart's shape: one organisation, one validator, no archive peers, UNSAFE_QUORUM.
#[test]
fn a_single_validator_network_renders_with_unsafe_quorum() {
    let env = Env::new();
    let inv = edited(&env, |t| {
        let (head, _) = t.split_once("validators:\n").unwrap();
        format!(
            "{}validators:\n  solo:\n    organisation: alpha\n    public_key: {ALPHA_1}\n    address: solo.alpha.example\n",
            head.replace(
                "  beta:\n    home_domain: beta.example\n    quality: MEDIUM\n",
                ""
            )
        )
    });
    env.run(["check", "-i", inv.to_str().unwrap()])
        .success()
        .stdout_has("1 active validators in 1 organisations")
        .stdout_has("quorum set {t:1, v:[solo]}")
        .stdout_has("warning: validator solo: the history archives it sees (none)");
    let tree = render(&env, &inv);
    let cfg = toml_table("solo", &tree["solo/stellar-core.cfg"]);
    assert_eq!(cfg["UNSAFE_QUORUM"].as_bool(), Some(true));
    assert!(!cfg.contains_key("VALIDATORS"));
    // Without the override, both of core's refusals.
    let safe = std::fs::read_to_string(&inv)
        .unwrap()
        .replace("unsafe_quorum: true\n", "");
    let env = Env::new();
    let inv = env.write("inv.yaml", &safe);
    fails(&env, &inv, &["tolerates 0 failures", "SCP unsafe"]);
}

#[test]
fn duplicate_names_are_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| t.replace("  beta-1:\n", "  alpha-1:\n"));
    fails(&env, &inv, &["inv.yaml:", "alpha-1"]);
    let dir = env.path("nodes");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["alpha.yaml", "beta.yaml"] {
        std::fs::copy(stellar_nodes().join(f), dir.join(f)).unwrap();
    }
    let beta = std::fs::read_to_string(dir.join("beta.yaml")).unwrap();
    std::fs::write(
        dir.join("beta.yaml"),
        beta.replacen(
            "name: beta-1\n  namespace: stellar",
            "name: alpha-1\n  namespace: other",
            1,
        ),
    )
    .unwrap();
    let run = env.run(["check", "-i", dir.to_str().unwrap()]);
    run.failure()
        .stderr_has("beta.yaml:")
        .stderr_has("StellarNode alpha-1 is also used by StellarNode alpha-1");
}

#[test]
fn duplicate_keys_are_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| t.replace(BETA_1, ALPHA_2));
    fails(
        &env,
        &inv,
        &[
            "validator beta-1: public key",
            "is also used by validator alpha-2",
            "list itself",
        ],
    );
}

#[test]
fn a_validator_listing_itself_is_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| {
        t.replace(
            "address: beta-1.beta.example",
            "address: alpha-1.alpha.example:11625",
        )
    });
    fails(
        &env,
        &inv,
        &[
            "validator beta-1: address alpha-1.alpha.example:11625 is also used by validator alpha-1",
            "list its own address",
        ],
    );
}

#[test]
fn quality_set_in_two_places_is_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| {
        t.replace(
            "    organisation: beta\n",
            "    organisation: beta\n    quality: MEDIUM\n",
        )
    });
    fails(
        &env,
        &inv,
        &[
            "validators.beta-1.quality",
            "quality is set in two places",
            "organisation beta",
        ],
    );
}

#[test]
fn quality_may_be_set_once_on_the_validators() {
    let env = Env::new();
    let inv = edited(&env, |t| {
        t.replacen(
            "    home_domain: beta.example\n    quality: MEDIUM\n",
            "    home_domain: beta.example\n",
            1,
        )
        .replace(
            "    organisation: beta\n",
            "    organisation: beta\n    quality: MEDIUM\n",
        )
    });
    let env2 = Env::new();
    assert_eq!(render(&env, &inv), render(&env2, &stellar_example()));
}

#[test]
fn stellar_nodes_produce_the_same_output_as_the_inventory() {
    let (a, b) = (Env::new(), Env::new());
    let from_nodes = render(&a, &stellar_nodes());
    assert_eq!(from_nodes, render(&b, &stellar_example()));
    assert!(
        !from_nodes
            .keys()
            .any(|p| p.starts_with("beta-2") || p.starts_with("beta-horizon"))
    );
    assert!(
        !from_nodes
            .values()
            .any(|t| t.contains(OTHER) || t.contains("beta-2")),
        "the suspended validator leaks"
    );
    let run = a.run([
        "check",
        "-i",
        stellar_nodes().join("alpha.yaml").to_str().unwrap(),
        "-i",
        stellar_nodes().join("beta.yaml").to_str().unwrap(),
    ]);
    run.success()
        .stdout_has("3 active validators in 2 organisations, 0 suspended");
}

#[test]
fn stellar_node_errors_point_into_multi_document_files() {
    let env = Env::new();
    let beta = std::fs::read_to_string(stellar_nodes().join("beta.yaml")).unwrap();
    let broken = beta.replacen("peergen.io/quality: MEDIUM", "peergen.io/quality: GOOD", 1);
    let path = env.write(
        "nodes/beta.yaml",
        &format!("kind: ConfigMap\napiVersion: v1\n---\n{broken}"),
    );
    let line = broken.lines().position(|l| l.contains("GOOD")).unwrap() + 4;
    env.run(["check", "-i", path.to_str().unwrap()])
        .failure()
        .stderr_has(&format!("beta.yaml:{line}:"))
        .stderr_has("\"GOOD\" is not a quality");
    let missing = beta.replacen("    peergen.io/public-key: GBSW", "    x: GBSW", 1);
    let path = env.write("nodes2/beta.yaml", &missing);
    env.run(["check", "-i", path.to_str().unwrap()])
        .failure()
        .stderr_has("peergen.io/public-key: missing");
}

#[test]
fn kubectl_kustomize_builds_each_output_and_the_rollout_component() {
    let kubectl = tool("kubectl");
    let env = Env::new();
    let tree = render(&env, &stellar_example());
    for name in ["alpha-1", "alpha-2", "beta-1"] {
        let out = std::process::Command::new(&kubectl)
            .args(["kustomize"])
            .arg(env.path(&format!("out/{name}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["metadata"]["name"], format!("{name}-stellar-peers"));
        assert_eq!(docs[0]["metadata"]["namespace"], "stellar");

        // The validator's own overlay: its StatefulSet plus the rollout component.
        let overlay = format!("overlay-{name}");
        env.write(&format!("{overlay}/sts.yaml"), &format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {name}\n  namespace: stellar\nspec:\n  serviceName: {name}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: core\n          image: stellar/stellar-core\n"
        ));
        env.write(&format!("{overlay}/kustomization.yaml"), &format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - sts.yaml\n  - ../out/{name}\ncomponents:\n  - ../out/{name}/rollout\n"
        ));
        let out = std::process::Command::new(&kubectl)
            .args(["kustomize"])
            .arg(env.path(&overlay))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
        let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
        let hash =
            &sts["spec"]["template"]["metadata"]["annotations"]["peergen.io/stellar-config-sha256"];
        assert_eq!(
            hash,
            &cm["metadata"]["annotations"]["peergen.io/config-sha256"]
        );
        let cfg = &tree[&format!("{name}/stellar-core.cfg")];
        assert_eq!(
            hash.as_str().unwrap(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cfg.as_bytes()))
        );
    }
}

#[test]
fn a_peer_change_changes_the_config_hash_of_every_other_validator() {
    let (a, b) = (Env::new(), Env::new());
    let before = render(&a, &stellar_example());
    let inv = edited(&b, |t| {
        t.replace(
            "address: beta-1.beta.example",
            "address: beta-1.beta.example:11700",
        )
    });
    let after = render(&b, &inv);
    for name in ["alpha-1", "alpha-2"] {
        let path = format!("{name}/rollout/kustomization.yaml");
        assert_ne!(before[&path], after[&path], "{name} would not roll");
    }
    let beta = toml_table("beta-1", &after["beta-1/stellar-core.cfg"]);
    assert_eq!(beta["PEER_PORT"].as_integer(), Some(11700));
}

#[test]
fn render_self_and_refusals() {
    let env = Env::new();
    let inv = stellar_example();
    env.run([
        "render",
        "-i",
        inv.to_str().unwrap(),
        "--self",
        "beta-1",
        "--out",
        "out",
    ])
    .success();
    let tree = read_tree(&env.path("out"));
    assert!(
        tree.keys()
            .all(|p| p.starts_with("beta-1/") || p.starts_with('.')),
        "{:?}",
        tree.keys()
    );
    env.run([
        "render",
        "-i",
        inv.to_str().unwrap(),
        "--self",
        "gamma-1",
        "--out",
        "out2",
    ])
    .failure()
    .stderr_has("--self gamma-1: no validator of that name");
    env.run(["check", "-i", inv.to_str().unwrap(), "--state", "x.json"])
        .failure()
        .stderr_has("need no provider-state snapshot");
    let nodes = stellar_nodes();
    env.run([
        "render",
        "-i",
        nodes.to_str().unwrap(),
        "--self",
        "beta-2",
        "--out",
        "out3",
    ])
    .failure()
    .stderr_has("suspended");
}

#[test]
fn unknown_fields_and_networks_are_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| {
        t.replace(
            "    organisation: beta\n",
            "    organisation: beta\n    seed_ref: x\n",
        )
    });
    fails(&env, &inv, &["inv.yaml:", "seed_ref"]);
    let inv = edited(&env, |t| {
        t.replace("organisation: beta\n", "organisation: gamma\n")
    });
    fails(
        &env,
        &inv,
        &[
            "validators.beta-1.organisation",
            "\"gamma\" is not in `organisations:`",
        ],
    );
}

#[test]
fn all_low_is_refused() {
    let env = Env::new();
    let inv = edited(&env, |t| t.replace("quality: MEDIUM", "quality: LOW"));
    fails(&env, &inv, &["every organisation is LOW"]);
}

/// Suspending a validator shows as its files removed in a plan, removes its directory on the next
/// render, and every other validator's files stop naming it; check lists it as excluded.
#[test]
fn suspending_a_validator_removes_it_everywhere() {
    let env = Env::new();
    let nodes = env.path("nodes");
    std::fs::create_dir_all(&nodes).unwrap();
    for f in ["alpha.yaml", "beta.yaml", "beta-2-suspended.yaml"] {
        std::fs::copy(stellar_nodes().join(f), nodes.join(f)).unwrap();
    }
    let suspended = std::fs::read_to_string(nodes.join("beta-2-suspended.yaml")).unwrap();
    let active = suspended
        .replace("  suspended: true\n", "  suspended: false\n")
        .replace(
            "  annotations:\n",
            "  annotations:\n    peergen.io/unsafe-quorum: \"true\"\n",
        );
    std::fs::write(nodes.join("beta-2-suspended.yaml"), &active).unwrap();
    let nodes = nodes.to_str().unwrap();
    env.run(["render", "-i", nodes, "--out", "out"]).success();
    let before = read_tree(&env.path("out"));
    assert!(before.contains_key("beta-2/stellar-core.cfg"));
    assert!(before["alpha-1/stellar-core.cfg"].contains(OTHER));

    std::fs::write(env.path("nodes/beta-2-suspended.yaml"), &suspended).unwrap();
    env.run(["check", "-i", nodes])
        .success()
        .stdout_has("3 active validators in 2 organisations, 1 suspended")
        .stdout_has("suspended beta-2: excluded\n");
    // Before render prunes them, plan shows beta-2's files as removed, in text and in JSON.
    let root = env.path("").to_str().unwrap().to_owned();
    let plan = |format: &str| {
        env.run([
            "plan", "-i", nodes, "--repo", &root, "--path", "out", "--color", "never", "--format",
            format,
        ])
    };
    let text = plan("text");
    text.success()
        .stdout_has("4 to remove")
        .stdout_has("--- a/out/beta-2/stellar-core.cfg\n+++ /dev/null\n")
        .stdout_has("--- a/out/beta-2/stellar-peers.yaml\n+++ /dev/null\n");
    let json: serde_json::Value = serde_json::from_str(&plan("json").stdout).unwrap();
    let removed: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["action"] == "remove")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        removed,
        [
            "beta-2/kustomization.yaml",
            "beta-2/rollout/kustomization.yaml",
            "beta-2/stellar-core.cfg",
            "beta-2/stellar-peers.yaml"
        ]
    );
    env.run(["render", "-i", nodes, "--out", "out"])
        .success()
        .stdout_has("4 removed");
    let after = read_tree(&env.path("out"));
    assert!(!after.keys().any(|p| p.starts_with("beta-2/")));
    assert!(!after.values().any(|t| t.contains(OTHER)));
}

/// Same inputs, same bytes: twice in a row, and with every map in the inventory written in reverse.
#[test]
fn rendering_is_deterministic_and_independent_of_input_order() {
    let (a, b, c) = (Env::new(), Env::new(), Env::new());
    let first = render(&a, &stellar_example());
    assert_eq!(first, render(&b, &stellar_example()));
    let text = std::fs::read_to_string(stellar_example()).unwrap();
    let (head, validators) = text.split_once("validators:\n").unwrap();
    let mut blocks: Vec<String> = Vec::new();
    for line in validators.lines() {
        if line.starts_with("  ") && !line.starts_with("    ") {
            blocks.push(String::new());
        }
        let block = blocks.last_mut().unwrap();
        block.push_str(line);
        block.push('\n');
    }
    blocks.reverse();
    let reversed = c.write(
        "inv.yaml",
        &format!("{head}validators:\n{}", blocks.concat()),
    );
    assert_ne!(std::fs::read_to_string(&reversed).unwrap(), text);
    assert_eq!(render(&c, &reversed), first);
}

#[test]
fn kubernetes_names_are_checked_per_validator() {
    let env = Env::new();
    let upper = edited(&env, |t| {
        t.replace(
            "configmap: \"{{validator}}-stellar-peers\"",
            "configmap: \"Peers-{{validator}}\"",
        )
    });
    fails(
        &env,
        &upper,
        &[
            "inv.yaml:10:12: configmap: for validator alpha-1",
            "lowercase",
        ],
    );
    let unknown = edited(&env, |t| {
        t.replace("name: \"{{validator}}\"", "name: \"{{chain_id}}\"")
    });
    fails(
        &env,
        &unknown,
        &["workload.name", "the only variable is {{validator}}"],
    );
    let shared = edited(&env, |t| {
        t.replace("configmap: \"{{validator}}-stellar-peers\"\n", "")
    });
    fails(
        &env,
        &shared,
        &["ConfigMap stellar/stellar-peers is also used by validator alpha-1"],
    );
}

/// Without `namespace:` and `configmap:` every validator gets the seed's `stellar-peers` in a
/// namespace of its own name, so the defaults render any number of validators.
#[test]
fn default_kubernetes_names_do_not_collide() {
    let kubectl = tool("kubectl");
    let env = Env::new();
    let inv = edited(&env, |t| {
        t.replace("namespace: stellar\n", "")
            .replace("configmap: \"{{validator}}-stellar-peers\"\n", "")
    });
    let tree = render(&env, &inv);
    for name in ["alpha-1", "alpha-2", "beta-1"] {
        let cm: serde_json::Value =
            serde_saphyr::from_str(&tree[&format!("{name}/stellar-peers.yaml")]).unwrap();
        assert_eq!(cm["metadata"]["name"], "stellar-peers", "{name}");
        assert_eq!(cm["metadata"]["namespace"], name);
        let out = std::process::Command::new(&kubectl)
            .arg("kustomize")
            .arg(env.path(&format!("out/{name}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built: serde_json::Value =
            serde_saphyr::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(built["metadata"]["namespace"], name);
    }
}

#[test]
fn startup_findings_are_reported_together() {
    let env = Env::new();
    let both = high_alpha(false);
    let inv = edited(&env, |t| both(t).replace("unsafe_quorum: true\n", ""));
    let run = fails(
        &env,
        &inv,
        &[
            "alpha-3 of organisation alpha (HIGH) has no `history`",
            "tolerates 0 failures",
        ],
    );
    assert_eq!(run.stderr.matches("error: ").count(), 2, "{}", run.stderr);
}

/// Each StellarNode mapping rule of docs/stellar.md refused on its own, pointing into the file.
#[test]
fn stellar_node_mapping_refusals() {
    let alpha = std::fs::read_to_string(stellar_nodes().join("alpha.yaml")).unwrap();
    let cases: [(&str, String, &str); 7] = [
        (
            "address twice",
            alpha.replacen("    peergen.io/public-key: GDND", "    peergen.io/address: a.example\n    peergen.io/public-key: GDND", 1),
            "the address is also given by spec.validatorConfig.externalDns.hostname",
        ),
        (
            "no address",
            alpha.replacen("    peergen.io/address: alpha-2.alpha.example:11625\n", "", 1),
            "StellarNode alpha-2 has no peer address",
        ),
        (
            "two archives",
            alpha.replacen("      - https://history.alpha.example/alpha-1/\n", "      - https://history.alpha.example/alpha-1/\n      - https://mirror.example/alpha-1/\n", 1),
            "has 2 URLs",
        ),
        (
            "typo annotation",
            alpha.replacen("peergen.io/quality: MEDIUM", "peergen.io/qualty: MEDIUM", 1),
            "not a peergen annotation",
        ),
        (
            "mixed quality",
            alpha.replacen("peergen.io/quality: MEDIUM", "peergen.io/quality: HIGH", 1),
            "MEDIUM differs from HIGH",
        ),
        (
            "wrong version",
            alpha.replacen("stellar.org/v1alpha1", "stellar.org/v2", 1),
            "\"stellar.org/v2\" is not a StellarNode version peergen reads",
        ),
        (
            "validator named self",
            alpha.replacen("name: alpha-2\n", "name: self\n", 1),
            "\"self\" is the name stellar-core gives the node itself",
        ),
    ];
    for (what, text, needle) in cases {
        assert_ne!(text, alpha, "{what}: the edit changed nothing");
        let env = Env::new();
        let path = env.write("nodes/alpha.yaml", &text);
        let dir = env.path("nodes");
        let run = env.run(["check", "-i", dir.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{what}: stderr lacks {needle:?}:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{}:", path.display())),
            "{what}: no file:line in\n{}",
            run.stderr
        );
    }
}
