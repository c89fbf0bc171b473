//! Every `p2p.toml` peergen renders, merged into CometBFT's default `config.toml`
//! (tests/data/cometbft-default-config.toml, as `cometbft init` v0.34.35 writes it), must parse with
//! an independent CometBFT config parser, tendermint-rs's `tendermint-config`, and read back exactly
//! the values written; every peer must parse as a CometBFT address.
use std::net::Ipv6Addr;
use std::time::Duration;
use tendermint_config::{TendermintConfig, net::Address};
use toml::{Table, Value};

/// The keys a peergen fragment may set (all modelled by tendermint-config's P2PConfig).
const KEYS: [&str; 9] = [
    "pex",
    "unconditional_peer_ids",
    "private_peer_ids",
    "max_num_inbound_peers",
    "allow_duplicate_ip",
    "addr_book_strict",
    "seeds",
    "persistent_peers",
    "persistent_peers_max_dial_period",
];
const REQUIRED: [&str; 2] = ["persistent_peers", "persistent_peers_max_dial_period"];

fn try_merge(default_toml: &str, fragment: &str) -> Result<String, String> {
    let mut base: Table = default_toml
        .parse()
        .map_err(|e| format!("default config: {e}"))?;
    let overlay = fragment_p2p(fragment)?;
    let p2p = base
        .entry("p2p")
        .or_insert_with(|| Value::Table(Table::new()));
    let p2p = p2p
        .as_table_mut()
        .ok_or("default config: p2p is not a table")?;
    p2p.extend(overlay);
    toml::to_string(&base).map_err(|e| format!("serialize: {e}"))
}

fn fragment_p2p(fragment: &str) -> Result<Table, String> {
    let mut t: Table = fragment.parse().map_err(|e| format!("fragment: {e}"))?;
    if let Some(k) = t.keys().find(|k| *k != "p2p") {
        return Err(format!("fragment: unexpected top-level key {k:?}"));
    }
    match t.remove("p2p") {
        Some(Value::Table(p2p)) => Ok(p2p),
        _ => Err("fragment: no [p2p] table".into()),
    }
}

/// Merges, parses with `TendermintConfig::parse_toml`, and compares the parsed `p2p` fields
/// with the merged TOML values (the fragment's where set, the default's otherwise).
pub(crate) fn check_fragment(default_toml: &str, fragment: &str) -> Result<(), String> {
    let mut frag = fragment_p2p(fragment)?;
    if let Some(k) = frag.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "fragment: unknown [p2p] key {k:?} (tendermint-config would ignore it)"
        ));
    }
    if let Some(k) = REQUIRED.iter().find(|k| !frag.contains_key(**k)) {
        return Err(format!("fragment: missing required key {k}"));
    }
    // Go duration, checked by our parser. tendermint's Timeout takes only `<n>s`/`<n>ms`, so a
    // valid CometBFT value like "1m30s" is handed to the crate as "90000ms" (marked workaround).
    let dial_text = frag["persistent_peers_max_dial_period"]
        .as_str()
        .ok_or("dial period: not a string")?;
    let dial = go_duration(dial_text)?;
    let digits = dial_text.trim_end_matches("ms").trim_end_matches('s');
    if !(digits.bytes().all(|c| c.is_ascii_digit()) && dial_text.ends_with('s')) {
        let ms = Value::String(format!("{}ms", dial.as_millis()));
        frag.insert("persistent_peers_max_dial_period".into(), ms);
    }
    let overlay =
        toml::to_string(&Table::from_iter([("p2p".to_string(), Value::Table(frag))])).unwrap();

    let merged = try_merge(default_toml, &overlay)?;
    let cfg =
        TendermintConfig::parse_toml(&merged).map_err(|e| format!("tendermint-config: {e}"))?;
    let want: Table = merged.parse().unwrap();
    let want = want["p2p"].as_table().unwrap();
    let p = &cfg.p2p;

    let get = |k: &str| want.get(k).ok_or(format!("merged config: no p2p.{k}"));
    let s = |k: &str| get(k)?.as_str().ok_or(format!("{k}: not a string"));
    let b = |k: &str| get(k)?.as_bool().ok_or(format!("{k}: not a bool"));
    let same = |k: &str, got: String, exp: String| {
        if got == exp {
            Ok(())
        } else {
            Err(format!(
                "{k}: tendermint-config read {got:?}, fragment says {exp:?}"
            ))
        }
    };
    peers(
        "persistent_peers",
        s("persistent_peers")?,
        &p.persistent_peers,
    )?;
    peers("seeds", s("seeds")?, &p.seeds)?;
    let ids = |v: &[_]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<String>>()
            .join(",")
    };
    // Display is lowercase hex, so an uppercase ID (accepted by the crate and by CometBFT's parser,
    // but never equal to a peer's real ID in CometBFT's string comparisons) fails here.
    same(
        "unconditional_peer_ids",
        ids(&p.unconditional_peer_ids),
        s("unconditional_peer_ids")?.into(),
    )?;
    same(
        "private_peer_ids",
        ids(&p.private_peer_ids),
        s("private_peer_ids")?.into(),
    )?;
    same("pex", p.pex.to_string(), b("pex")?.to_string())?;
    same(
        "allow_duplicate_ip",
        p.allow_duplicate_ip.to_string(),
        b("allow_duplicate_ip")?.to_string(),
    )?;
    same(
        "addr_book_strict",
        p.addr_book_strict.to_string(),
        b("addr_book_strict")?.to_string(),
    )?;
    let inbound = get("max_num_inbound_peers")?
        .as_integer()
        .ok_or("max_num_inbound_peers: not an integer")?;
    same(
        "max_num_inbound_peers",
        p.max_num_inbound_peers.to_string(),
        inbound.to_string(),
    )?;
    let got = *p.persistent_peers_max_dial_period;
    same(
        "persistent_peers_max_dial_period",
        format!("{}s", got.as_secs_f64()),
        format!("{}s", dial.as_secs_f64()),
    )
}

/// Each comma-separated `id@host:port` must parse (net::Address) to a TCP address with a node ID,
/// and its ID, host and port must equal the entry's. IPv6 hosts are compared as addresses: the
/// url crate re-serializes them (`[::ffff:1.2.3.4]` reads back as `[::ffff:102:304]`).
fn peers(key: &str, raw: &str, parsed: &[Address]) -> Result<(), String> {
    let raw: Vec<&str> = if raw.is_empty() {
        vec![]
    } else {
        raw.split(',').collect()
    };
    if raw.len() != parsed.len() {
        return Err(format!(
            "{key}: {} entries, tendermint-config read {}",
            raw.len(),
            parsed.len()
        ));
    }
    for (r, a) in raw.iter().zip(parsed) {
        let Address::Tcp {
            peer_id: Some(id),
            host,
            port,
        } = a
        else {
            return Err(format!(
                "{key}: {r:?} has no node ID (CometBFT requires id@host:port)"
            ));
        };
        let err = || format!("{key}: {r:?} reads back as \"{id}@{host}:{port}\"");
        let (rid, hp) = r.split_once('@').ok_or_else(err)?;
        let (rhost, rport) = hp.rsplit_once(':').ok_or_else(err)?;
        let v6 = |h: &str| {
            h.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<Ipv6Addr>()
                .ok()
        };
        let same_host = rhost == host || v6(rhost).is_some_and(|ip| v6(host) == Some(ip));
        if rid != id.to_string() || rport != port.to_string() || !same_host {
            return Err(err());
        }
        if *port == 0 {
            return Err(format!("{key}: {r:?} has port 0")); // our check: the crate accepts port 0
        }
    }
    Ok(())
}

/// Go `time.ParseDuration` restricted to what peergen accepts: one or more `<digits><unit>`,
/// unit in ms, s, m, h (e.g. 30s, 2m, 1m30s).
fn go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("persistent_peers_max_dial_period: {text:?} is not a Go duration");
    let (mut rest, mut total) = (text, Duration::ZERO);
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        let v: u64 = rest[..n].parse().map_err(|_| bad())?;
        let (unit, ms) = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
            .into_iter()
            .find(|(u, _)| rest[n..].starts_with(u))
            .ok_or_else(bad)?;
        total += Duration::from_millis(v.checked_mul(ms).ok_or_else(bad)?);
        rest = &rest[n + unit.len()..];
    }
    Ok(total)
}

pub(crate) const DEFAULT_CONFIG: &str = include_str!("data/cometbft-default-config.toml");

#[test]
fn every_rendered_fragment_parses_as_cometbft_config() {
    use crate::harness::*;
    let env = Env::new();
    let sentries = repo_root().join("inventories/sentries.yaml");
    let mut checked = 0;
    for (inventory, out) in [(example_inventory(), "example"), (sentries, "sentries")] {
        env.run(["render", "-i", inventory.to_str().unwrap(), "--out", out])
            .success();
        for (path, text) in read_tree(&env.path(out)) {
            if path.ends_with("p2p.toml") {
                check_fragment(DEFAULT_CONFIG, &text)
                    .unwrap_or_else(|e| panic!("{out}/{path}: {e}"));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 13 + 27, "every node of both examples");
    // The judge is not a pushover: an uppercase ID and a bad address are caught.
    let bad_id = "[p2p]\npersistent_peers = \"A3258DCBF45DCA0DF052981870F2D1441A36D145@h.example:1\"\npersistent_peers_max_dial_period = \"30s\"\n";
    assert!(check_fragment(DEFAULT_CONFIG, bad_id).is_err());
    let bad_port = "[p2p]\npersistent_peers = \"a3258dcbf45dca0df052981870f2d1441a36d145@h.example:0\"\npersistent_peers_max_dial_period = \"30s\"\n";
    assert!(check_fragment(DEFAULT_CONFIG, bad_port).is_err());
}
