//! The synthetic fleet both benchmarks render: `validators` validators, each in every one of
//! `consumers` consumers' sets, with template endpoints and fixed node IDs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// The inventory; `changed` gives that validator another node ID (a one-validator change).
pub(crate) fn inventory(validators: usize, changed: Option<usize>) -> String {
    let mut inv =
        String::from("version: 1\ndefaults:\n  port: hash\n  p2p:\n    pex: false\nvalidators:\n");
    for i in 0..validators {
        let id = if changed == Some(i) {
            i + 1_000_000
        } else {
            i + 1
        };
        write!(
            inv,
            "  val-{i:03}:\n    operator_address: {}\n    consumer_template: val-{i:03}-{{{{chain_id}}}}.example.net:{{{{port}}}}\n    node_id: {id:040x}\n",
            bech32_valoper(i)
        )
        .expect("writes to a string");
    }
    inv
}

/// The provider-state snapshot: every validator bonded and in every consumer's set.
pub(crate) fn state(validators: usize, consumers: usize) -> String {
    let bonded: Vec<serde_json::Value> = (0..validators)
        .map(|i| {
            let (key, valcons) = consensus_key(i);
            serde_json::json!({
                "operator_address": bech32_valoper(i), "moniker": format!("val-{i:03}"),
                "tokens": format!("{}", 1_000_000 + i), "consensus_pubkey": key, "valcons": valcons,
            })
        })
        .collect();
    let members: Vec<serde_json::Value> = bonded
        .iter()
        .map(|v| serde_json::json!({"operator_address": v["operator_address"], "valcons": v["valcons"], "moniker": v["moniker"]}))
        .collect();
    let consumers: Vec<serde_json::Value> = (0..consumers)
        .map(|c| {
            serde_json::json!({"consumer_id": c.to_string(), "chain_id": format!("chain-{c}"), "phase": "launched",
                "top_n": 0, "validators": members, "opted_in": []})
        })
        .collect();
    let state = serde_json::json!({"format": "peergen/provider-state/v1", "provider": {"chain_id": "bench", "height": 1},
        "bonded_validators": bonded, "consumers": consumers});
    serde_json::to_string(&state).expect("serializes")
}

/// Writes `inventory.yaml` and `state.json` into `dir`.
pub(crate) fn write(dir: &Path, validators: usize, consumers: usize) -> (PathBuf, PathBuf) {
    let inv_path = dir.join("inventory.yaml");
    let state_path = dir.join("state.json");
    std::fs::write(&inv_path, inventory(validators, None)).expect("writes the inventory");
    std::fs::write(&state_path, state(validators, consumers)).expect("writes the snapshot");
    (inv_path, state_path)
}
