//! Option C registries against a real etcd (Debian's etcd-server, started per test on loopback
//! ports with its own data dir, killed afterwards) and a mock provider (mockito): publish from each
//! operator's own inventory, fetch, render, and compare with the template-based fleet; concurrent
//! publishes; every fault leaves the previous snapshot byte-identical and nothing half-published.
//! And the chain-registry output validated against chain-registry's own schema.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fetch::{ALICE, BOB, CAROL, standard};
use crate::harness::*;

const CHAIN: &str = "cosmoshub-4";

/// A single-member etcd cluster of its own.
pub(crate) struct Etcd {
    child: Child,
    pub(crate) url: String,
    dir: tempfile::TempDir,
    tls: Option<PathBuf>,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.local_addr().unwrap().port()
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl.
fn make_certs(dir: &Path) {
    let openssl = tool("openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The gateway dials etcd's own gRPC listener with the server certificate, so it needs both
    // usages; with auth on, the gateway refuses client certificates that carry a Common Name.
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=peergen test CA",
    ]);
    // client-v1 has no extensions, so openssl makes an X.509 v1 certificate, which rustls refuses.
    for (name, ext) in [
        ("server", Some("server.ext")),
        ("client", Some("client.ext")),
        ("client-v1", None),
    ] {
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            if name == "server" {
                "/CN=server"
            } else {
                "/O=peergen"
            },
        ]);
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "",
            "-days",
            "2",
        ];
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        args[3] = &csr;
        args[10] = &pem;
        if let Some(ext) = ext {
            args.extend(["-extfile", ext]);
        }
        run(&args);
    }
}

impl Etcd {
    pub(crate) fn start() -> Etcd {
        Etcd::launch(false)
    }

    fn start_tls() -> Etcd {
        Etcd::launch(true)
    }

    fn launch(tls: bool) -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        let scheme = if tls { "https" } else { "http" };
        let (client, peer) = (free_port(), free_port());
        let url = format!("{scheme}://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut args = vec![
            "--name".to_owned(),
            "test".to_owned(),
            "--data-dir".to_owned(),
            dir.path().join("data").display().to_string(),
            "--listen-client-urls".to_owned(),
            url.clone(),
            "--advertise-client-urls".to_owned(),
            url.clone(),
            "--listen-peer-urls".to_owned(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".to_owned(),
            peer_url.clone(),
            "--initial-cluster".to_owned(),
            format!("test={peer_url}"),
        ];
        let tls_dir = tls.then(|| {
            make_certs(dir.path());
            dir.path().to_path_buf()
        });
        if let Some(d) = &tls_dir {
            for (flag, file) in [
                ("--cert-file", "server.pem"),
                ("--key-file", "server.key"),
                ("--trusted-ca-file", "ca.pem"),
            ] {
                args.push(flag.to_owned());
                args.push(d.join(file).display().to_string());
            }
            args.push("--client-cert-auth".to_owned());
        }
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new(tool("etcd"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let etcd = Etcd {
            child,
            url,
            dir,
            tls: tls_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = etcd.ctl(&["endpoint", "health"]);
            if out.status.success() {
                return etcd;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not start:\n{}",
                std::fs::read_to_string(etcd.dir.path().join("etcd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cert(&self, name: &str) -> String {
        self.tls.as_ref().unwrap().join(name).display().to_string()
    }

    /// etcdctl against this cluster (as root when auth is on).
    fn ctl(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(tool("etcdctl"));
        c.env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(&self.url)
            .arg("--dial-timeout=1s")
            .arg("--command-timeout=3s");
        if self.tls.is_some() {
            c.arg(format!("--cacert={}", self.cert("ca.pem")))
                .arg(format!("--cert={}", self.cert("client.pem")))
                .arg(format!("--key={}", self.cert("client.key")));
        }
        c.args(args).output().expect("run etcdctl")
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every key below `prefix` with its value, as `key=value` lines.
    fn dump(&self, prefix: &str) -> Vec<String> {
        let out = self.ok(&["get", "--prefix", prefix]);
        out.lines()
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|kv| format!("{}={}", kv[0], kv.get(1).unwrap_or(&"")))
            .collect()
    }

    fn revision(&self) -> u64 {
        let out = self.ok(&["get", "x", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["header"]["revision"].as_u64().unwrap()
    }
}

fn key(op: &str, consumer: &str, node: &str) -> String {
    format!("peergen/{CHAIN}/{op}/{consumer}/{node}")
}

/// The shared settings: provider, registry (with `extra` lines), defaults.
fn common(env: &Env, rest: &str, etcd: &str, extra: &str) {
    env.write(
        "common.yaml",
        &format!(
            "version: 1\nnetwork: cosmos\nprovider:\n  chain_id: {CHAIN}\n  rest: {rest}\nregistry:\n  etcd: [{etcd}]\n  prefix: peergen\n{extra}defaults:\n  configmap: \"{{{{chain_id}}}}-{{{{node}}}}-peers\"\n"
        ),
    );
}

/// Each operator's own description of its validator: alice one public node, bob two sentries in
/// front of a private validator node, carol one public node.
fn own_files(env: &Env) {
    env.write(
        "alice.yaml",
        &format!(
            "validators:\n  alice:\n    operator_address: {}\n    consumer_template: alice-{{{{chain-id}}}}.example.org:{{{{port}}}}\n    node_id: {}\n",
            ALICE.op, ALICE.node_id
        ),
    );
    env.write(
        "bob.yaml",
        &format!(
            "validators:\n  bob:\n    operator_address: {}\n    node_id: {}\n    private_endpoint: 10.20.0.5:26656\n    sentries:\n      - name: eu\n        consumer_template: bob-eu-{{{{chain-id}}}}.example.org:{{{{port}}}}\n        node_id: b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n      - name: us\n        consumer_template: bob-us-{{{{chain-id}}}}.example.org:26656\n        node_id: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n",
            BOB.op, BOB.node_id
        ),
    );
    env.write(
        "carol.yaml",
        &format!(
            "validators:\n  carol:\n    operator_address: {}\n    consumer_template: 203.0.113.10:{{26700-26799}}\n    node_id: {}\n",
            CAROL.op, CAROL.node_id
        ),
    );
    for (name, op) in [("alice", ALICE.op), ("bob", BOB.op), ("carol", CAROL.op)] {
        env.write(
            &format!("reg-{name}.yaml"),
            &format!(
                "validators:\n  {name}:\n    operator_address: {op}\n    endpoint_source: registry\n"
            ),
        );
    }
}

const FAST: [&str; 4] = ["--retries", "1", "--retry-backoff-ms", "1"];

fn run(env: &Env, args: &[&str]) -> Run {
    env.run(args)
}

/// Alice's fetch over the registry-sourced bob and carol fails with `message` and leaves her
/// snapshot as `good`.
fn alice_fetch_fails(env: &Env, good: &str, extra: &[&str], vars: &[(&str, &str)], message: &str) {
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "reg-bob.yaml",
        "-i",
        "reg-carol.yaml",
        "--out",
        "alice-state.json",
    ];
    args.extend(FAST);
    args.extend(extra);
    with(env, &args, vars).failure().stderr_has(message);
    assert_eq!(
        env.read("alice-state.json"),
        good,
        "a failed fetch changed the snapshot"
    );
}

fn with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Run {
    Run::from(
        env.command()
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .unwrap(),
    )
}

/// Fetches the operator's own snapshot and publishes its validator from it.
fn publish(env: &Env, name: &str) -> Run {
    let own = format!("{name}.yaml");
    let state = format!("{name}-own.json");
    let mut args = vec!["fetch", "-i", "common.yaml", "-i", &own, "--out", &state];
    args.extend(FAST);
    run(env, &args).success();
    let mut args = vec![
        "publish",
        "-i",
        "common.yaml",
        "-i",
        &own,
        "--state",
        &state,
        "--self",
        name,
    ];
    args.extend(FAST);
    run(env, &args)
}

/// alice's view: herself from her own file, bob and carol from the registry.
fn fetch_alice(env: &Env, extra: &[&str]) -> Run {
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "reg-bob.yaml",
        "-i",
        "reg-carol.yaml",
        "--out",
        "alice-state.json",
    ];
    args.extend(FAST);
    args.extend(extra);
    run(env, &args)
}

#[test]
fn published_endpoints_render_the_same_peers_as_the_template_fleet() {
    let p = standard(&[], None);
    let etcd = Etcd::start();
    let env = Env::new();
    common(&env, &p.url(), &etcd.url, "");
    own_files(&env);
    for name in ["alice", "bob", "carol"] {
        publish(&env, name).success().stdout_has("published ");
    }
    // bob publishes his two sentries, never his validator node; a second publish changes nothing.
    let bob_keys = etcd.dump(&format!("peergen/{CHAIN}/{}/", BOB.op));
    assert_eq!(bob_keys.len(), 2, "{bob_keys:?}");
    assert!(
        bob_keys[0].starts_with(&format!("{}=", key(BOB.op, "0", "eu"))),
        "{bob_keys:?}"
    );
    assert!(
        bob_keys[0].contains(r#""address":"bob-eu-pion-1.example.org:"#),
        "{bob_keys:?}"
    );
    assert!(
        !bob_keys.iter().any(|k| k.contains("10.20.0.5")),
        "{bob_keys:?}"
    );
    publish(&env, "bob").success().stdout_has("no changes");

    // Each operator fetches the others from the registry and renders its own subtree; the fleet
    // described by templates renders the same bytes.
    fetch_alice(&env, &[])
        .success()
        .stdout_has("registry peergen/cosmoshub-4/ at revision ");
    let state = env.read("alice-state.json");
    assert!(
        state.contains("\"registry\": {\n    \"revision\": "),
        "{state}"
    );
    assert!(
        state.contains(&format!("\"operator_address\": \"{}\"", BOB.op)),
        "{state}"
    );
    let mut fleet = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "bob.yaml",
        "-i",
        "carol.yaml",
        "--out",
        "fleet.json",
    ];
    fleet.extend(FAST);
    run(&env, &fleet).success();
    for (me, files) in [
        ("alice", ["alice.yaml", "reg-bob.yaml", "reg-carol.yaml"]),
        ("bob", ["bob.yaml", "reg-alice.yaml", "reg-carol.yaml"]),
        ("carol", ["carol.yaml", "reg-alice.yaml", "reg-bob.yaml"]),
    ] {
        let state = format!("{me}-state.json");
        let mut args = vec!["fetch", "-i", "common.yaml"];
        for f in &files {
            args.extend(["-i", f]);
        }
        args.extend(["--out", &state]);
        args.extend(FAST);
        run(&env, &args).success();
        let out = format!("{me}-out");
        let mut args = vec!["render", "-i", "common.yaml"];
        for f in &files {
            args.extend(["-i", f]);
        }
        args.extend(["--state", &state, "--self", me, "--out", &out]);
        run(&env, &args).success();
        let fleet_out = format!("fleet-{me}");
        run(
            &env,
            &[
                "render",
                "-i",
                "common.yaml",
                "-i",
                "alice.yaml",
                "-i",
                "bob.yaml",
                "-i",
                "carol.yaml",
                "--state",
                "fleet.json",
                "--self",
                me,
                "--out",
                &fleet_out,
            ],
        )
        .success();
        let got = read_tree(&env.path(&out));
        let want = read_tree(&env.path(&fleet_out));
        assert!(
            want.keys().filter(|k| k.ends_with("p2p.toml")).count() >= 2,
            "{me}: {:?}",
            want.keys()
        );
        assert_eq!(
            got, want,
            "{me}: registry-sourced peers differ from the template fleet"
        );
    }
    // A peer list really holds registry entries: bob's sentries in alice's pion-1 config.
    let alice = env.read("alice-out/alice/pion-1/p2p.toml");
    assert!(
        alice.contains("b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1@bob-eu-pion-1.example.org:"),
        "{alice}"
    );

    // An unchanged registry leaves the snapshot alone even though etcd's revision moved.
    etcd.ok(&["put", "elsewhere/x", "1"]);
    let before = env.read("alice-state.json");
    fetch_alice(&env, &[])
        .success()
        .stdout_has("no changes; alice-state.json not rewritten");
    assert_eq!(env.read("alice-state.json"), before);

    // A changed entry shows up in the fetch summary, by validator, node and consumer.
    etcd.ok(&[
        "put",
        &key(BOB.op, "0", "us"),
        r#"{"node_id":"b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2","address":"198.51.100.7:26656","updated":"2026-11-21T00:00:00Z"}"#,
    ]);
    fetch_alice(&env, &[])
        .success()
        .stdout_has("registry: bob/us on consumer 0: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2@bob-us-pion-1.example.org:26656 -> b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2@198.51.100.7:26656");
}

/// Every fault: a clear error, the previous snapshot byte-identical.
#[test]
fn registry_faults_leave_the_snapshot_byte_identical() {
    let p = standard(&[], None);
    let etcd = Etcd::start();
    let env = Env::new();
    common(&env, &p.url(), &etcd.url, "  max_age: 1d\n");
    own_files(&env);
    for name in ["bob", "carol"] {
        publish(&env, name).success();
    }
    fetch_alice(&env, &[]).success();
    let good = env.read("alice-state.json");
    let revision_read = etcd.revision();
    let fails = |extra: &[&str], vars: &[(&str, &str)], message: &str| {
        alice_fetch_fails(&env, &good, extra, vars, message)
    };
    let bob0 = key(BOB.op, "0", "eu");
    let good_value = etcd.ok(&["get", "--print-value-only", &bob0]);

    // A malformed value (an address CometBFT would reject, a TOML injection), an unknown field, a
    // value over the size limit: each named by its key.
    for (value, message) in [
        (r#"{"node_id":"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1","address":"0.0.0.0:26656","updated":"2026-11-21T00:00:00Z"}"#.to_owned(), "is not a usable peer address"),
        (r#"{"node_id":"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1","address":"x.org:1\"\n[p2p]","updated":"2026-11-21T00:00:00Z"}"#.to_owned(), "address:"),
        (r#"{"node_id":"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1","address":"x.org:1","updated":"2026-11-21T00:00:00Z","note":"hi"}"#.to_owned(), "unknown field `note`"),
        (format!(r#"{{"node_id":"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1","address":"x.org:1","updated":"2026-11-21T00:00:00Z","pad":"{}"}}"#, "x".repeat(2000)), "over the 1024-byte limit"),
    ] {
        etcd.ok(&["put", &bob0, &value]);
        fails(&[], &[], &format!("error: registry key {bob0}: "));
        fails(&[], &[], message);
    }
    etcd.ok(&["put", &bob0, good_value.trim_end()]);

    // A missing entry for a selected validator names validator and consumer.
    etcd.ok(&["del", &key(CAROL.op, "1", "validator")]);
    fails(
        &[],
        &[],
        "validators.carol (endpoint_source: registry), consumer 1 (sandbox-1): the registry (read at revision ",
    );
    fails(
        &[],
        &[],
        &format!("has no entry under peergen/{CHAIN}/{}/1/", CAROL.op),
    );
    publish(&env, "carol").success();

    // A validator node listed beside sentries is refused: it would publish the private node.
    let beside = key(BOB.op, "0", "validator");
    etcd.ok(&[
        "put",
        &beside,
        &good_value.trim_end().replace("bob-eu", "bob-validator"),
    ]);
    fails(
        &[],
        &[],
        "the registry lists node \"validator\" beside sentries",
    );
    etcd.ok(&["del", &beside]);

    // An entry for a validator the inventory does not describe is a warning; a stale one is reported.
    etcd.ok(&[
        "put",
        &format!("peergen/{CHAIN}/cosmosvaloper1yg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zt5x3kt/0/validator"),
        r#"{"node_id":"4444444444444444444444444444444444444444","address":"smart.example.org:26656","updated":"2020-01-01T00:00:00Z"}"#,
    ]);
    let stale = r#"{"node_id":"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1","address":"bob-eu-pion-1.example.org:26656","updated":"2020-01-01T00:00:00Z"}"#;
    etcd.ok(&["put", &bob0, stale]);
    let run = fetch_alice(&env, &[]);
    run.success()
        .stderr_has("the registry lists peergen/cosmoshub-4/cosmosvaloper1yg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zt5x3kt/, a validator the inventory does not describe")
        .stderr_has(&format!("registry key {bob0}: stale: last published 2020-01-01T00:00:00Z"));
    let good = env.read("alice-state.json");

    // The snapshot names its revision; a compacted one cannot be read again, a future one is not
    // there yet: both are clear errors.
    let fails = |extra: &[&str], vars: &[(&str, &str)], message: &str| {
        alice_fetch_fails(&env, &good, extra, vars, message)
    };
    let now = etcd.revision();
    etcd.ok(&["compaction", &now.to_string()]);
    fails(
        &["--registry-revision", &revision_read.to_string()],
        &[],
        &format!("revision {revision_read} has been compacted"),
    );
    fails(
        &["--registry-revision", "999999"],
        &[],
        "revision 999999 is in the future of this cluster",
    );
    fetch_alice(&env, &["--registry-revision", &now.to_string()]).success();

    // etcd down: every endpoint unreachable after the retries.
    let url = etcd.url.clone();
    drop(etcd);
    fails(&[], &[], &format!("etcd {url}: unreachable ("));
    fails(&[], &[], "gave up after 2 attempts over every endpoint");
}

#[test]
fn concurrent_publishers_retry_on_a_conflict_and_both_land() {
    let p = standard(&[], None);
    let etcd = Etcd::start();
    let env = Env::new();
    common(&env, &p.url(), &etcd.url, "");
    own_files(&env);
    for name in ["alice", "bob"] {
        let own = format!("{name}.yaml");
        let state = format!("{name}-own.json");
        let mut args = vec!["fetch", "-i", "common.yaml", "-i", &own, "--out", &state];
        args.extend(FAST);
        run(&env, &args).success();
    }
    let spawn = |name: &str, pause: Option<&str>| {
        let own = format!("{name}.yaml");
        let state = format!("{name}-own.json");
        let mut c = env.command();
        c.args([
            "publish",
            "-i",
            "common.yaml",
            "-i",
            &own,
            "--state",
            &state,
            "--self",
            name,
            "--retry-backoff-ms",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(p) = pause {
            c.env("PEERGEN_TEST_PAUSE", p);
        }
        c.spawn().unwrap()
    };
    // alice reads, then waits before her transaction; meanwhile bob publishes and someone writes
    // one of alice's keys: her compare-and-swap fails, she reads again and succeeds.
    let alice = spawn("alice", Some("publish-read:1500"));
    let bob = spawn("bob", None);
    std::thread::sleep(Duration::from_millis(500));
    let stray = key(ALICE.op, "0", "old-node");
    etcd.ok(&["put", &stray, "{}"]);
    let bob = Run::from(bob.wait_with_output().unwrap());
    let alice = Run::from(alice.wait_with_output().unwrap());
    bob.success().stdout_has("(attempt 1)");
    alice
        .success()
        .stdout_has("(attempt 2)")
        .stdout_has(&format!("- {stray} {{}}"))
        .stderr_has("the registry changed since revision");
    let all = etcd.dump(&format!("peergen/{CHAIN}/"));
    assert!(
        all.iter()
            .any(|k| k.starts_with(&key(ALICE.op, "0", "validator"))),
        "{all:?}"
    );
    assert!(
        all.iter().any(|k| k.starts_with(&key(BOB.op, "0", "eu"))),
        "{all:?}"
    );
    assert!(!all.iter().any(|k| k.starts_with(&stray)), "{all:?}");

    // --dry-run shows the diff of keys and writes nothing.
    let before = etcd.dump(&format!("peergen/{CHAIN}/"));
    std::fs::write(
        env.path("alice.yaml"),
        env.read("alice.yaml").replace(
            "alice-{{chain-id}}.example.org",
            "alice2-{{chain-id}}.example.org",
        ),
    )
    .unwrap();
    let mut args = vec![
        "publish",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "--state",
        "alice-own.json",
        "--self",
        "alice",
        "--dry-run",
        "--consumer",
        "pion-1",
    ];
    args.extend(FAST);
    let dry = run(&env, &args);
    dry.success()
        .stdout_has(&format!("~ {} ", key(ALICE.op, "0", "validator")))
        .stdout_has(r#"-> {"node_id":"1111111111111111111111111111111111111111","address":"alice2-pion-1.example.org:"#)
        .stdout_has("dry run: 1 changes, nothing written");
    assert!(
        !dry.stdout.contains("/3/"),
        "--consumer pion-1 touches consumer 0 only:\n{}",
        dry.stdout
    );
    assert_eq!(etcd.dump(&format!("peergen/{CHAIN}/")), before);

    // Only the publishing validator's keys: a registry-sourced --self is refused, and so is a
    // validator it does not describe.
    let mut args = vec![
        "publish",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "reg-bob.yaml",
        "--state",
        "alice-own.json",
        "--self",
        "bob",
    ];
    args.extend(FAST);
    run(&env, &args).failure();
}

#[test]
fn publish_with_a_lease_attaches_and_renews_its_keys() {
    let p = standard(&[], None);
    let etcd = Etcd::start();
    let env = Env::new();
    common(&env, &p.url(), &etcd.url, "  lease_ttl: 1h\n");
    own_files(&env);
    publish(&env, "carol").success().stdout_has("published ");
    let lease_of = || {
        let out = etcd.ok(&["get", &key(CAROL.op, "0", "validator"), "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["kvs"][0]["lease"].as_i64().unwrap()
    };
    let first = lease_of();
    assert_ne!(first, 0, "the key is attached to a lease");
    let ttl = etcd.ok(&["lease", "timetolive", &format!("{first:x}")]);
    assert!(
        ttl.contains("remaining(3") || ttl.contains("remaining(35"),
        "{ttl}"
    );
    // Publishing again renews every key onto a fresh lease, without changing its value.
    let again = publish(&env, "carol");
    again.success().stdout_has(&format!(
        "= {} (lease renewed)",
        key(CAROL.op, "0", "validator")
    ));
    assert!(
        !again.stdout.contains("\n+ ") && !again.stdout.contains("\n~ "),
        "{}",
        again.stdout
    );
    assert_ne!(lease_of(), first);
}

#[test]
fn tls_and_auth_publish_own_keys_only_and_fail_clearly() {
    let p = standard(&[], None);
    let etcd = Etcd::start_tls();
    let root = "root-pw-5e";
    etcd.ok(&["user", "add", &format!("root:{root}")]);
    etcd.ok(&["role", "add", "reader"]);
    etcd.ok(&[
        "role",
        "grant-permission",
        "reader",
        "--prefix=true",
        "read",
        &format!("peergen/{CHAIN}/"),
    ]);
    for (name, op) in [("alice", ALICE.op), ("bob", BOB.op)] {
        let role = format!("{name}-publisher");
        etcd.ok(&["role", "add", &role]);
        etcd.ok(&[
            "role",
            "grant-permission",
            &role,
            "--prefix=true",
            "readwrite",
            &format!("peergen/{CHAIN}/{op}/"),
        ]);
        etcd.ok(&["user", "add", &format!("{name}:{name}-s3cret")]);
        etcd.ok(&["user", "grant-role", name, &role]);
        etcd.ok(&["user", "grant-role", name, "reader"]);
    }
    etcd.ok(&["auth", "enable"]);
    let env = Env::new();
    let tls = format!(
        "  ca_file: {}\n  cert_file: {}\n  key_file: {}\n",
        etcd.cert("ca.pem"),
        etcd.cert("client.pem"),
        etcd.cert("client.key")
    );
    own_files(&env);
    let auth = |user: &str| format!("{tls}  username: {user}\n  password_env: ETCD_PW\n");
    let run_as = |args: &[&str], pw: &str| with(&env, args, &[("ETCD_PW", pw)]);

    common(&env, &p.url(), &etcd.url, &auth("alice"));
    let mut fetch_own = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "--out",
        "alice-own.json",
    ];
    fetch_own.extend(FAST);
    run(&env, &fetch_own).success();
    let mut publish = vec![
        "publish",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "--state",
        "alice-own.json",
        "--self",
        "alice",
    ];
    publish.extend(FAST);

    // A wrong password: a clear error that never shows it, and nothing written.
    let bad = run_as(&publish, "wrong-pw-9f");
    bad.failure().stderr_has("authentication failed");
    assert!(!bad.stderr.contains("wrong-pw-9f") && !bad.stdout.contains("wrong-pw-9f"));
    let user = format!("--user=root:{root}");
    let ctl_root = |args: &[&str]| {
        let mut full = vec![user.as_str()];
        full.extend(args);
        etcd.ok(&full)
    };
    assert_eq!(
        ctl_root(&["get", "--prefix", "peergen/", "--keys-only"]).trim(),
        ""
    );

    // With her own credentials alice publishes her keys; as alice, writing bob's keys is denied by
    // RBAC, and the transaction leaves nothing half-written.
    run_as(&publish, "alice-s3cret")
        .success()
        .stdout_has("published ");
    let mut fetch_bob = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "bob.yaml",
        "--out",
        "bob-own.json",
    ];
    fetch_bob.extend(FAST);
    run(&env, &fetch_bob).success();
    let mut as_alice = vec![
        "publish",
        "-i",
        "common.yaml",
        "-i",
        "bob.yaml",
        "--state",
        "bob-own.json",
        "--self",
        "bob",
    ];
    as_alice.extend(FAST);
    run_as(&as_alice, "alice-s3cret")
        .failure()
        .stderr_has("permission denied");
    let keys = ctl_root(&["get", "--prefix", "peergen/", "--keys-only"]);
    assert!(!keys.contains(BOB.op), "{keys}");
    assert!(keys.contains(ALICE.op), "{keys}");

    // bob publishes with his own credentials; alice's reader role fetches him over TLS.
    common(&env, &p.url(), &etcd.url, &auth("bob"));
    run_as(&as_alice, "bob-s3cret").success();
    common(&env, &p.url(), &etcd.url, &auth("alice"));
    let mut fetch = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "reg-bob.yaml",
        "--out",
        "alice-state.json",
    ];
    fetch.extend(FAST);
    let ok = run_as(&fetch, "alice-s3cret");
    ok.success();
    assert!(env.read("alice-state.json").contains("\"node\": \"eu\""));
    let good = env.read("alice-state.json");
    run_as(&fetch, "nope")
        .failure()
        .stderr_has("authentication failed");
    run(&env, &fetch)
        .failure()
        .stderr_has("environment variable ETCD_PW is not set");
    // A client certificate rustls cannot use is a clear error naming the file.
    let v1 = format!(
        "  ca_file: {}\n  cert_file: {}\n  key_file: {}\n  username: alice\n  password_env: ETCD_PW\n",
        etcd.cert("ca.pem"),
        etcd.cert("client-v1.pem"),
        etcd.cert("client-v1.key")
    );
    common(&env, &p.url(), &etcd.url, &v1);
    run_as(&fetch, "alice-s3cret")
        .failure()
        .stderr_has(&format!(
            "{}: registry TLS: the client certificate and key are not usable",
            etcd.cert("client-v1.pem")
        ));
    // Without the CA the server's certificate is not trusted.
    common(
        &env,
        &p.url(),
        &etcd.url,
        "  username: alice\n  password_env: ETCD_PW\n",
    );
    run_as(&fetch, "alice-s3cret")
        .failure()
        .stderr_has("unreachable");
    assert_eq!(env.read("alice-state.json"), good);
}

#[test]
fn chain_registry_peers_validate_against_the_published_schema() {
    let env = Env::new();
    let inv = bundled_inventory_text("sentries.yaml")
        .replace(
            "state: example-state.json",
            &format!("state: {}", example_state().display()),
        )
        .replace(
            "  topology: full-mesh\n",
            "  topology: full-mesh\n  chain_registry: true\n",
        );
    env.write("inv.yaml", &inv);
    run(&env, &["render", "-i", "inv.yaml", "--out", "out"]).success();
    let tree = read_tree(&env.path("out"));
    let files: Vec<&String> = tree
        .keys()
        .filter(|k| k.ends_with("chain-registry-peers.json"))
        .collect();
    assert!(!files.is_empty());
    // carol has no sentries: her one node is her validator node, which is never listed.
    assert!(files.iter().all(|f| !f.starts_with("carol/")), "{files:?}");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/data/chain-registry/chain.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for f in &files {
        let peers: serde_json::Value = serde_json::from_str(&tree[*f]).unwrap();
        let chain = serde_json::json!({
            "$schema": "../chain.schema.json",
            "chain_name": "pion",
            "chain_type": "cosmos",
            "chain_id": "pion-1",
            "bech32_prefix": "cosmos",
            "status": "live",
            "peers": peers,
        });
        let errors: Vec<String> = validator
            .iter_errors(&chain)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{f}: {errors:?}");
        for p in peers["persistent_peers"].as_array().unwrap() {
            assert_ne!(
                p["id"], "529a2b1b52c1a79a57989bb89630c08d1aaaa689",
                "{f}: alice's validator node listed"
            );
        }
    }
    // The schema is a real judge: an entry without an id, or with an unknown field, fails it.
    let broken = serde_json::json!({"chain_name": "pion", "chain_type": "cosmos", "chain_id": "pion-1", "bech32_prefix": "cosmos", "status": "live", "peers": {"persistent_peers": [{"address": "a:1", "provider": "x", "extra": 1}]}});
    assert!(!validator.is_valid(&broken));
    insta::assert_snapshot!(
        "chain_registry_peers_alice_pion",
        tree["alice/pion-1/chain-registry-peers.json"]
    );
}

/// chain-registry as input: bob's entries in a chain.json in the upstream shape, with the
/// malformed entries the upstream files are known to hold.
#[test]
fn chain_registry_input_skips_malformed_entries_and_renders_like_the_templates() {
    let p = standard(&[], None);
    let env = Env::new();
    common(&env, &p.url(), "http://127.0.0.1:9", "");
    own_files(&env);
    let chain = repo_root().join("tests/data/chain-registry/chain.json");
    env.write(
        "cr-bob.yaml",
        &format!(
            "chain_registry:\n  sources:\n    pion-1: {}\n  providers:\n    \"Bob Staking 🐝\": bob\nvalidators:\n  bob:\n    operator_address: {}\n    endpoint_source: chain-registry\n",
            chain.display(),
            BOB.op
        ),
    );
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "cr-bob.yaml",
        "--out",
        "cr.json",
    ];
    args.extend(FAST);
    let run_ = run(&env, &args);
    run_.success();
    let at = |i: usize| format!("{}: peers.persistent_peers[{i}]", chain.display());
    for (i, why) in [
        (
            2,
            " (provider \"Bob Staking 🐝\"): skipped: \"b1b1\" is not a node ID",
        ),
        (
            3,
            " (provider \"Bob Staking 🐝\"): skipped: \"bob-no-port.example.org\" has no port",
        ),
        (
            4,
            " (provider \"Bob Staking 🐝\"): skipped: 0.0.0.0 is not a usable peer address",
        ),
        (5, " (provider \"Bob Staking 🐝\"): skipped: "),
        (
            6,
            ": skipped: not {id, address, provider}: unknown field `note`",
        ),
        (
            7,
            ": skipped: not {id, address, provider}: missing field `id`",
        ),
    ] {
        run_.stderr_has(&format!("{}{why}", at(i)));
    }
    // dave's provider is mapped to nobody: ignored, and its escape sequence never printed.
    assert!(!run_.stderr.contains('\u{1b}'), "{}", run_.stderr);
    let state = env.read("cr.json");
    assert!(state.contains("\"chain_registry\": ["), "{state}");
    assert_eq!(
        state.matches("\"validator\": \"bob\"").count(),
        2,
        "{state}"
    );
    assert!(state.contains("\"sha256\": \""), "{state}");
    run(
        &env,
        &[
            "render",
            "-i",
            "common.yaml",
            "-i",
            "alice.yaml",
            "-i",
            "cr-bob.yaml",
            "--state",
            "cr.json",
            "--self",
            "alice",
            "--out",
            "cr-out",
        ],
    )
    .success();
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "bob.yaml",
        "--out",
        "fleet.json",
    ];
    args.extend(FAST);
    run(&env, &args).success();
    run(
        &env,
        &[
            "render",
            "-i",
            "common.yaml",
            "-i",
            "alice.yaml",
            "-i",
            "bob.yaml",
            "--state",
            "fleet.json",
            "--self",
            "alice",
            "--out",
            "fleet-out",
        ],
    )
    .success();
    let peers = |dir: &str| env.read(&format!("{dir}/alice/pion-1/p2p.toml"));
    assert!(
        peers("cr-out")
            .contains("b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1@bob-eu-pion-1.example.org:29536")
    );
    assert_eq!(peers("cr-out"), peers("fleet-out"));

    // A chain.json that is not JSON is an error naming the file; the snapshot stays.
    let before = env.read("cr.json");
    env.write("broken.json", "{\"peers\": [");
    env.write(
        "cr-bob.yaml",
        &format!(
            "chain_registry:\n  sources:\n    pion-1: broken.json\n  providers:\n    \"Bob Staking 🐝\": bob\nvalidators:\n  bob:\n    operator_address: {}\n    endpoint_source: chain-registry\n",
            BOB.op
        ),
    );
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "cr-bob.yaml",
        "--out",
        "cr.json",
    ];
    args.extend(FAST);
    run(&env, &args)
        .failure()
        .stderr_has("broken.json: chain-registry chain.json: ");
    assert_eq!(env.read("cr.json"), before);
}

/// bob's chain-registry inventory file: `source` as the consumer's chain.json, `extra` lines in
/// the `chain_registry:` section.
fn cr_bob(env: &Env, source: &str, extra: &str) {
    env.write(
        "cr-bob.yaml",
        &format!(
            "chain_registry:\n  sources:\n    pion-1: {source}\n  providers:\n    \"Bob Staking 🐝\": bob\n{extra}validators:\n  bob:\n    operator_address: {}\n    endpoint_source: chain-registry\n",
            BOB.op
        ),
    );
}

fn fetch_cr(env: &Env, out: &str) -> Run {
    let mut args = vec![
        "fetch",
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "cr-bob.yaml",
        "--out",
        out,
    ];
    args.extend(FAST);
    run(env, &args)
}

/// A chain.json given as a URL is fetched at `fetch` time with the provider client (a real local
/// HTTP server here) and locked exactly as a local file is: same peers, same sha256, the URL as its
/// source; render then needs no network. Unreachable, an HTTP error, a body that is not JSON, and
/// one over the size cap are each an error naming the URL, and the snapshot stays byte-identical.
#[test]
fn chain_registry_url_is_fetched_and_locked_like_a_local_file() {
    let p = standard(&[], None);
    let env = Env::new();
    common(&env, &p.url(), "http://127.0.0.1:9", "");
    own_files(&env);
    let file = repo_root().join("tests/data/chain-registry/chain.json");
    let body = std::fs::read_to_string(&file).unwrap();
    cr_bob(&env, &file.display().to_string(), "");
    fetch_cr(&env, "from-file.json").success();

    let mut server = mockito::Server::new();
    let path = "/cosmos/chain-registry/master/testnets/pion/chain.json";
    let url = format!("{}{path}", server.url());
    let ok = server
        .mock("GET", path)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_body(&body)
        .expect(1)
        .create();
    cr_bob(&env, &url, "");
    fetch_cr(&env, "from-url.json")
        .success()
        .stderr_has(&format!("{url}: peers.persistent_peers[2] (provider"));
    ok.assert();
    ok.remove();
    let sources = |name: &str| {
        let state: serde_json::Value = serde_json::from_str(&env.read(name)).unwrap();
        state["chain_registry"].clone()
    };
    let (from_file, from_url) = (sources("from-file.json"), sources("from-url.json"));
    assert_eq!(from_url[0]["source"], url.as_str());
    assert_eq!(from_url[0]["peers"], from_file[0]["peers"]);
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    assert_eq!(from_url[0]["sha256"], sha.as_str());
    assert_eq!(from_file[0]["sha256"], sha.as_str());
    // Render reads the snapshot only: the server answers nothing any more.
    let render = |dir: &str| {
        run(
            &env,
            &[
                "render",
                "-i",
                "common.yaml",
                "-i",
                "alice.yaml",
                "-i",
                "cr-bob.yaml",
                "--state",
                "from-url.json",
                "--self",
                "alice",
                "--out",
                dir,
            ],
        )
    };
    render("url-out").success();
    assert!(
        env.read("url-out/alice/pion-1/p2p.toml")
            .contains("b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1@bob-eu-pion-1.example.org:29536")
    );

    let good = env.read("from-url.json");
    let m = server
        .mock("GET", path)
        .with_status(404)
        .with_body("404: Not Found")
        .create();
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has(&format!(
            "chain-registry chain.json: {url}: HTTP 404: 404: Not Found"
        ));
    m.remove();
    // A server error is retried with the shared backoff (FAST: one retry), then reported.
    let m = server
        .mock("GET", path)
        .with_status(503)
        .with_body("busy")
        .expect(2)
        .create();
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has(&format!(
            "chain-registry chain.json: {url}: HTTP 503 (gave up after 2 attempts): busy"
        ));
    m.assert();
    m.remove();
    let m = server
        .mock("GET", path)
        .with_body("<html>chain registry moved</html>")
        .create();
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has(&format!(
            "{url}: chain-registry chain.json: expected value at line 1 column 1"
        ));
    m.remove();
    // Over the 4 MiB cap: refused without reading on, and not retried.
    let big = format!("{{\"peers\": {{}}, \"pad\": \"{}\"}}", "x".repeat(5 << 20));
    let m = server.mock("GET", path).with_body(big).expect(1).create();
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has(&format!(
            "chain-registry chain.json: {url}: the response body is larger than the 4194304-byte limit"
        ));
    m.assert();
    m.remove();
    assert_eq!(env.read("from-url.json"), good);
    // Nothing listens on a port just freed.
    let closed = format!("http://127.0.0.1:{}{path}", free_port());
    cr_bob(&env, &closed, "");
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has(&format!(
            "chain-registry chain.json: {closed}: connection error"
        ))
        .stderr_has("(gave up after 2 attempts)");
    assert_eq!(env.read("from-url.json"), good);

    // Plain http:// to another machine is refused in the inventory, before anything is read.
    cr_bob(
        &env,
        "http://chain-registry.example.org/pion/chain.json",
        "",
    );
    fetch_cr(&env, "from-url.json")
        .failure()
        .stderr_has("chain_registry.sources.pion-1: uses plain http:// to another machine");
    assert_eq!(env.read("from-url.json"), good);
}

/// `chain_registry.seeds: true`: the valid `peers.seeds[]` of the consumer's chain.json are locked
/// into the snapshot (malformed ones skipped, each named) and rendered into `[p2p] seeds` with the
/// inventory's own `p2p.seeds`, sorted and deduplicated; a node never lists itself or one of its
/// persistent peers as a seed, and a validator node (PEX off: CometBFT ignores seeds) lists none.
#[test]
fn chain_registry_seeds_feed_p2p_seeds_without_self_or_persistent_peers() {
    let p = standard(&[], None);
    let env = Env::new();
    common(&env, &p.url(), "http://127.0.0.1:9", "");
    own_files(&env);
    let chain = repo_root().join("tests/data/chain-registry/chain.json");
    let cr = |seeds: &str| {
        env.write(
            "cr.yaml",
            &format!(
                "chain_registry:\n  sources:\n    pion-1: {}\n  providers: {{}}\n{seeds}consumers:\n  pion-1:\n    p2p:\n      seeds:\n        - e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0@seed.operator.example.org:26656\n        - c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0@seed.example.net:26656\n",
                chain.display()
            ),
        )
    };
    let inv = [
        "-i",
        "common.yaml",
        "-i",
        "alice.yaml",
        "-i",
        "bob.yaml",
        "-i",
        "cr.yaml",
    ];
    let fetch = |out: &str| {
        let mut args = vec!["fetch"];
        args.extend(inv);
        args.extend(["--out", out]);
        args.extend(FAST);
        run(&env, &args)
    };
    let render = |state: &str, out: &str| {
        let mut args = vec!["render"];
        args.extend(inv);
        args.extend(["--state", state, "--out", out]);
        run(&env, &args)
    };

    // Fetched without the opt-in, the snapshot holds no seeds; rendering with it asks for a fetch,
    // which then names each seed it adds.
    cr("");
    fetch("state.json").success();
    assert!(!env.read("state.json").contains("\"seeds\""));
    render("state.json", "plain").success();
    cr("  seeds: true\n");
    render("state.json", "x")
        .failure()
        .stderr_has("chain_registry.seeds, consumer 0 (pion-1): the snapshot holds no seeds read from this consumer's chain.json: run `peergen fetch` to read them");

    let fetched = fetch("state.json");
    fetched.success();
    let at = |i: usize| format!("{}: peers.seeds[{i}]: skipped: ", chain.display());
    fetched
        .stderr_has(&format!("{}\"c1c1\" is not a node ID", at(1)))
        .stderr_has(&format!("{}\"tcp://seed-url.example.net:26656\"", at(3)))
        .stderr_has(&format!(
            "{}not {{id, address, provider}}: unknown field `extra`",
            at(4)
        ))
        .stdout_has("chain-registry seed on consumer 0 added: c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0@seed.example.net:26656");
    assert!(!fetched.stderr.contains('\u{1b}'), "{}", fetched.stderr);
    let state: serde_json::Value = serde_json::from_str(&env.read("state.json")).unwrap();
    let ids: Vec<&str> = state["chain_registry"][0]["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            ALICE.node_id,
            "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
            "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0",
            "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4",
        ],
        "valid entries, sorted, the duplicate once"
    );

    render("state.json", "out").success();
    let tree = read_tree(&env.path("out"));
    let seeds_of = |path: &str| {
        tree[path]
            .lines()
            .find_map(|l| l.strip_prefix("seeds = "))
            .map(|l| {
                l.trim_matches('"')
                    .split(',')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
    };
    let peers_of = |path: &str| {
        tree[path]
            .lines()
            .find_map(|l| l.strip_prefix("persistent_peers = "))
            .unwrap()
            .to_owned()
    };
    for (path, own) in [
        ("alice/pion-1/p2p.toml", ALICE.node_id),
        (
            "bob/pion-1/us/p2p.toml",
            "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
        ),
        (
            "bob/pion-1/eu/p2p.toml",
            "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
        ),
    ] {
        let seeds = seeds_of(path).unwrap_or_else(|| panic!("{path}: no seeds"));
        let mut sorted = seeds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seeds, sorted, "{path}: sorted, each once");
        assert!(
            seeds.iter().any(|s| s.starts_with("e0e0")),
            "{path}: the inventory's seed"
        );
        assert!(
            seeds.iter().any(|s| s.starts_with("c4c4")),
            "{path}: the registry's seed"
        );
        for s in &seeds {
            let id = &s[..40];
            assert_ne!(id, own, "{path}: lists itself as a seed");
            assert!(
                !peers_of(path).contains(id),
                "{path}: {s} is a persistent peer too"
            );
        }
    }
    // bob's validator node has PEX off: CometBFT would not use seeds, so it gets none.
    assert_eq!(seeds_of("bob/pion-1/validator/p2p.toml"), None);
    // Consumers without a chain.json keep the inventory's seeds only (here: none).
    assert!(
        tree.iter()
            .all(|(k, v)| k.contains("/pion-1/") || !v.contains("seeds = "))
    );
    insta::assert_snapshot!("seeds_alice_pion", tree["alice/pion-1/p2p.toml"]);
    insta::assert_snapshot!("seeds_bob_us_pion", tree["bob/pion-1/us/p2p.toml"]);
    insta::assert_snapshot!(
        "seeds_bob_validator_pion",
        tree["bob/pion-1/validator/p2p.toml"]
    );
    // The independent CometBFT config parser reads the seeds back exactly.
    let mut checked = 0;
    for (path, text) in &tree {
        if path.ends_with("p2p.toml") {
            crate::cometbft::check_fragment(crate::cometbft::DEFAULT_CONFIG, text)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            checked += usize::from(text.contains("seeds = "));
        }
    }
    assert_eq!(checked, 3, "alice and bob's two sentries on pion-1");
    // Same inputs, same bytes.
    render("state.json", "again").success();
    assert_eq!(read_tree(&env.path("again")), tree);
}

/// A sentry of an inventory validator with `endpoint_source: registry`: its node ID and address
/// come from the key `<prefix>/<chain>/<operator>/<consumer>/<sentry>` (written here by the
/// sentry's own operator with etcdctl), while its `consumers:` and `srv:` keep applying. The
/// rendered fleet equals the one with the same sentry as a template; a missing entry on a consumer
/// it serves fails the fetch naming validator, sentry, consumer and key; `publish` writes the
/// validator's other sentries and never touches the registry-sourced one's keys.
#[test]
fn a_registry_sourced_sentry_takes_its_entry_and_publish_leaves_it_alone() {
    let p = standard(&[], None);
    let etcd = Etcd::start();
    let env = Env::new();
    common(&env, &p.url(), &etcd.url, "");
    own_files(&env);
    let bob = |us: &str| {
        format!(
            "validators:\n  bob:\n    operator_address: {}\n    node_id: {}\n    private_endpoint: 10.20.0.5:26656\n    sentries:\n      - name: eu\n        consumer_template: bob-eu-{{{{chain-id}}}}.example.org:{{{{port}}}}\n        node_id: b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n      - name: us\n        consumers: [pion-1]\n        srv: {{priority: 10}}\n{us}",
            BOB.op, BOB.node_id
        )
    };
    env.write(
        "bob-tpl.yaml",
        &bob("        consumer_template: bob-us-{{chain-id}}.example.org:26656\n        node_id: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"),
    );
    env.write("bob-reg.yaml", &bob("        endpoint_source: registry\n"));
    let us_key = key(BOB.op, "0", "us");
    let us_value = r#"{"node_id":"b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2","address":"bob-us-pion-1.example.org:26656","updated":"2026-11-30T00:00:00Z"}"#;
    etcd.ok(&["put", &us_key, us_value]);
    let fetch = |inv: &str, out: &str| {
        let mut args = vec![
            "fetch",
            "-i",
            "common.yaml",
            "-i",
            "alice.yaml",
            "-i",
            inv,
            "--out",
            out,
        ];
        args.extend(FAST);
        run(&env, &args)
    };
    // A zone, so the sentries' SRV records (with `srv:`) are rendered too.
    env.write(
        "dns.yaml",
        "dns:\n  default_zone: validators.example.org\n  zones:\n    validators.example.org:\n      hostmaster: hostmaster@validators.example.org\n      ns: [ns1.validators.example.org]\n  addresses:\n    ns1.validators.example.org: [198.51.100.53]\n",
    );
    let render = |inv: &str, state: &str, out: &str| {
        run(
            &env,
            &[
                "render",
                "-i",
                "common.yaml",
                "-i",
                "dns.yaml",
                "-i",
                "alice.yaml",
                "-i",
                inv,
                "--state",
                state,
                "--out",
                out,
            ],
        )
        .success();
        read_tree(&env.path(out))
    };
    fetch("bob-tpl.yaml", "tpl.json").success();
    fetch("bob-reg.yaml", "reg.json")
        .success()
        .stdout_has(&format!("registry peergen/{CHAIN}/ at revision "))
        .stdout_has(": 1 entries");
    let state: serde_json::Value = serde_json::from_str(&env.read("reg.json")).unwrap();
    let entries = state["registry"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["node"], "us");
    assert_eq!(entries[0]["consumer_id"], "0");
    let (tpl, reg) = (
        render("bob-tpl.yaml", "tpl.json", "tpl-out"),
        render("bob-reg.yaml", "reg.json", "reg-out"),
    );
    assert!(
        reg.contains_key("bob/pion-1/us/p2p.toml"),
        "{:?}",
        reg.keys()
    );
    assert!(
        reg["bob/pion-1/validator/p2p.toml"]
            .contains("b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2@bob-us-pion-1.example.org:26656")
    );
    // `consumers: [pion-1]` still applies: the sentry serves no other consumer.
    assert!(
        !reg.keys()
            .any(|k| k.starts_with("bob/") && k.contains("/us/") && !k.starts_with("bob/pion-1/"))
    );
    let zone = reg
        .iter()
        .find(|(k, _)| k.ends_with(".zone"))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no zone file: {:?}", reg.keys()));
    assert!(
        zone.lines().any(|l| l.contains("us.bob-pion-1")
            && l.contains("SRV")
            && l.contains(" 10 0 26656 ")),
        "{zone}"
    );
    assert_eq!(
        reg, tpl,
        "registry-sourced and template sentry render the same files"
    );

    // publish: bob's template sentry on every consumer; the registry-sourced one's key untouched.
    let rev = |k: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&etcd.ok(&["get", k, "-w", "json"])).unwrap();
        v["kvs"][0]["mod_revision"].as_u64().unwrap()
    };
    let us_rev = rev(&us_key);
    let publish = |extra: &[&str]| {
        let mut args = vec![
            "publish",
            "-i",
            "common.yaml",
            "-i",
            "bob-reg.yaml",
            "--state",
            "reg.json",
            "--self",
            "bob",
        ];
        args.extend(FAST);
        args.extend(extra);
        run(&env, &args)
    };
    let dry = publish(&["--dry-run"]);
    dry.success();
    let us_lines: Vec<&str> = dry.stdout.lines().filter(|l| l.contains("/us")).collect();
    assert_eq!(
        us_lines,
        [format!(
            "  {us_key} left as it is (a registry-sourced sentry: its publisher writes it)"
        )],
        "{}",
        dry.stdout
    );
    publish(&[])
        .success()
        .stdout_has(&format!("+ {}", key(BOB.op, "0", "eu")));
    let bob_keys = etcd.dump(&format!("peergen/{CHAIN}/{}/", BOB.op));
    assert!(
        bob_keys.contains(&format!("{us_key}={us_value}")),
        "{bob_keys:?}"
    );
    assert_eq!(
        rev(&us_key),
        us_rev,
        "the sentry's own key is not rewritten"
    );
    assert!(
        bob_keys
            .iter()
            .all(|k| k.contains("/eu=") || k.starts_with(&us_key)),
        "{bob_keys:?}"
    );
    publish(&[]).success().stdout_has("no changes");

    // The entry gone: the fetch names validator, sentry, consumer and key; the snapshot stays.
    etcd.ok(&["del", &us_key]);
    let good = env.read("reg.json");
    fetch("bob-reg.yaml", "reg.json").failure().stderr_has(&format!(
        "validators.bob.sentries.us (endpoint_source: registry), consumer 0 (pion-1): the registry (read at revision {}) has no entry at peergen/{CHAIN}/{}/0/us: the sentry's node ID and address have not been published for this consumer",
        etcd.revision(),
        BOB.op
    ));
    assert_eq!(env.read("reg.json"), good);
}
