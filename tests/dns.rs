//! DNS: zone files checked by `named-checkzone`, served by a real `named` on loopback, queried
//! with `dig`, resolved back into a snapshot and rendered; serial rule; injection rejected at load.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

const DAY1: &str = "1768046400"; // 2026-01-10 12:00 UTC
const DAY2: &str = "1768132800"; // 2026-01-11 12:00 UTC
const EARLIER: &str = "1767182400"; // 2025-12-31 12:00 UTC

fn run_at(env: &Env, epoch: &str, args: &[&str]) -> Run {
    let out = env
        .command()
        .env("SOURCE_DATE_EPOCH", epoch)
        .args(args)
        .output()
        .expect("run peergen");
    Run::from(out)
}

/// `named-checkzone` with every check that can fail set to fail, and no lookups beyond the zone.
#[track_caller]
fn checkzone(origin: &str, file: &Path) {
    let out = Command::new(tool("named-checkzone"))
        .args([
            "-i", "local", "-k", "fail", "-n", "fail", "-m", "fail", "-M", "fail", "-S", "fail",
        ])
        .arg(origin)
        .arg(file)
        .output()
        .expect("run named-checkzone");
    assert!(
        out.status.success(),
        "named-checkzone rejects {}:\n{}{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

fn serial_of(zone: &str) -> u32 {
    let soa = zone
        .lines()
        .find(|l| l.contains(" SOA "))
        .expect("SOA line");
    soa.split_whitespace().nth(5).unwrap().parse().unwrap()
}

#[test]
fn bundled_example_zone_passes_named_checkzone() {
    let env = Env::new();
    let inv = example_inventory();
    let run = run_at(
        &env,
        DAY1,
        &["render", "-i", inv.to_str().unwrap(), "--out", "out"],
    );
    run.success()
        .stderr_has("validator carol serves consumer 0 (pion-1) at IP address 203.0.113.10");
    let zone = env.path("out/dns/validators.zone.zone");
    checkzone("validators.zone", &zone);
    insta::assert_snapshot!("example_zone", env.read("out/dns/validators.zone.zone"));
}

const STATE: &str = r#"{
  "format": "peergen/provider-state/v1",
  "provider": { "chain_id": "cosmoshub-4", "height": 1, "ics_api": "v6" },
  "bonded_validators": [],
  "consumers": [
    { "consumer_id": "0", "chain_id": "pion-1", "phase": "launched", "top_n": 0, "opted_in": [],
      "validators": [
        { "operator_address": "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg", "valcons": "cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk", "moniker": "alice" },
        { "operator_address": "cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn", "valcons": "cosmosvalcons1znhu88l6dsvexunfem4u0392kwqyvdkrj66wph", "moniker": "bob" },
        { "operator_address": "cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm", "valcons": "cosmosvalcons1jnq3j55qe4f946qj8499w0tntxwz90atx26p4q", "moniker": "carol" }
      ] },
    { "consumer_id": "1", "chain_id": "neutron-1", "phase": "launched", "top_n": 0, "opted_in": [],
      "validators": [
        { "operator_address": "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg", "valcons": "cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk", "moniker": "alice" },
        { "operator_address": "cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn", "valcons": "cosmosvalcons1znhu88l6dsvexunfem4u0392kwqyvdkrj66wph", "moniker": "bob" }
      ] }
  ]
}
"#;

const DNS: &str = "dns:
  default_zone: validators.zone
  zones:
    validators.zone:
      ttl: 300
      hostmaster: dns.admin@validators.zone
      ns: [ns1.validators.zone]
  addresses:
    ns1.validators.zone: [127.0.0.1]
    alice-pion-1.validators.zone: [198.51.100.10]
    alice-neutron-1.validators.zone: [198.51.100.11, \"2001:470::11\"]
";

/// alice publishes in-zone targets, bob out-of-zone ones; carol's IP endpoint stays out of DNS.
fn publisher(extra_dns: &str) -> String {
    format!(
        "version: 1
validators:
  alice:
    operator_address: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg
    consumer_template: alice-{{{{chain-id}}}}.validators.zone:{{{{port}}}}
    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689
  bob:
    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn
    consumer_template: bob-{{{{chain-id}}}}.example.org:{{26700-26799}}
    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b
  carol:
    operator_address: cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm
    consumer_template: 203.0.113.10:{{{{port}}}}
    node_id: 7d5ae1d8b6e0a3f4c9b2d1e0f3a4b5c6d7e8f901
{DNS}{extra_dns}"
    )
}

/// The same validators, alice and bob looked up in DNS instead.
fn subscriber(service: &str) -> String {
    format!(
        "version: 1
validators:
  alice:
    operator_address: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg
    endpoint_source: dns
    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689
  bob:
    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn
    endpoint_source: dns
    dns_zone: validators.zone
    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b
  carol:
    operator_address: cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm
    consumer_template: 203.0.113.10:{{{{port}}}}
    node_id: 7d5ae1d8b6e0a3f4c9b2d1e0f3a4b5c6d7e8f901
dns:
  service: {service}
  default_zone: validators.zone
  zones:
    validators.zone:
      hostmaster: hostmaster@validators.zone
      ns: [ns1.example.net]
"
    )
}

#[test]
fn serial_kept_when_unchanged_bumped_when_changed_never_backwards() {
    let env = Env::new();
    env.write("state.json", STATE);
    env.write("inv.yaml", &publisher(""));
    let render = |epoch: &str| {
        run_at(
            &env,
            epoch,
            &[
                "render",
                "-i",
                "inv.yaml",
                "--state",
                "state.json",
                "--out",
                "out",
            ],
        )
        .success()
        .stdout
        .clone()
    };
    let zone_path = env.path("out/dns/validators.zone.zone");
    let zone = || env.read("out/dns/validators.zone.zone");

    render(DAY1);
    checkzone("validators.zone", &zone_path);
    let first = zone();
    assert_eq!(serial_of(&first), 2026011000);

    // Unchanged inputs, a day later: not one byte changes.
    let out = render(DAY2);
    assert!(out.contains(" 0 written"), "{out}");
    assert_eq!(zone(), first);

    // Changed records on day 1: YYYYMMDD00 of day 1 is taken, so old + 1.
    env.write(
        "inv.yaml",
        &publisher("    extra.validators.zone: [198.51.100.99]\n"),
    );
    render(DAY1);
    checkzone("validators.zone", &zone_path);
    assert_eq!(serial_of(&zone()), 2026011001);
    assert!(zone().contains("extra  ") && zone().contains("198.51.100.99"));

    // Changed again the same day: + 1 again.
    env.write(
        "inv.yaml",
        &publisher("    extra.validators.zone: [198.51.100.98]\n"),
    );
    render(DAY1);
    checkzone("validators.zone", &zone_path);
    assert_eq!(serial_of(&zone()), 2026011002);

    // A clock behind the committed serial still moves it forward.
    env.write(
        "inv.yaml",
        &publisher("    extra.validators.zone: [198.51.100.97]\n"),
    );
    render(EARLIER);
    assert_eq!(serial_of(&zone()), 2026011003);

    // A new day after a change: YYYYMMDD00 of that day.
    env.write("inv.yaml", &publisher(""));
    render(DAY2);
    checkzone("validators.zone", &zone_path);
    assert_eq!(serial_of(&zone()), 2026011100);
    assert_eq!(zone().replace("2026011100", "2026011000"), first);
}

#[test]
fn bad_source_date_epoch_is_an_error() {
    let env = Env::new();
    env.write("state.json", STATE);
    env.write("inv.yaml", &publisher(""));
    run_at(
        &env,
        "yesterday",
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .failure()
    .stderr_has("SOURCE_DATE_EPOCH=\"yesterday\"");
}

/// An epoch whose date cannot make a 32-bit `YYYYMMDDnn` serial is named as the problem, with the
/// valid range, even when the zone is unchanged (it used to blame the committed serial instead).
#[test]
fn out_of_range_source_date_epoch_is_named_not_blamed_on_the_serial() {
    let env = Env::new();
    env.write("state.json", STATE);
    env.write("inv.yaml", &publisher(""));
    let args = [
        "render",
        "-i",
        "inv.yaml",
        "--state",
        "state.json",
        "--out",
        "out",
    ];
    run_at(&env, DAY1, &args).success();
    let before = env.read("out/dns/validators.zone.zone");
    let run = run_at(&env, "99999999999999", &args);
    run.failure()
        .stderr_has("SOURCE_DATE_EPOCH=\"99999999999999\"")
        .stderr_has("from 0 to 73369929599");
    assert!(
        !run.stderr.contains("cannot move forward"),
        "{}",
        run.stderr
    );
    assert_eq!(env.read("out/dns/validators.zone.zone"), before);
    // The last valid second still renders, and an unchanged zone keeps its serial.
    run_at(&env, "73369929599", &args).success();
    assert_eq!(env.read("out/dns/validators.zone.zone"), before);
}

#[test]
fn own_lint_rejects_what_named_checkzone_accepts() {
    let env = Env::new();
    env.write("state.json", STATE);
    // An SRV target that is an alias: named-checkzone only warns about it.
    env.write(
        "inv.yaml",
        &publisher("  aliases:\n    alice-pion-1.validators.zone: lb.example.net\n")
            .replace("    alice-pion-1.validators.zone: [198.51.100.10]\n", ""),
    );
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .failure()
    .stderr_has("zone validators.zone fails peergen's zone lint")
    .stderr_has("SRV target alice-pion-1.validators.zone. is a CNAME in this zone");
    assert!(
        !env.path("out").exists(),
        "nothing may be written when the lint fails"
    );

    // An in-zone target without an address.
    env.write(
        "inv.yaml",
        &publisher("").replace(
            "    alice-neutron-1.validators.zone: [198.51.100.11, \"2001:470::11\"]\n",
            "",
        ),
    );
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .failure()
    .stderr_has("alice-neutron-1.validators.zone. is inside the zone but has no A/AAAA record");

    // A chain id that makes a fine host name but cannot be part of one owner label.
    env.write("state.json", &STATE.replace("neutron-1", "neutron.1"));
    let namespace = "version: 1\ndefaults:\n  namespace: \"{{validator}}-c{{consumer_id}}\"\n";
    env.write(
        "inv.yaml",
        &publisher("").replacen("version: 1\n", namespace, 1),
    );
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .failure()
    .stderr_has("validator alice consumer 1 (neutron.1)")
    .stderr_has("cannot be a DNS label");
}

#[test]
fn injection_into_every_zone_bound_field_is_rejected_at_load() {
    let env = Env::new();
    env.write("state.json", STATE);
    let payloads = [
        "a b", "a;b", "a\\\"b", "a$b", "a(b", "a)b", "a\\nb", "a\\\\b",
    ];
    let base = publisher("  aliases:\n    www.validators.zone: web.example.net\n");
    // (field named in the error, text to replace, replacement with PAYLOAD)
    let cases: &[(&str, &str, &str)] = &[
        (
            "dns.default_zone",
            "default_zone: validators.zone",
            "default_zone: \"PAYLOAD\"",
        ),
        (
            "dns.zones",
            "    validators.zone:\n",
            "    \"PAYLOAD.zone\":\n",
        ),
        (
            "dns.zones.validators.zone.hostmaster",
            "hostmaster: dns.admin@validators.zone",
            "hostmaster: \"PAYLOAD@validators.zone\"",
        ),
        (
            "dns.zones.validators.zone.hostmaster",
            "hostmaster: dns.admin@validators.zone",
            "hostmaster: \"dns@PAYLOAD.zone\"",
        ),
        (
            "dns.zones.validators.zone.ns",
            "ns: [ns1.validators.zone]",
            "ns: [\"PAYLOAD.validators.zone\"]",
        ),
        (
            "dns.zones.validators.zone.ttl",
            "ttl: 300",
            "ttl: \"300 PAYLOAD\"",
        ),
        (
            "dns.addresses",
            "    ns1.validators.zone: [127.0.0.1]",
            "    \"PAYLOAD.validators.zone\": [127.0.0.1]",
        ),
        (
            "dns.addresses.ns1.validators.zone",
            "[127.0.0.1]",
            "[\"127.0.0.1 PAYLOAD\"]",
        ),
        (
            "dns.aliases",
            "    www.validators.zone: web",
            "    \"PAYLOAD.validators.zone\": web",
        ),
        (
            "dns.aliases.www.validators.zone",
            "web.example.net",
            "\"PAYLOAD.example.net\"",
        ),
        (
            "validators.alice.consumer_template",
            "alice-{{chain-id}}.validators.zone:{{port}}",
            "\"PAYLOAD-{{chain-id}}.validators.zone:{{port}}\"",
        ),
    ];
    let extra: &[(&str, &str, &str)] = &[
        ("dns.service", "dns:\n", "dns:\n  service: \"PAYLOAD\"\n"),
        ("dns.protocol", "dns:\n", "dns:\n  protocol: \"PAYLOAD\"\n"),
        (
            "dns.zones.validators.zone.primary_ns",
            "      ttl: 300\n",
            "      ttl: 300\n      primary_ns: \"PAYLOAD.zone\"\n",
        ),
        (
            "validators.bob.dns_zone",
            "  bob:\n",
            "  bob:\n    dns_zone: \"PAYLOAD\"\n",
        ),
        (
            "validators.bob.endpoint_source",
            "  bob:\n",
            "  bob:\n    endpoint_source: \"PAYLOAD\"\n",
        ),
    ];
    let mut checked = 0;
    for (field, from, to) in cases.iter().chain(extra) {
        assert!(base.contains(from), "{from:?} not in the base inventory");
        for payload in payloads {
            let text = base.replacen(from, &to.replace("PAYLOAD", payload), 1);
            env.write("inv.yaml", &text);
            let run = run_at(
                &env,
                DAY1,
                &["check", "-i", "inv.yaml", "--state", "state.json"],
            );
            run.failure().stderr_has("inv.yaml:").stderr_has(field);
            checked += 1;
        }
    }
    assert_eq!(checked, (cases.len() + extra.len()) * payloads.len());
    env.write("inv.yaml", &base);
    run_at(
        &env,
        DAY1,
        &["check", "-i", "inv.yaml", "--state", "state.json"],
    )
    .success();
}

#[test]
fn endpoint_source_dns_rules_at_load_and_plan() {
    let env = Env::new();
    env.write("state.json", STATE);
    let sub = subscriber("cosmos-p2p");
    env.write(
        "inv.yaml",
        &sub.replace(
            "    endpoint_source: dns\n    node_id: 529a",
            "    endpoint_source: dns\n    consumer_template: a.example.com\n    node_id: 529a",
        ),
    );
    run_at(
        &env,
        DAY1,
        &["check", "-i", "inv.yaml", "--state", "state.json"],
    )
    .failure()
    .stderr_has("validators.alice.consumer_template: conflicts with `endpoint_source: dns`");
    env.write(
        "inv.yaml",
        &sub.replace(
            "    endpoint_source: dns\n    node_id: 529a",
            "    endpoint_source: dns\n    ports: 26656\n    node_id: 529a",
        ),
    );
    run_at(
        &env,
        DAY1,
        &["check", "-i", "inv.yaml", "--state", "state.json"],
    )
    .failure()
    .stderr_has("validators.alice.ports: does not apply with `endpoint_source: dns`");
    env.write(
        "inv.yaml",
        &sub.replace("  default_zone: validators.zone\n", ""),
    );
    run_at(
        &env,
        DAY1,
        &["check", "-i", "inv.yaml", "--state", "state.json"],
    )
    .failure()
    .stderr_has("validators.alice.endpoint_source: `dns` needs a zone");
    env.write(
        "inv.yaml",
        &sub.replace(
            "    dns_zone: validators.zone\n",
            "    dns_zone: other.zone\n",
        ),
    );
    run_at(
        &env,
        DAY1,
        &["check", "-i", "inv.yaml", "--state", "state.json"],
    )
    .failure()
    .stderr_has("validators.bob.dns_zone: other.zone is not one of dns.zones");
    // Offline commands never resolve: a missing snapshot entry names validator, consumer and the fix.
    env.write("inv.yaml", &sub);
    run_at(&env, DAY1, &["render", "-i", "inv.yaml", "--state", "state.json", "--out", "out"])
        .failure()
        .stderr_has("validators.alice (endpoint_source: dns), consumer 0 (pion-1): the snapshot has no resolved endpoint for _cosmos-p2p._tcp.alice-pion-1.validators.zone")
        .stderr_has("run `peergen resolve`");
}

/// A `named` serving one directory of zones on a loopback port; killed on drop.
pub(crate) struct Named {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for named");
}

pub(crate) fn start_named(zones: &[(&str, PathBuf)]) -> Named {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut conf = format!(
        "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  managed-keys-directory \"{d}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n  notify no;\n  dnssec-validation no;\n}};\ncontrols {{ }};\n",
        d = dir.path().display()
    );
    for (origin, file) in zones {
        let copy = dir.path().join(format!("{origin}.zone"));
        std::fs::copy(file, &copy).unwrap();
        conf.push_str(&format!(
            "zone \"{origin}\" {{ type primary; file \"{}\"; }};\n",
            copy.display()
        ));
    }
    let conf_path = dir.path().join("named.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
    let child = Command::new(tool("named"))
        .args(["-g", "-4", "-n", "1", "-c"])
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start named");
    let named = Named {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(named._dir.path().join("named.log")).unwrap_or_default();
        if log.contains("running") {
            return named;
        }
        assert!(
            Instant::now() < deadline && !log.contains("exiting"),
            "named did not start:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn dig_srv(port: u16, name: &str) -> Vec<String> {
    let out = Command::new(tool("dig"))
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+norecurse",
            "+time=2",
            "+tries=2",
            "SRV",
            name,
        ])
        .output()
        .expect("run dig");
    assert!(
        out.status.success(),
        "dig failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `check` prints `  <validator>  <node>@<host>:<port>` under each consumer line.
fn endpoints_from_check(stdout: &str) -> Vec<(String, String, String)> {
    let mut consumer = String::new();
    let mut out = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("consumer ") {
            consumer = rest
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
        } else if let Some(rest) = line.strip_prefix("  ")
            && let [validator, peer] = rest.split_whitespace().collect::<Vec<_>>()[..]
            && let Some((_, endpoint)) = peer.split_once('@')
        {
            out.push((validator.to_owned(), consumer.clone(), endpoint.to_owned()));
        }
    }
    out
}

#[test]
fn named_serves_the_zone_and_resolve_reproduces_the_peers() {
    let env = Env::new();
    env.write("state.json", STATE);
    env.write("publisher.yaml", &publisher(""));
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "publisher.yaml",
            "--state",
            "state.json",
            "--out",
            "first",
        ],
    )
    .success();
    let zone = env.path("first/dns/validators.zone.zone");
    checkzone("validators.zone", &zone);
    let named = start_named(&[("validators.zone", zone)]);

    // Every (validator, consumer) with a host-name endpoint is published with its planned port.
    let check = run_at(
        &env,
        DAY1,
        &["check", "-i", "publisher.yaml", "--state", "state.json"],
    );
    let planned = endpoints_from_check(&check.success().stdout);
    assert_eq!(planned.len(), 5, "{planned:?}");
    for (validator, chain, endpoint) in &planned {
        let answers = dig_srv(
            named.port,
            &format!("_cosmos-p2p._tcp.{validator}-{chain}.validators.zone"),
        );
        if validator == "carol" {
            assert!(
                answers.is_empty(),
                "IP endpoints get no SRV record: {answers:?}"
            );
            continue;
        }
        let (host, port) = endpoint.rsplit_once(':').unwrap();
        assert_eq!(
            answers,
            vec![format!("0 0 {port} {host}.")],
            "{validator} {chain}"
        );
    }

    // The subscriber inventory looks the same endpoints up and renders the same peers.
    env.write("subscriber.yaml", &subscriber("cosmos-p2p"));
    env.write("sub-state.json", STATE);
    let ns = format!("127.0.0.1:{}", named.port);
    run_at(
        &env,
        DAY1,
        &[
            "resolve",
            "-i",
            "subscriber.yaml",
            "--state",
            "sub-state.json",
            "--nameserver",
            &ns,
            "--timeout",
            "2",
        ],
    )
    .success()
    .stdout_has("resolved 4 SRV records into sub-state.json");
    let snapshot = env.read("sub-state.json");
    assert!(
        snapshot.contains("\"query\": \"_cosmos-p2p._tcp.alice-pion-1.validators.zone\""),
        "{snapshot}"
    );
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "subscriber.yaml",
            "--state",
            "sub-state.json",
            "--out",
            "second",
        ],
    )
    .success();
    let strip_dns = |dir: &str| {
        let mut t = read_tree(&env.path(dir));
        t.retain(|k, _| !k.starts_with("dns/") && k != ".peergen-manifest");
        t
    };
    let (first, second) = (strip_dns("first"), strip_dns("second"));
    assert!(first.keys().any(|k| k.ends_with("p2p.toml")));
    assert_eq!(first, second);

    // Resolving again changes nothing; an unresolvable name fails and leaves the snapshot intact.
    run_at(
        &env,
        DAY1,
        &[
            "resolve",
            "-i",
            "subscriber.yaml",
            "--state",
            "sub-state.json",
            "--nameserver",
            &ns,
        ],
    )
    .success();
    assert_eq!(env.read("sub-state.json"), snapshot);
    env.write("subscriber.yaml", &subscriber("other-p2p"));
    run_at(&env, DAY1, &["resolve", "-i", "subscriber.yaml", "--state", "sub-state.json", "--nameserver", &ns, "--timeout", "2"])
        .failure()
        .stderr_has("validator alice, consumer 0 (pion-1): SRV _other-p2p._tcp.alice-pion-1.validators.zone: no such name (NXDOMAIN)");
    assert_eq!(env.read("sub-state.json"), snapshot);
    // The snapshot's answers no longer match the names the inventory asks for.
    run_at(&env, DAY1, &["render", "-i", "subscriber.yaml", "--state", "sub-state.json", "--out", "third"])
        .failure()
        .stderr_has("resolved from _cosmos-p2p._tcp.alice-pion-1.validators.zone but the inventory now names _other-p2p");
}

/// Validator `alice` on chain `pion-1` and validator `alice-pion` on chain `1` both make the label
/// `alice-pion-1`: render and resolve refuse, naming both pairs, instead of mixing two peers in
/// one RRset (or handing both the same answer).
#[test]
fn srv_owner_collisions_are_refused_naming_both_pairs() {
    let env = Env::new();
    env.write("state.json", &STATE.replace("\"neutron-1\"", "\"1\""));
    let inventory = |source: &str| {
        format!(
            "version: 1
validators:
  alice:
    operator_address: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg
    {source}
    node_id: 529a2b1b52c1a79a57989bb89630c08d1aaaa689
  alice-pion:
    operator_address: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn
    {}
    node_id: e326eeb620fccafb2391a9df7f5b71d3f101dd5b
dns:
  default_zone: validators.zone
  zones:
    validators.zone:
      hostmaster: hostmaster@validators.zone
      ns: [ns1.example.net]
",
            source.replace("alice-", "other-")
        )
    };
    let both = "SRV name _cosmos-p2p._tcp.alice-pion-1.validators.zone belongs to both validator alice, consumer 0 (pion-1) and validator alice-pion, consumer 1 (1)";

    env.write(
        "publisher.yaml",
        &inventory("consumer_template: alice-{{chain-id}}.example.org:{{port}}"),
    );
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "publisher.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .failure()
    .stderr_has(both)
    .stderr_has("rename one of the two validators");
    assert!(!env.path("out/dns").exists());
    // `check` and `render --self` build no zone and still refuse.
    run_at(
        &env,
        DAY1,
        &["check", "-i", "publisher.yaml", "--state", "state.json"],
    )
    .failure()
    .stderr_has(both);
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "publisher.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
            "--self",
            "alice",
        ],
    )
    .failure()
    .stderr_has(both);

    // Fails before any query: the nameserver is a socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ns = silent.local_addr().unwrap().to_string();
    env.write("subscriber.yaml", &inventory("endpoint_source: dns"));
    let state = env.read("state.json");
    run_at(
        &env,
        DAY1,
        &[
            "resolve",
            "-i",
            "subscriber.yaml",
            "--state",
            "state.json",
            "--nameserver",
            &ns,
            "--timeout",
            "5",
        ],
    )
    .failure()
    .stderr_has(both);
    assert_eq!(env.read("state.json"), state);
}

/// A snapshot entry no DNS-sourced validator × consumer takes its endpoint from any more is named
/// in a warning by `check` and `render`, while the entries in use are not.
#[test]
fn unused_resolved_endpoints_are_warned_about() {
    let env = Env::new();
    let entry = |validator: &str, consumer: &str, chain: &str, host: &str| {
        format!(
            r#"{{ "validator": "{validator}", "consumer_id": "{consumer}", "query": "_cosmos-p2p._tcp.{validator}-{chain}.validators.zone", "host": "{host}", "port": 26656 }}"#
        )
    };
    let entries = [
        entry("alice", "0", "pion-1", "alice-pion-1.example.org"),
        entry("alice", "1", "neutron-1", "alice-neutron-1.example.org"),
        entry("bob", "0", "pion-1", "bob-pion-1.example.org"),
        entry("bob", "1", "neutron-1", "bob-neutron-1.example.org"),
        entry("dave", "1", "neutron-1", "dave.example.org"),
    ];
    let state = STATE.replacen(
        "\n  ]\n}\n",
        &format!(
            "\n  ],\n  \"resolved_endpoints\": [\n    {}\n  ]\n}}\n",
            entries.join(",\n    ")
        ),
        1,
    );
    assert_ne!(state, STATE);
    env.write("state.json", &state);
    env.write("subscriber.yaml", &subscriber("cosmos-p2p"));
    let dave = "resolved_endpoints entry for validator dave, consumer 1 (SRV _cosmos-p2p._tcp.dave-neutron-1.validators.zone -> dave.example.org:26656) is used by no validator and consumer any more";
    for args in [
        &["check", "-i", "subscriber.yaml", "--state", "state.json"][..],
        &[
            "render",
            "-i",
            "subscriber.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    ] {
        let run = run_at(&env, DAY1, args);
        run.success().stderr_has(dave);
        assert_eq!(
            run.stderr.matches("resolved_endpoints entry").count(),
            1,
            "{}",
            run.stderr
        );
    }
    // Once alice serves its peers from a template, her entries are stale too.
    env.write(
        "subscriber.yaml",
        &subscriber("cosmos-p2p").replacen(
            "endpoint_source: dns",
            "consumer_template: alice-{{chain-id}}.example.org:{{port}}",
            1,
        ),
    );
    let run = run_at(
        &env,
        DAY1,
        &["check", "-i", "subscriber.yaml", "--state", "state.json"],
    );
    run.success()
        .stderr_has("entry for validator alice, consumer 0 (SRV _cosmos-p2p._tcp.alice-pion-1.validators.zone")
        .stderr_has("entry for validator alice, consumer 1 (SRV _cosmos-p2p._tcp.alice-neutron-1.validators.zone");
    assert_eq!(
        run.stderr.matches("resolved_endpoints entry").count(),
        3,
        "{}",
        run.stderr
    );
}

#[test]
fn resolve_times_out_against_a_silent_server() {
    let env = Env::new();
    env.write("state.json", STATE);
    env.write("subscriber.yaml", &subscriber("cosmos-p2p"));
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ns = silent.local_addr().unwrap().to_string();
    run_at(
        &env,
        DAY1,
        &[
            "resolve",
            "-i",
            "subscriber.yaml",
            "--state",
            "state.json",
            "--nameserver",
            &ns,
            "--timeout",
            "1",
        ],
    )
    .failure()
    .stderr_has("validator alice, consumer 0 (pion-1)")
    .stderr_has("no answer from");
    assert_eq!(env.read("state.json"), STATE);
}

#[test]
fn validators_publish_into_their_own_zone() {
    let env = Env::new();
    env.write("state.json", STATE);
    let inv = publisher(
        "    ops.zone: [192.0.2.53]\n    ns.ops.zone: [192.0.2.54]\n",
    )
    .replace(
        "  addresses:\n",
        "    ops.zone:\n      hostmaster: ops@example.net\n      ns: [ns.ops.zone]\n      primary_ns: ns.ops.zone\n      refresh: 7200\n      negative_ttl: 60\n  addresses:\n",
    )
    .replace("  bob:\n", "  bob:\n    dns_zone: ops.zone\n");
    env.write("inv.yaml", &inv);
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--out",
            "out",
        ],
    )
    .success();
    checkzone("validators.zone", &env.path("out/dns/validators.zone.zone"));
    checkzone("ops.zone", &env.path("out/dns/ops.zone.zone"));
    let (validators, ops) = (
        env.read("out/dns/validators.zone.zone"),
        env.read("out/dns/ops.zone.zone"),
    );
    assert!(
        validators.contains("_cosmos-p2p._tcp.alice-pion-1 ") && !validators.contains("bob-"),
        "{validators}"
    );
    assert!(
        ops.contains("_cosmos-p2p._tcp.bob-neutron-1 ") && !ops.contains("alice-"),
        "{ops}"
    );
    assert!(
        ops.contains("IN SOA    ns.ops.zone. ops.example.net. 2026011000 7200 600 604800 60"),
        "{ops}"
    );
    // The apex address sits in the apex block, not as a second `@` owner.
    assert_eq!(ops.matches('@').count(), 1, "{ops}");
    assert!(ops.contains("IN A      192.0.2.53"), "{ops}");
    // A single validator's render leaves the shared zones alone.
    run_at(
        &env,
        DAY1,
        &[
            "render",
            "-i",
            "inv.yaml",
            "--state",
            "state.json",
            "--self",
            "alice",
            "--out",
            "self",
        ],
    )
    .success();
    assert!(env.path("self/alice/pion-1/p2p.toml").is_file());
    assert!(!env.path("self/dns").exists());
}
