//! `peergen probe` against real peers on loopback: test peers speak CometBFT's SecretConnection
//! (tendermint-p2p, as the remote side) with known node keys, or misbehave (another key, another
//! network, a closed port, silence, garbage); own nodes' RPC is a local HTTP server answering
//! CometBFT's documented `/status` and `/net_info` shapes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use prost::Message as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tendermint_p2p::secret_connection::{DATA_MAX_SIZE, SecretConnection, Version};
use tendermint_proto::v0_38::p2p::{DefaultNodeInfo, ProtocolVersion};

use crate::harness::{Env, Run, tool};

const CHAIN: &str = "probe-1";

/// Long enough for a loaded 2-core machine to answer on loopback, short enough for the silent
/// peer's timeout not to slow the suite.
const TIMEOUT: &str = "2";

/// A node key as CometBFT writes `node_key.json`: base64 of the 32-byte seed and the public key.
fn node_key_json(key: &ed25519_consensus::SigningKey) -> String {
    let mut bytes = key.to_bytes().to_vec();
    bytes.extend_from_slice(key.verification_key().as_bytes());
    format!(
        r#"{{"priv_key":{{"type":"tendermint/PrivKeyEd25519","value":"{}"}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The node ID of a `node_key.json`, derived here independently of peergen and tendermint-p2p:
/// hex of the first 20 bytes of sha256 of the public key (the key file's last 32 bytes).
fn node_id_of(node_key_json: &str) -> String {
    let doc: Value = serde_json::from_str(node_key_json).unwrap();
    let value = doc["priv_key"]["value"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    assert_eq!(bytes.len(), 64);
    hex::encode(&Sha256::digest(&bytes[32..])[..20])
}

fn new_key() -> ed25519_consensus::SigningKey {
    ed25519_consensus::SigningKey::new(rand_core::OsRng)
}

/// A node key from a fixed seed, so that reports naming its ID can be snapshotted.
fn known_key(seed: u8) -> ed25519_consensus::SigningKey {
    ed25519_consensus::SigningKey::from([seed; 32])
}

#[derive(Clone)]
enum Behaviour {
    /// Completes the handshake with this key and announces this network.
    Cometbft {
        key: ed25519_consensus::SigningKey,
        network: String,
    },
    /// Completes the handshake on the planned network with this moniker and version.
    Announcing {
        key: ed25519_consensus::SigningKey,
        moniker: String,
        version: String,
    },
    /// Accepts and never sends a byte.
    Silent,
    /// Answers with bytes that are not a handshake.
    Garbage,
    /// Completes the key exchange, then sends its authentication in a 200-byte chunk where
    /// tendermint-p2p 0.41.0 reads exactly 103 bytes: the library panics on the probe's side.
    OversizedAuth,
}

/// A test peer listening on `ip`; it serves every connection in a thread and records the
/// `NodeInfo` the probe sent.
struct Peer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<DefaultNodeInfo>>>,
}

fn spawn_peer(ip: &str, behaviour: Behaviour) -> Peer {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            match &behaviour {
                Behaviour::Silent => held.push(stream),
                Behaviour::Garbage => {
                    // Read the probe's ephemeral key first, so closing sends FIN and not RST.
                    let mut s = stream;
                    let mut key = [0u8; 35];
                    let _ = s.read_exact(&mut key);
                    let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                }
                Behaviour::Cometbft { key, network } => {
                    let (key, network, seen) = (key.clone(), network.clone(), seen.clone());
                    std::thread::spawn(move || {
                        serve_cometbft(stream, key, (&network, "test-peer", "0.38.17"), &seen)
                    });
                }
                Behaviour::Announcing {
                    key,
                    moniker,
                    version,
                } => {
                    let (key, moniker, version, seen) =
                        (key.clone(), moniker.clone(), version.clone(), seen.clone());
                    std::thread::spawn(move || {
                        serve_cometbft(stream, key, (CHAIN, &moniker, &version), &seen)
                    });
                }
                Behaviour::OversizedAuth => {
                    std::thread::spawn(move || serve_oversized_auth(stream));
                }
            }
        }
    });
    Peer { addr, received }
}

fn serve_cometbft(
    stream: TcpStream,
    key: ed25519_consensus::SigningKey,
    (network, moniker, version): (&str, &str, &str),
    seen: &Mutex<Vec<DefaultNodeInfo>>,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let id = hex::encode(&Sha256::digest(key.verification_key().as_bytes())[..20]);
    let Ok(mut conn) = SecretConnection::new(stream, key, Version::V0_34) else {
        return;
    };
    let info = DefaultNodeInfo {
        protocol_version: Some(ProtocolVersion {
            p2p: 8,
            block: 11,
            app: 0,
        }),
        default_node_id: id,
        listen_addr: "tcp://0.0.0.0:26656".to_owned(),
        network: network.to_owned(),
        version: version.to_owned(),
        channels: vec![0x40, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x00],
        moniker: moniker.to_owned(),
        other: None,
    };
    if conn
        .write_all(&info.encode_length_delimited_to_vec())
        .is_err()
    {
        return;
    }
    let mut frame = [0u8; DATA_MAX_SIZE];
    if let Ok(n) = conn.read(&mut frame)
        && let Ok(theirs) = DefaultNodeInfo::decode_length_delimited(&frame[..n])
    {
        seen.lock().unwrap().push(theirs);
    }
}

fn serve_oversized_auth(mut stream: TcpStream) {
    use chacha20poly1305::aead::{AeadInPlace, KeyInit, generic_array::GenericArray};
    use curve25519_dalek_ng::constants::X25519_BASEPOINT;
    use curve25519_dalek_ng::montgomery::MontgomeryPoint;
    use curve25519_dalek_ng::scalar::Scalar;
    use tendermint_p2p::secret_connection::Kdf;

    let mut hello = [0u8; 35];
    if stream.read_exact(&mut hello).is_err() {
        return;
    }
    let secret = Scalar::from_bytes_mod_order([7; 32]);
    let ours = X25519_BASEPOINT * secret;
    let mut reply = vec![0x22, 0x0a, 0x20];
    reply.extend_from_slice(ours.as_bytes());
    let theirs = MontgomeryPoint(hello[3..].try_into().unwrap());
    let shared = secret * theirs;
    let kdf =
        Kdf::derive_secrets_and_challenge(shared.as_bytes(), ours.as_bytes() < theirs.as_bytes());
    let mut frame = [0u8; 4 + DATA_MAX_SIZE];
    frame[..4].copy_from_slice(&200u32.to_le_bytes());
    let tag = chacha20poly1305::ChaCha20Poly1305::new(&kdf.send_secret.into())
        .encrypt_in_place_detached(GenericArray::from_slice(&[0u8; 12]), b"", &mut frame)
        .unwrap();
    let _ = stream
        .write_all(&reply)
        .and_then(|()| stream.write_all(&frame))
        .and_then(|()| stream.write_all(&tag));
    let mut sink = [0u8; 2048];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// A bech32 operator address for test validator `i`.
fn operator(i: u32) -> String {
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&i.to_be_bytes());
    bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("cosmosvaloper").unwrap(), &bytes).unwrap()
}

/// One planned validator: name, P2P endpoint, the node ID the inventory names, and extra lines.
struct Planned {
    name: String,
    endpoint: String,
    node_id: String,
    extra: String,
}

fn planned(name: &str, endpoint: impl ToString, node_id: &str) -> Planned {
    Planned {
        name: name.to_owned(),
        endpoint: endpoint.to_string(),
        node_id: node_id.to_owned(),
        extra: String::new(),
    }
}

/// Writes an inventory and a snapshot in which every validator is in consumer 0's set.
fn write_inputs(env: &Env, validators: &[Planned], defaults: &str) {
    let mut inv = format!(
        "version: 1\ndefaults:\n  selection: consumer-validators\n  p2p:\n    addr_book_strict: false\n{defaults}validators:\n"
    );
    let mut members = Vec::new();
    for (i, v) in validators.iter().enumerate() {
        let op = operator(i as u32 + 1);
        inv.push_str(&format!(
            "  {}:\n    operator_address: {op}\n    consumer_template: \"{}\"\n    node_id: {}\n{}",
            v.name, v.endpoint, v.node_id, v.extra
        ));
        members.push(format!(
            r#"{{"operator_address": "{op}", "valcons": "x", "moniker": "{}"}}"#,
            v.name
        ));
    }
    env.write("inventory.yaml", &inv);
    env.write(
        "state.json",
        &format!(
            r#"{{"format": "peergen/provider-state/v1", "provider": {{"chain_id": "p", "height": 1}},
            "bonded_validators": [], "consumers": [
              {{"consumer_id": "0", "chain_id": "{CHAIN}", "phase": "launched", "top_n": 0, "opted_in": [],
                "validators": [{}]}}]}}"#,
            members.join(",")
        ),
    );
}

fn probe(env: &Env, extra: &[&str]) -> Run {
    let mut args = vec![
        "probe",
        "-i",
        "inventory.yaml",
        "--state",
        "state.json",
        "--timeout",
        TIMEOUT,
    ];
    args.extend_from_slice(extra);
    env.run(args)
}

/// The six peers of the issue on loopback, each on an address of its own.
struct Network {
    env: Env,
    ok_id: String,
    other_id: String,
    peers: Vec<Peer>,
    ports: Vec<u16>,
}

fn network() -> Network {
    let env = Env::new();
    let known = known_key(1);
    let key_file = node_key_json(&known);
    env.write("node_key.json", &key_file);
    let ok_id = node_id_of(&key_file);
    let other = known_key(2);
    let other_id = node_id_of(&node_key_json(&other));
    let ok = spawn_peer(
        "127.0.0.11",
        Behaviour::Cometbft {
            key: known,
            network: CHAIN.to_owned(),
        },
    );
    let impostor = spawn_peer(
        "127.0.0.12",
        Behaviour::Cometbft {
            key: other,
            network: CHAIN.to_owned(),
        },
    );
    let wrong_key = known_key(3);
    let wrong_id = node_id_of(&node_key_json(&wrong_key));
    let elsewhere = spawn_peer(
        "127.0.0.13",
        Behaviour::Cometbft {
            key: wrong_key,
            network: "other-chain-7".to_owned(),
        },
    );
    let closed = TcpListener::bind("127.0.0.14:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = spawn_peer("127.0.0.15", Behaviour::Silent);
    let garbage = spawn_peer("127.0.0.16", Behaviour::Garbage);
    let trap = spawn_peer("127.0.0.17", Behaviour::OversizedAuth);
    let validators = [
        planned("a-ok", ok.addr, &ok_id),
        // The inventory still names the node ID the peer had before its key changed.
        planned("b-id-mismatch", impostor.addr, &"b".repeat(40)),
        planned("c-wrong-network", elsewhere.addr, &wrong_id),
        planned("d-refused", closed, &"d".repeat(40)),
        planned("e-timeout", silent.addr, &"e".repeat(40)),
        planned("f-garbage", garbage.addr, &"f".repeat(40)),
        planned("g-dns", "peer.invalid:26656", &"9".repeat(40)),
        planned("h-panic", trap.addr, &"8".repeat(40)),
    ];
    write_inputs(&env, &validators, "");
    let ports = [
        ok.addr,
        impostor.addr,
        elsewhere.addr,
        closed,
        silent.addr,
        garbage.addr,
        trap.addr,
    ]
    .iter()
    .map(SocketAddr::port)
    .collect();
    Network {
        env,
        ok_id,
        other_id,
        peers: vec![ok, impostor, elsewhere, silent, garbage],
        ports,
    }
}

/// The report with every loopback port and measured time replaced by a stable placeholder.
fn masked(net: &Network, text: &str) -> String {
    let mut out = text.to_owned();
    // What the system resolver says about a name that does not exist depends on the machine.
    for reason in [
        "Name or service not known",
        "Temporary failure in name resolution",
        "No address associated with hostname",
    ] {
        out = out.replace(reason, "<resolver error>");
    }
    for (i, port) in net.ports.iter().enumerate() {
        out = out.replace(&format!(":{port}"), &format!(":PORT{i}"));
    }
    let lines: Vec<String> = out
        .lines()
        .map(|line| {
            let seconds = line.starts_with("peergen_probe_handshake_seconds")
                || line.trim_start().starts_with("\"seconds\": 0")
                || line.trim_start().starts_with("\"seconds\": 1");
            match (seconds, line.rsplit_once(' ')) {
                (true, Some((head, _))) => format!(
                    "{head} <seconds>{}",
                    if line.ends_with(',') { "," } else { "" }
                ),
                _ => line.to_owned(),
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn every_verdict_against_real_peers() {
    let net = network();
    let started = Instant::now();
    let run = probe(&net.env, &["--format", "json"]);
    run.exit(2);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "8 peers with a 2 s timeout took {:?}",
        started.elapsed()
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let peers = doc["peers"].as_array().unwrap();
    let verdict = |peer: &str| {
        peers
            .iter()
            .find(|p| p["peer"] == peer)
            .unwrap_or_else(|| panic!("{peer} not probed: {}", run.stdout))
            .clone()
    };
    let ok = verdict("a-ok");
    assert_eq!(ok["verdict"], "ok", "{ok}");
    assert_eq!(
        ok["seen"]["node_id"],
        net.ok_id.as_str(),
        "the ID from node_key.json"
    );
    assert_eq!(ok["seen"]["network"], CHAIN);
    assert_eq!(ok["seen"]["moniker"], "test-peer");
    let mismatch = verdict("b-id-mismatch");
    assert_eq!(mismatch["verdict"], "id-mismatch");
    assert_eq!(mismatch["seen"]["node_id"], net.other_id.as_str());
    assert!(
        mismatch["detail"].as_str().unwrap().contains(&net.other_id),
        "{mismatch}"
    );
    let wrong = verdict("c-wrong-network");
    assert_eq!(wrong["verdict"], "wrong-network");
    assert_eq!(wrong["seen"]["network"], "other-chain-7");
    assert_eq!(verdict("d-refused")["verdict"], "refused");
    let timeout = verdict("e-timeout");
    assert_eq!(timeout["verdict"], "timeout", "{timeout}");
    assert!(timeout["detail"].as_str().unwrap().contains("handshake"));
    let garbage = verdict("f-garbage");
    assert_eq!(garbage["verdict"], "handshake-failed", "{garbage}");
    assert_eq!(verdict("g-dns")["verdict"], "dns-failure");
    let trap = verdict("h-panic");
    assert_eq!(trap["verdict"], "handshake-failed", "{trap}");
    assert!(
        trap["detail"].as_str().unwrap().contains("panicked"),
        "{trap}"
    );
    assert!(
        !run.stderr.contains("panicked at"),
        "a contained panic prints no crash report: {}",
        run.stderr
    );
    assert_eq!(doc["matches_plan"], false);

    // The probe announced itself under a throw-away key on the planned network, and a new one
    // on every run.
    let first = net.peers[0].received.lock().unwrap().clone();
    assert_eq!(first.len(), 1, "one connection to the good peer");
    assert_eq!(first[0].network, CHAIN);
    assert_eq!(first[0].moniker, "peergen-probe");
    assert_ne!(first[0].default_node_id, net.ok_id);
    probe(&net.env, &["--consumer", CHAIN, "--self", "a-ok"]).exit(2);
    let both = net.peers[1].received.lock().unwrap().clone();
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].default_node_id, both[1].default_node_id);
}

#[test]
fn every_format_is_snapshotted() {
    let net = network();
    for format in ["text", "markdown", "json", "prometheus"] {
        let run = probe(&net.env, &["--format", format]);
        run.exit(2);
        insta::assert_snapshot!(format!("probe_{format}"), masked(&net, &run.stdout));
    }
    // One run gives the report on stdout and the metrics file beside it.
    net.env.write("metrics/.keep", "");
    let run = probe(
        &net.env,
        &[
            "--format",
            "markdown",
            "--metrics",
            "metrics/peergen_probe.prom",
        ],
    );
    run.exit(2).stdout_has("<!-- peergen-probe -->");
    let metrics = net.env.path("metrics/peergen_probe.prom");
    let text = std::fs::read_to_string(&metrics).unwrap();
    insta::assert_snapshot!("probe_prometheus", masked(&net, &text));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&metrics).unwrap().permissions().mode() & 0o777,
        0o644,
        "readable by the collector"
    );
    let check = std::process::Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(metrics).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn all_matching_exits_zero_and_only_planned_peers_are_dialled() {
    let env = Env::new();
    let key = new_key();
    let id = node_id_of(&node_key_json(&key));
    let ok = spawn_peer(
        "127.0.0.21",
        Behaviour::Cometbft {
            key,
            network: CHAIN.to_owned(),
        },
    );
    // A peer on the same host that the plan does not name: it must never hear from the probe.
    let stranger = spawn_peer(
        "127.0.0.21",
        Behaviour::Cometbft {
            key: new_key(),
            network: CHAIN.to_owned(),
        },
    );
    write_inputs(&env, &[planned("alice", ok.addr, &id)], "");
    let run = probe(&env, &[]);
    run.success().stdout_has("1 planned peer: 1 ok");
    assert!(run.stdout.starts_with("VERDICT"), "{}", run.stdout);
    assert_eq!(ok.received.lock().unwrap().len(), 1);
    assert!(stranger.received.lock().unwrap().is_empty());
}

#[test]
fn what_a_peer_announces_stays_inert_in_every_format() {
    let env = Env::new();
    let key = known_key(4);
    let id = node_id_of(&node_key_json(&key));
    let hostile =
        "@everyone <img src=x onerror=alert(1)> `x` | [a](https://evil.example) \u{1b}[2J\u{202e}";
    let peer = spawn_peer(
        "127.0.0.51",
        Behaviour::Announcing {
            key,
            moniker: hostile.to_owned(),
            version: "1.0\n# HELP".to_owned(),
        },
    );
    write_inputs(&env, &[planned("alice", peer.addr, &id)], "");
    let markdown = probe(&env, &["--format", "markdown"]);
    markdown.success();
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let mut code = String::new();
    for event in Parser::new_ext(&markdown.stdout, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::Emphasis | Tag::Strong) => {
                panic!("markup from a peer: {}", markdown.stdout)
            }
            // The report's own marker and folding are the only HTML.
            Event::Html(h) | Event::InlineHtml(h) => assert!(
                ["<!-- peergen-probe -->", "<details>", "</details>"]
                    .iter()
                    .any(|own| h.trim().starts_with(own)),
                "HTML from a peer: {h}"
            ),
            Event::Code(c) => code.push_str(&c),
            Event::Text(t) => assert!(!t.contains("everyone"), "{t}"),
            _ => {}
        }
    }
    assert!(
        code.contains("@everyone <img src=x onerror=alert(1)>"),
        "{code}"
    );
    assert!(!markdown.stdout.contains('\u{1b}') && !markdown.stdout.contains('\u{202e}'));
    for format in ["text", "json", "prometheus"] {
        let run = probe(&env, &["--format", format]);
        run.success();
        assert!(
            !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{202e}'),
            "{format}: {}",
            run.stdout
        );
        // The version's line break cannot start a line of its own in any report.
        assert!(
            run.stdout
                .lines()
                .all(|l| !l.starts_with("# HELP") || l.starts_with("# HELP peergen_probe_")),
            "{format}: {}",
            run.stdout
        );
    }
}

/// 500 planned peers that all time out finish within timeout × ceil(500 / concurrency) + slack.
#[test]
fn a_run_is_bounded_in_time() {
    let env = Env::new();
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let validators: Vec<Planned> = (0..500u32)
        .map(|i| {
            planned(
                &format!("v{i:03}"),
                format!("127.1.{}.{}:{port}", i / 200, i % 200 + 1),
                &format!("{:040x}", i + 1),
            )
        })
        .collect();
    write_inputs(&env, &validators, "  topology: {k-connected: 2}\n");
    let (timeout, concurrency) = (0.5, 100);
    let started = Instant::now();
    let run = env.run([
        "probe",
        "-i",
        "inventory.yaml",
        "--state",
        "state.json",
        "--timeout",
        "0.5",
        "--concurrency",
        "100",
        "--format",
        "json",
    ]);
    let took = started.elapsed().as_secs_f64();
    run.exit(2);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let peers = doc["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 500);
    assert!(
        peers.iter().all(|p| p["verdict"] == "timeout"),
        "{}",
        doc["summary"]
    );
    let bound = timeout * (500f64 / f64::from(concurrency)).ceil() + 3.0;
    assert!(took < bound, "took {took:.2} s, bound {bound:.2} s");
}

/// A CometBFT RPC answering the documented `/status` and `/net_info` shapes.
fn rpc_server(node_id: &str, network: &str, peers: &[(&str, bool)]) -> mockito::ServerGuard {
    let mut server = mockito::Server::new();
    let status = serde_json::json!({
        "jsonrpc": "2.0", "id": -1,
        "result": {
            "node_info": {
                "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
                "id": node_id, "listen_addr": "tcp://0.0.0.0:26656", "network": network,
                "version": "0.38.17", "channels": "40202122233038606100", "moniker": "ops",
                "other": {"tx_index": "on", "rpc_address": "tcp://0.0.0.0:26657"}
            },
            "sync_info": {
                "latest_block_hash": "A1", "latest_app_hash": "B2", "latest_block_height": "1234567",
                "latest_block_time": "2026-12-01T00:00:00Z", "earliest_block_height": "1",
                "catching_up": false
            },
            "validator_info": {"address": "C3", "pub_key": {"type": "tendermint/PubKeyEd25519", "value": "x"}, "voting_power": "0"}
        }
    });
    let net_peers: Vec<Value> = peers
        .iter()
        .map(|(id, outbound)| {
            serde_json::json!({
                "node_info": {"id": id, "network": network, "moniker": "m", "listen_addr": "tcp://0.0.0.0:26656"},
                "is_outbound": outbound,
                "connection_status": {"Duration": "1000"},
                "remote_ip": "192.0.2.1"
            })
        })
        .collect();
    let net_info = serde_json::json!({
        "jsonrpc": "2.0", "id": -1,
        "result": {"listening": true, "listeners": ["Listener(@)"], "n_peers": peers.len().to_string(), "peers": net_peers}
    });
    server
        .mock("GET", "/status")
        .with_header("content-type", "application/json")
        .with_body(status.to_string())
        .create();
    server
        .mock("GET", "/net_info")
        .with_header("content-type", "application/json")
        .with_body(net_info.to_string())
        .create();
    server
}

#[test]
fn own_nodes_are_compared_with_the_plan_over_rpc() {
    let env = Env::new();
    let key = new_key();
    let peer_id = node_id_of(&node_key_json(&key));
    let ok = spawn_peer(
        "127.0.0.31",
        Behaviour::Cometbft {
            key,
            network: CHAIN.to_owned(),
        },
    );
    let own_id = "0a".repeat(20);
    let absent_id = "0b".repeat(20);
    let stranger = "0c".repeat(20);
    let rpc = rpc_server(&own_id, CHAIN, &[(&peer_id, true), (&stranger, false)]);
    let rpc_port = rpc.host_with_port().rsplit_once(':').unwrap().1.to_owned();
    let absent = TcpListener::bind("127.0.0.32:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut ops = planned("ops", "127.0.0.30:26656", &own_id);
    ops.extra = format!("    rpc_template: \"127.0.0.1:{rpc_port}\"\n");
    write_inputs(
        &env,
        &[
            ops,
            planned("peer", ok.addr, &peer_id),
            planned("quiet", absent, &absent_id),
        ],
        "",
    );
    let run = probe(&env, &["--self", "ops"]);
    // `quiet` is refused and not connected: the node does not match its plan.
    run.exit(2)
        .stdout_has("mismatch node ops on probe-1 (0)")
        .stdout_has("height 1234567, 2 planned peers, 1 outbound and 1 inbound connected (inbound budget 1 of 40)")
        .stdout_has(&format!("connected but not planned: {stranger}"))
        .stdout_has("planned but not connected: quiet");
    let json: Value =
        serde_json::from_str(&probe(&env, &["--self", "ops", "--format", "json"]).stdout).unwrap();
    let node = &json["nodes"][0];
    assert_eq!(node["status"]["node_id"], own_id.as_str());
    assert_eq!(
        node["net_info"]["planned_not_connected"][0]["node_id"],
        absent_id.as_str()
    );
    assert_eq!(
        node["net_info"]["connected_not_planned"][0],
        stranger.as_str()
    );
    let metrics = probe(&env, &["--self", "ops", "--format", "prometheus"]).stdout;
    assert!(metrics.contains(&format!(
        "peergen_probe_rpc_planned_not_connected{{network=\"{CHAIN}\",consumer_id=\"0\",node=\"ops\"}} 1"
    )), "{metrics}");

    // The same node with every planned peer connected, on another network than planned.
    let rpc = rpc_server(
        &own_id,
        "elsewhere-1",
        &[(&peer_id, true), (&absent_id, true)],
    );
    let rpc_port = rpc.host_with_port().rsplit_once(':').unwrap().1.to_owned();
    let inv = env.read("inventory.yaml");
    let inv = inv
        .lines()
        .map(|l| {
            if l.contains("rpc_template") {
                format!("    rpc_template: \"127.0.0.1:{rpc_port}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    env.write("inventory.yaml", &inv);
    probe(&env, &["--self", "ops"])
        .exit(2)
        .stdout_has("network \"elsewhere-1\" where the plan has \"probe-1\"");
}

#[test]
fn an_rpc_template_without_a_port_is_refused_with_its_place() {
    let env = Env::new();
    let mut v = planned("ops", "127.0.0.30:26656", &"0a".repeat(20));
    v.extra = "    rpc_template: ops-{{chain_id}}.internal\n".to_owned();
    write_inputs(&env, &[v], "");
    probe(&env, &[])
        .failure()
        .stderr_has("inventory.yaml:11:19: validators.ops.rpc_template: \"ops-{{chain_id}}.internal\" has no RPC port");
}

#[test]
fn the_scope_must_name_planned_validators_and_consumers() {
    let env = Env::new();
    write_inputs(
        &env,
        &[planned("ops", "127.0.0.30:26656", &"0a".repeat(20))],
        "",
    );
    probe(&env, &["--self", "nobody"])
        .failure()
        .stderr_has("--self nobody: no validator of that name; known validators: ops");
    probe(&env, &["--consumer", "9"]).failure().stderr_has(
        "--consumer 9: no active consumer has this consumer id or chain id; active: 0 (probe-1)",
    );
}

#[test]
fn stellar_peers_are_checked_for_reachability_and_own_nodes_over_admin_info() {
    let env = Env::new();
    let up = TcpListener::bind("127.0.0.41:0").unwrap();
    let up_port = up.local_addr().unwrap().port();
    let down = TcpListener::bind("127.0.0.42:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut admin = mockito::Server::new();
    admin
        .mock("GET", "/info")
        .with_body(
            serde_json::json!({"info": {
                "build": "stellar-core 22.0.0", "network": "Test SDF Network ; September 2015",
                "ledger": {"num": 5000, "age": 4, "closeTime": 1795219200, "hash": "ab", "baseFee": 100, "baseReserve": 5000000, "maxTxSetSize": 100, "version": 22},
                "peers": {"authenticated_count": 7, "pending_count": 1},
                "protocol_version": 22, "state": "Synced!", "startedOn": "2026-12-01T00:00:00Z",
                "quorum": {}
            }})
            .to_string(),
        )
        .create();
    env.write(
        "stellar.yaml",
        &format!(
            "version: 1\nnetwork: stellar\nunsafe_quorum: true\norganisations:\n  alpha:\n    home_domain: alpha.example\n    quality: MEDIUM\nvalidators:\n  alpha-1:\n    organisation: alpha\n    public_key: GDND35375HGLMEN4LXQW4HU7VIQRZTVT5LZ3JILD5K7256AGP36L5QJU\n    address: 127.0.0.41:{up_port}\n  alpha-2:\n    organisation: alpha\n    public_key: GBSDYQHENRAHHFBQFWD6MJ7OS7NZDRQMQZYF4YJSIZO6JQGYC7IIJF5W\n    address: 127.0.0.42:{down}\n  alpha-3:\n    organisation: alpha\n    public_key: GBSWZKLZDNRACMJ6WM67GUGCPJTH2SJ73YEWG5XNLNR35CGMF364Q3D6\n    address: 127.0.0.43:11625\n"
        ),
    );
    let admin_arg = format!("alpha-3={}", admin.host_with_port());
    let run = env.run([
        "probe",
        "-i",
        "stellar.yaml",
        "--self",
        "alpha-3",
        "--admin",
        &admin_arg,
        "--timeout",
        TIMEOUT,
        "--format",
        "json",
    ]);
    run.exit(2);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let verdicts: Vec<(&str, &str)> = doc["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["peer"].as_str().unwrap(), p["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("alpha-1", "ok"), ("alpha-2", "refused")],
        "its own address is not probed"
    );
    let info = &doc["stellar_nodes"][0];
    assert_eq!(info["ok"], true);
    assert_eq!(info["info"]["ledger_age"], 4);
    assert_eq!(info["info"]["authenticated_peers"], 7);
    drop(up);
}
