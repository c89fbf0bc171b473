//! Benchmark: a synthetic 200-validator × 50-consumer inventory, every validator's view rendered.
//! Run with `cargo bench --bench render`; prints wall time per stage and peak RSS (VmHWM).

#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::time::Instant;

const VALIDATORS: usize = 200;
const CONSUMERS: usize = 50;
const ROUNDS: usize = 5;

fn bech32_valoper(i: usize) -> String {
    let data: Vec<u8> = (0..20).map(|b| (i * 31 + b * 7) as u8).collect();
    let hrp = bech32::Hrp::parse("cosmosvaloper").expect("static hrp");
    bech32::encode::<bech32::Bech32>(hrp, &data).expect("encodes")
}

/// A consistent (consensus key, valcons) pair: peergen checks that one belongs to the other.
fn consensus_key(i: usize) -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let key: Vec<u8> = (0..32).map(|b| (i * 13 + b * 5) as u8).collect();
    let digest = sha2::Sha256::digest(&key);
    let hrp = bech32::Hrp::parse("cosmosvalcons").expect("static hrp");
    let valcons = bech32::encode::<bech32::Bech32>(hrp, &digest[..20]).expect("encodes");
    (
        base64::engine::general_purpose::STANDARD.encode(key),
        valcons,
    )
}

fn synthesize(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut inv =
        String::from("version: 1\ndefaults:\n  port: hash\n  p2p:\n    pex: false\nvalidators:\n");
    let mut bonded = Vec::new();
    for i in 0..VALIDATORS {
        let op = bech32_valoper(i);
        write!(
            inv,
            "  val-{i:03}:\n    operator_address: {op}\n    consumer_template: val-{i:03}-{{{{chain_id}}}}.example.net:{{{{port}}}}\n    node_id: {:040x}\n",
            i + 1
        )
        .unwrap();
        bonded.push(serde_json::json!({
            "operator_address": op, "moniker": format!("val-{i:03}"), "tokens": format!("{}", 1_000_000 + i),
            "consumer_pubkey_unused": null,
        }));
    }
    let bonded: Vec<serde_json::Value> = bonded
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let (key, valcons) = consensus_key(i);
            serde_json::json!({
                "operator_address": v["operator_address"], "moniker": v["moniker"], "tokens": v["tokens"],
                "consensus_pubkey": key, "valcons": valcons,
            })
        })
        .collect();
    let consumers: Vec<serde_json::Value> = (0..CONSUMERS)
        .map(|c| {
            let validators: Vec<serde_json::Value> = bonded
                .iter()
                .map(|v| serde_json::json!({"operator_address": v["operator_address"], "valcons": v["valcons"], "moniker": v["moniker"]}))
                .collect();
            serde_json::json!({"consumer_id": c.to_string(), "chain_id": format!("chain-{c}"), "phase": "launched",
                "top_n": 0, "validators": validators, "opted_in": []})
        })
        .collect();
    let state = serde_json::json!({"format": "peergen/provider-state/v1", "provider": {"chain_id": "bench", "height": 1},
        "bonded_validators": bonded, "consumers": consumers});
    let inv_path = dir.join("inventory.yaml");
    let state_path = dir.join("state.json");
    std::fs::write(&inv_path, inv).unwrap();
    std::fs::write(&state_path, serde_json::to_string(&state).unwrap()).unwrap();
    (inv_path, state_path)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn main() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().unwrap();
    let (inv, state) = synthesize(dir.path());
    let mut best = f64::MAX;
    let mut summary = String::new();
    for round in 0..ROUNDS {
        let out = dir.path().join(format!("out-{round}"));
        let cli = peergen::Cli::parse_from([
            "peergen".as_ref(),
            "render".as_ref(),
            "-i".as_ref(),
            inv.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        let mut stdout = Vec::new();
        let t0 = Instant::now();
        peergen::run(cli, &mut stdout).unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
        summary = String::from_utf8(stdout).unwrap();
    }
    println!(
        "peergen render benchmark: {VALIDATORS} validators x {CONSUMERS} consumers, best of {ROUNDS}"
    );
    print!("  {summary}");
    println!(
        "  load + plan + render + verify + write: {:8.1} ms",
        best * 1e3
    );
    println!(
        "  peak RSS                             : {:8.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
}
