//! `peergen fetch` against a real local HTTP server (mockito) answering the documented ICS v6,
//! legacy and staking response shapes; faults must leave the previous snapshot byte-identical.

use std::collections::{BTreeMap, BTreeSet};

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{Value, json};

use crate::harness::*;

pub(crate) struct Val {
    pub(crate) op: &'static str,
    key: &'static str,
    valcons: &'static str,
    pub(crate) moniker: &'static str,
    tokens: &'static str,
    pub(crate) node_id: &'static str,
}

pub(crate) const ALICE: Val = Val {
    op: "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg",
    key: "Ui5Gf1+mtWUdH8u3xlmzdKID+F3PK0sfXZ73GZ6q6is=",
    valcons: "cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk",
    moniker: "alice",
    tokens: "100000000",
    node_id: "1111111111111111111111111111111111111111",
};
pub(crate) const BOB: Val = Val {
    op: "cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn",
    key: "62d2CCgWXYZHmlsCon2lzVgnu9gfubep2XRPlZKuLAQ=",
    valcons: "cosmosvalcons1znhu88l6dsvexunfem4u0392kwqyvdkrj66wph",
    moniker: "bob",
    tokens: "101000000",
    node_id: "2222222222222222222222222222222222222222",
};
pub(crate) const CAROL: Val = Val {
    op: "cosmosvaloper1jk2pp655zxy2gazhxj50s8jk3750y8np6wz4lm",
    key: "+9BFckSNCI1o/+S85HLjG3pYp1FIzmfYWVKmUH2njxs=",
    valcons: "cosmosvalcons1jnq3j55qe4f946qj8499w0tntxwz90atx26p4q",
    moniker: "carol",
    tokens: "100000000",
    node_id: "3333333333333333333333333333333333333333",
};
/// The reference's SmartNodes operator address fails its bech32 checksum, so a valid one stands in.
const SMARTNODES: Val = Val {
    op: "cosmosvaloper1yg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zt5x3kt",
    key: "N7BPyek2aKuNZ0N/8YsrqSDhGZmgVaYUBuddY8pwKaE=",
    valcons: "cosmosvalcons1vjun6gn06xdlley2sqhdwsk3m3p8dyl0hwa254",
    moniker: "SmartNodes",
    tokens: "383301887799",
    node_id: "4444444444444444444444444444444444444444",
};
/// Unbonding: listed by a gateway that ignores the status filter, and must not enter the snapshot.
const UNBONDING: Val = Val {
    op: "cosmosvaloper1zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3yfrh7u",
    key: "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
    valcons: "cosmosvalcons1fwcxlrjw8fm3t5sp64eap2jzxa3w2hdtasf7p3",
    moniker: "leaving",
    tokens: "5000000",
    node_id: "5555555555555555555555555555555555555555",
};
/// A consumer key bob assigned on consumer 0; its valcons must never replace bob's provider valcons.
const BOB_CONSUMER_KEY: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=";
const BOB_CONSUMER_VALCONS: &str = "cosmosvalcons1y4uve7rytvk3msgvge00lpp4skts7wn7fcgqkx";

/// Page keys with `+`, `/` and `=` prove that `next_key` is URL-encoded.
const PAGE2_KEY: &str = "FONDBFk+E4tEEf7y/xWWKOD49jC2NK==";
const PAGE2_KEY_ENCODED: &str = "FONDBFk%2BE4tEEf7y%2FxWWKOD49jC2NK%3D%3D";
const TOKEN: &str = "tok-s3cret-7f1d";
const ICS: &str = "/interchain_security/ccv/provider";

fn staking(v: &Val, status: &str) -> Value {
    json!({
        "operator_address": v.op,
        "consensus_pubkey": {"@type": "/cosmos.crypto.ed25519.PubKey", "key": v.key},
        "jailed": false,
        "status": status,
        "tokens": v.tokens,
        "delegator_shares": format!("{}.000000000000000000", v.tokens),
        "description": {"moniker": v.moniker, "identity": "", "website": "", "security_contact": "", "details": ""},
        "unbonding_height": "0",
        "unbonding_time": "1970-01-01T00:00:00Z",
        "commission": {"commission_rates": {"rate": "0.050000000000000000", "max_rate": "0.200000000000000000", "max_change_rate": "0.100000000000000000"}, "update_time": "2021-10-01T15:51:31.596618510Z"},
        "min_self_delegation": "1",
        "unbonding_on_hold_ref_count": "0",
        "unbonding_ids": []
    })
}

/// A v6 `consumer_validators` entry; `consumer_key: None` means no key was assigned, so the
/// provider reports the provider consensus key.
fn consumer_validator(v: &Val, consumer_key: Option<&str>) -> Value {
    json!({
        "provider_address": v.valcons,
        "consumer_key": {"ed25519": consumer_key.unwrap_or(v.key)},
        "power": "100",
        "rate": "0.100000000000000000",
        "consumer_power": "100",
        "consumer_commission_rate": "0.100000000000000000",
        "provider_commission_rate": "0.050000000000000000",
        "description": {"moniker": v.moniker, "identity": "", "website": "", "security_contact": "", "details": ""},
        "provider_operator_address": v.op,
        "jailed": false,
        "status": "BOND_STATUS_BONDED",
        "provider_tokens": v.tokens,
        "provider_power": "100",
        "validates_current_epoch": true
    })
}

fn chain(consumer_id: &str, chain_id: &str, phase: &str) -> Value {
    json!({
        "chain_id": chain_id,
        "client_id": "07-tendermint-0",
        "top_N": 0,
        "min_power_in_top_N": "-1",
        "validators_power_cap": 0,
        "validator_set_cap": 0,
        "allowlist": [],
        "denylist": [],
        "phase": format!("CONSUMER_PHASE_{phase}"),
        "metadata": {"name": chain_id, "description": "", "metadata": ""},
        "min_stake": "0",
        "allow_inactive_vals": false,
        "consumer_id": consumer_id,
        "allowlisted_reward_denoms": {"denoms": []},
        "prioritylist": [],
        "infraction_parameters": {}
    })
}

/// One page of a paginated list: its items and the `next_key` it returns, raw and URL-encoded.
type Page<'a> = (Vec<Value>, Option<(&'a str, &'a str)>);

/// A mock provider: a mockito server plus the mocks mounted on it.
pub(crate) struct Provider {
    server: ServerGuard,
    mocks: BTreeMap<String, Mock>,
    authorization: Option<String>,
    /// What every query after blocks/latest must carry as `x-cosmos-block-height`.
    height: Option<Matcher>,
}

impl Provider {
    fn new() -> Provider {
        Provider {
            server: Server::new(),
            mocks: BTreeMap::new(),
            authorization: None,
            height: None,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    fn mount(&mut self, name: &str, path: &str, query: Option<&str>, status: usize, body: String) {
        let mut m = self.server.mock("GET", path);
        if let Some(q) = query {
            m = m.match_query(Matcher::Exact(q.to_owned()));
        }
        if let Some(a) = &self.authorization {
            m = m.match_header("authorization", a.as_str());
        }
        if let Some(h) = &self.height
            && !path.ends_with("/blocks/latest")
        {
            m = m.match_header("x-cosmos-block-height", h.clone());
        }
        let mock = m
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
            .expect_at_least(1)
            .create();
        self.mocks.insert(name.to_owned(), mock);
    }

    fn latest(&mut self, height: u64) {
        let body = json!({
            "block_id": {"hash": "", "part_set_header": {"total": 1, "hash": ""}},
            "block": {"header": {"chain_id": "cosmoshub-4", "height": height.to_string(), "time": "2026-11-21T00:00:00Z"}, "data": {"txs": []}},
            "sdk_block": {"header": {"chain_id": "cosmoshub-4", "height": height.to_string(), "time": "2026-11-21T00:00:00Z", "proposer_address": "cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk"}}
        });
        self.mount(
            &format!("latest-{height}"),
            "/cosmos/base/tendermint/v1beta1/blocks/latest",
            None,
            200,
            body.to_string(),
        );
    }

    /// Mounts a paginated list: page i answers the query with the key page i-1 returned.
    fn pages(&mut self, name: &str, path: &str, query: &str, field: &str, pages: Vec<Page<'_>>) {
        let mut request_key: Option<String> = None;
        for (i, (items, next)) in pages.into_iter().enumerate() {
            let q = match &request_key {
                None => query.to_owned(),
                Some(k) => format!("{query}&pagination.key={k}"),
            };
            let body =
                json!({field: items, "pagination": {"next_key": next.map(|n| n.0), "total": "0"}});
            self.mount(
                &format!("{name}-{i}"),
                path,
                Some(&q),
                200,
                body.to_string(),
            );
            request_key = next.map(|n| n.1.to_owned());
        }
    }

    fn bonded(&mut self, pages: Vec<Page<'_>>) {
        self.pages(
            "bonded",
            "/cosmos/staking/v1beta1/validators",
            "status=BOND_STATUS_BONDED&pagination.limit=100",
            "validators",
            pages,
        );
    }

    fn chains(&mut self, pages: Vec<Page<'_>>) {
        self.pages(
            "chains",
            &format!("{ICS}/consumer_chains/0"),
            "pagination.limit=100",
            "chains",
            pages,
        );
    }

    fn consumer(&mut self, id: &str, validators: Vec<Value>, opted_in: &[&str]) {
        self.mount(
            &format!("cv-{id}"),
            &format!("{ICS}/consumer_validators/{id}"),
            None,
            200,
            json!({"validators": validators}).to_string(),
        );
        self.mount(
            &format!("oi-{id}"),
            &format!("{ICS}/opted_in_validators/{id}"),
            None,
            200,
            json!({"validators_provider_addresses": opted_in}).to_string(),
        );
    }

    fn assert(&self, name: &str) {
        self.mocks
            .get(name)
            .unwrap_or_else(|| panic!("no mock {name}"))
            .assert();
    }
}

/// The standard provider: two pages of validators, consumers in every phase over two pages, two
/// consumers sharing chain id sandbox-1, a stopped one, camelCase answers for consumer 1.
/// `skip` leaves parts unmounted so a test can mount a fault in their place.
pub(crate) fn standard(skip: &[&str], authorization: Option<String>) -> Provider {
    let mut p = Provider::new();
    p.authorization = authorization;
    standard_on(p, skip)
}

/// `standard`'s mocks mounted on `p`, so they carry `p`'s header expectations.
fn standard_on(mut p: Provider, skip: &[&str]) -> Provider {
    if !skip.contains(&"latest") {
        p.latest(23_000_100);
    }
    if !skip.contains(&"bonded") {
        p.bonded(vec![
            (
                vec![
                    staking(&ALICE, "BOND_STATUS_BONDED"),
                    staking(&BOB, "BOND_STATUS_BONDED"),
                ],
                Some((PAGE2_KEY, PAGE2_KEY_ENCODED)),
            ),
            (
                vec![
                    staking(&CAROL, "BOND_STATUS_BONDED"),
                    staking(&SMARTNODES, "BOND_STATUS_BONDED"),
                    staking(&UNBONDING, "BOND_STATUS_UNBONDING"),
                ],
                None,
            ),
        ]);
    }
    if !skip.contains(&"chains") {
        let camel = json!({"chainId": "sandbox-1", "consumerId": "1", "topN": 95, "phase": "CONSUMER_PHASE_LAUNCHED", "clientId": "07-tendermint-1"});
        p.chains(vec![
            (
                vec![
                    chain("0", "pion-1", "LAUNCHED"),
                    camel,
                    chain("2", "stride-1", "STOPPED"),
                ],
                Some(("Mw==", "Mw%3D%3D")),
            ),
            (
                vec![
                    chain("3", "sandbox-1", "LAUNCHED"),
                    chain("4", "dash-2", "REGISTERED"),
                    chain("5", "old-1", "DELETED"),
                    chain("6", "neutron-1", "INITIALIZED"),
                ],
                None,
            ),
        ]);
    }
    if !skip.contains(&"consumer-0") {
        p.consumer(
            "0",
            vec![
                consumer_validator(&ALICE, None),
                consumer_validator(&BOB, Some(BOB_CONSUMER_KEY)),
                consumer_validator(&CAROL, None),
            ],
            &[CAROL.valcons, ALICE.valcons, BOB.valcons],
        );
    }
    if !skip.contains(&"consumer-1") {
        let camel = json!({"validators": [{"providerAddress": CAROL.valcons, "consumerKey": {"ed25519": CAROL.key}, "consumerPower": "100", "description": {"moniker": "carol"}, "providerOperatorAddress": CAROL.op, "validatesCurrentEpoch": true}]});
        p.mount(
            "cv-1",
            &format!("{ICS}/consumer_validators/1"),
            None,
            200,
            camel.to_string(),
        );
        p.mount(
            "oi-1",
            &format!("{ICS}/opted_in_validators/1"),
            None,
            200,
            json!({"validatorsProviderAddresses": [CAROL.valcons]}).to_string(),
        );
    }
    if !skip.contains(&"consumer-3") {
        p.consumer(
            "3",
            vec![
                consumer_validator(&SMARTNODES, None),
                consumer_validator(&ALICE, None),
            ],
            &[],
        );
    }
    p
}

fn inventory(env: &Env, rest: &str, auth: &str) -> String {
    let mut validators = String::new();
    for v in [&ALICE, &BOB, &CAROL] {
        validators.push_str(&format!(
            "  {m}:\n    operator_address: {op}\n    moniker: {m}\n    consumer_template: {m}-{{{{chain-id}}}}.example.org:{{{{port}}}}\n    node_id: {id}\n",
            m = v.moniker,
            op = v.op,
            id = v.node_id
        ));
    }
    let text = format!(
        "version: 1\nnetwork: cosmos\nprovider:\n  chain_id: cosmoshub-4\n  rest: {rest}\n{auth}state: state.json\nvalidators:\n{validators}"
    );
    env.write("inventory.yaml", &text)
        .to_string_lossy()
        .into_owned()
}

const FAST: [&str; 4] = ["--retries", "2", "--retry-backoff-ms", "1"];

/// Runs the CLI with `vars` set.
fn run_with_env(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Run {
    Run::from(
        env.command()
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .unwrap(),
    )
}

fn cli(env: &Env, args: &[&str]) -> Run {
    run_with_env(env, args, &[])
}

fn fetch(env: &Env, inv: &str, extra: &[&str]) -> Run {
    let mut args = vec!["fetch", "-i", inv];
    args.extend(FAST);
    args.extend(extra);
    cli(env, &args)
}

fn snapshot(env: &Env) -> Value {
    serde_json::from_str(&env.read("state.json")).expect("snapshot is JSON")
}

fn consumer<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["consumer_id"] == id)
        .unwrap_or_else(|| panic!("no consumer {id}"))
}

fn members(state: &Value, id: &str) -> Vec<String> {
    consumer(state, id)["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operator_address"].as_str().unwrap().to_owned())
        .collect()
}

fn inode(env: &Env) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(env.path("state.json")).unwrap().ino()
}

#[test]
fn fetch_locks_paged_validators_and_consumers_in_every_phase() {
    let mut p = standard(&[], None);
    p.mount(
        "cv-2",
        &format!("{ICS}/consumer_validators/2"),
        None,
        400,
        r#"{"code":3,"message":"stopped"}"#.into(),
    );
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    let run = fetch(&env, &inv, &[]);
    run.success()
        .stdout_has("new snapshot: 4 bonded validators, 4 consumers")
        .stdout_has("state.json\n");
    for name in [
        "latest-23000100",
        "bonded-0",
        "bonded-1",
        "chains-0",
        "chains-1",
        "cv-0",
        "oi-0",
        "cv-1",
        "oi-1",
        "cv-3",
        "oi-3",
    ] {
        p.assert(name);
    }
    // The stopped consumer is recorded but never queried.
    assert!(!p.mocks["cv-2"].matched(), "stopped consumer 2 was queried");

    let state = snapshot(&env);
    let bonded: Vec<&str> = state["bonded_validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operator_address"].as_str().unwrap())
        .collect();
    assert_eq!(
        bonded,
        [ALICE.op, BOB.op, CAROL.op, SMARTNODES.op],
        "sorted, unbonding filtered"
    );
    let ids: Vec<&str> = state["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["consumer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["0", "1", "2", "3"],
        "registered, initialized and deleted left out by default"
    );
    assert_eq!(consumer(&state, "1")["chain_id"], "sandbox-1");
    assert_eq!(consumer(&state, "3")["chain_id"], "sandbox-1");
    assert_eq!(consumer(&state, "1")["top_n"], 95);
    assert_eq!(consumer(&state, "2")["phase"], "stopped");
    assert_eq!(consumer(&state, "2")["validators"], json!([]));
    // Bob assigned a consumer key, alice did not: both are recorded by provider valcons.
    let c0 = &consumer(&state, "0")["validators"];
    assert_eq!(c0[0]["valcons"], ALICE.valcons);
    assert_eq!(c0[1]["valcons"], BOB.valcons);
    assert!(!env.read("state.json").contains(BOB_CONSUMER_VALCONS));
    assert_eq!(
        consumer(&state, "0")["opted_in"],
        json!([CAROL.valcons, ALICE.valcons, BOB.valcons]),
        "sorted"
    );
    insta::assert_snapshot!("fetched_state", env.read("state.json"));

    // Unchanged provider (only the height moved): no byte rewritten, not even the file replaced.
    let before = (env.read("state.json"), inode(&env));
    p.latest(23_000_200);
    fetch(&env, &inv, &[])
        .success()
        .stdout_has("state.json not rewritten");
    assert_eq!((env.read("state.json"), inode(&env)), before);
}

#[test]
fn fetch_records_pre_launch_phases_on_request() {
    let mut p = standard(&[], None);
    p.consumer("4", vec![consumer_validator(&BOB, None)], &[BOB.valcons]);
    p.consumer(
        "6",
        vec![consumer_validator(&CAROL, None)],
        &[CAROL.valcons],
    );
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(
        &env,
        &inv,
        &[
            "--phase",
            "registered",
            "--phase",
            "initialized",
            "--phase",
            "launched",
        ],
    )
    .success();
    let state = snapshot(&env);
    assert_eq!(consumer(&state, "4")["phase"], "registered");
    assert_eq!(members(&state, "4"), [BOB.op]);
    assert_eq!(consumer(&state, "6")["phase"], "initialized");
    assert!(
        state["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["consumer_id"] != "5"),
        "deleted consumers are not recorded"
    );
}

#[test]
fn fetch_limited_to_one_consumer_keeps_the_others() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[]).success();
    let mut q = standard(&["consumer-0", "consumer-1"], None);
    q.consumer(
        "0",
        vec![consumer_validator(&ALICE, None)],
        &[ALICE.valcons],
    );
    q.consumer("1", vec![], &[]);
    fetch(&env, &inv, &["--provider", &q.url(), "--consumer", "sandbox-1", "--consumer", "0", "--max-drop-percent", "100"])
        .success()
        .stdout_has("consumer 0 (pion-1): validator removed: cosmosvaloper1a7u5k6f54ua3tptl9yn6u82yrvayet6sxn9ywn (\"bob\")");
    let state = snapshot(&env);
    assert_eq!(members(&state, "0"), [ALICE.op]);
    assert_eq!(members(&state, "1"), Vec::<String>::new());
    assert_eq!(members(&state, "3"), [ALICE.op, SMARTNODES.op]);
    fetch(&env, &inv, &["--provider", &q.url(), "--consumer", "99"])
        .failure()
        .stderr_has("--consumer 99: no such consumer")
        .stderr_has("the provider lists: 0 (\"pion-1\", launched), 1 (\"sandbox-1\", launched)");
}

/// Runs a failing fetch over an existing snapshot and checks the snapshot is untouched.
#[track_caller]
fn fails_keeping_snapshot(p: &Provider, extra: &[&str], message: &str) -> Run {
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    let old = std::fs::read_to_string(example_state()).unwrap();
    env.write("state.json", &old);
    let run = fetch(&env, &inv, extra);
    run.failure().stderr_has(message);
    assert_eq!(env.read("state.json"), old, "the previous snapshot changed");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".peergen"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    run
}

#[test]
fn fetch_retries_a_transient_503() {
    let mut p = standard(&["latest"], None);
    // mockito serves the first mock still missing hits: 503 once, 429 once, then the success.
    p.mount(
        "unavailable",
        "/cosmos/base/tendermint/v1beta1/blocks/latest",
        None,
        503,
        "upstream connect error".into(),
    );
    let throttled = p
        .server
        .mock("GET", "/cosmos/base/tendermint/v1beta1/blocks/latest")
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body(r#"{"code":8,"message":"rate limited"}"#)
        .create();
    p.latest(23_000_100);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[])
        .success()
        .stderr_has("HTTP 503: upstream connect error; retry 1/2")
        .stderr_has("HTTP 429: rate limited; retry 2/2 in 1000 ms");
    p.assert("unavailable");
    throttled.assert();
    assert_eq!(snapshot(&env)["provider"]["height"], 23_000_100);
}

#[test]
fn fetch_gives_up_on_a_persistent_500() {
    let mut p = standard(&["consumer-0"], None);
    p.mount(
        "cv-0",
        &format!("{ICS}/consumer_validators/0"),
        None,
        500,
        r#"{"code":13,"message":"store is corrupted","details":[]}"#.into(),
    );
    let run = fails_keeping_snapshot(
        &p,
        &[],
        "consumer_validators/0: HTTP 500 (gave up after 3 attempts): store is corrupted",
    );
    assert_eq!(run.stderr.matches("retry ").count(), 2, "{}", run.stderr);
}

#[test]
fn fetch_times_out_on_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let env = Env::new();
    let inv = inventory(&env, &format!("http://{addr}"), "");
    let old = std::fs::read_to_string(example_state()).unwrap();
    env.write("state.json", &old);
    let started = std::time::Instant::now();
    cli(
        &env,
        &[
            "fetch",
            "-i",
            &inv,
            "--timeout",
            "0.3",
            "--retries",
            "1",
            "--retry-backoff-ms",
            "1",
        ],
    )
    .failure()
    .stderr_has("blocks/latest: timed out")
    .stderr_has("gave up after 2 attempts");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(env.read("state.json"), old);
}

#[test]
fn fetch_retries_refused_connections_then_gives_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::new();
    let inv = inventory(&env, &format!("http://127.0.0.1:{port}"), "");
    let old = std::fs::read_to_string(example_state()).unwrap();
    env.write("state.json", &old);
    let run = fetch(&env, &inv, &[]);
    run.failure()
        .stderr_has("connection error")
        .stderr_has("(gave up after 3 attempts)");
    assert_eq!(run.stderr.matches("retry ").count(), 2, "{}", run.stderr);
    assert_eq!(env.read("state.json"), old);
}

#[test]
fn fetch_output_does_not_depend_on_concurrency() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &["--concurrency", "1", "--out", "one.json"]).success();
    fetch(&env, &inv, &["--concurrency", "8", "--out", "eight.json"]).success();
    assert_eq!(env.read("one.json"), env.read("eight.json"));
}

#[test]
fn fetch_rejects_truncated_json() {
    let mut p = standard(&["bonded"], None);
    let full = json!({"validators": [staking(&ALICE, "BOND_STATUS_BONDED")], "pagination": {"next_key": null, "total": "1"}}).to_string();
    p.mount(
        "bonded",
        "/cosmos/staking/v1beta1/validators",
        Some("status=BOND_STATUS_BONDED&pagination.limit=100"),
        200,
        full[..full.len() / 2].to_owned(),
    );
    fails_keeping_snapshot(
        &p,
        &[],
        "/cosmos/staking/v1beta1/validators?status=BOND_STATUS_BONDED&pagination.limit=100: the response is not the expected JSON: EOF while parsing",
    );
}

#[test]
fn fetch_detects_a_pagination_loop() {
    let mut p = standard(&["bonded"], None);
    p.bonded(vec![
        (
            vec![staking(&ALICE, "BOND_STATUS_BONDED")],
            Some(("a2V5MQ==", "a2V5MQ%3D%3D")),
        ),
        (
            vec![staking(&BOB, "BOND_STATUS_BONDED")],
            Some(("a2V5Mg==", "a2V5Mg%3D%3D")),
        ),
        (vec![], Some(("a2V5MQ==", "unused"))),
    ]);
    fails_keeping_snapshot(
        &p,
        &[],
        "pagination loop: next_key \"a2V5MQ==\" was already returned by an earlier page",
    );
}

#[test]
fn fetch_refuses_an_empty_bonded_set_unless_forced() {
    let mut p = standard(&["bonded", "consumer-0", "consumer-3", "consumer-1"], None);
    p.bonded(vec![(vec![], None)]);
    p.consumer("0", vec![], &[]);
    p.consumer("1", vec![], &[]);
    p.consumer("3", vec![], &[]);
    let run = fails_keeping_snapshot(&p, &[], "the bonded validator set would be empty (was 4)");
    assert!(
        run.stdout.contains(
            "bonded validator removed: cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg (\"alice\")"
        ),
        "changes are printed before refusing:\n{}",
        run.stdout
    );
    run.stderr_has("pass --force");

    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    env.write(
        "state.json",
        &std::fs::read_to_string(example_state()).unwrap(),
    );
    fetch(&env, &inv, &["--force"])
        .success()
        .stdout_has("state.json\n");
    assert_eq!(snapshot(&env)["bonded_validators"], json!([]));
}

#[test]
fn fetch_refuses_a_large_validator_drop_unless_forced() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[]).success();
    let old = env.read("state.json");
    let mut q = standard(&["consumer-0"], None);
    q.consumer(
        "0",
        vec![consumer_validator(&ALICE, None)],
        &[ALICE.valcons],
    );
    let run = fetch(&env, &inv, &["--provider", &q.url()]);
    run.failure()
        .stderr_has("consumer 0 (pion-1) would lose 2 of its 3 validators (66%, limit 50%)");
    assert!(
        run.stdout
            .contains("consumer 0 (pion-1): validator removed"),
        "{}",
        run.stdout
    );
    assert_eq!(env.read("state.json"), old);
    fetch(
        &env,
        &inv,
        &["--provider", &q.url(), "--max-drop-percent", "70"],
    )
    .success();
    assert_eq!(members(&snapshot(&env), "0"), [ALICE.op]);
}

#[test]
fn fetch_names_the_endpoint_and_message_of_a_400() {
    let mut p = standard(&["consumer-3"], None);
    p.mount(
        "cv-3",
        &format!("{ICS}/consumer_validators/3"),
        None,
        400,
        r#"{"code":3,"message":"unknown consumer chain: consumer id 3","details":[]}"#.into(),
    );
    let run = fails_keeping_snapshot(
        &p,
        &[],
        "/interchain_security/ccv/provider/consumer_validators/3: HTTP 400: unknown consumer chain: consumer id 3",
    );
    assert!(
        !run.stderr.contains("retry"),
        "a 4xx is not retried:\n{}",
        run.stderr
    );
}

#[test]
fn fetch_falls_back_to_a_legacy_provider() {
    let mut p = standard(&["chains", "consumer-0", "consumer-1", "consumer-3"], None);
    p.mount(
        "v6-chains",
        &format!("{ICS}/consumer_chains/0"),
        Some("pagination.limit=100"),
        501,
        r#"{"code":12,"message":"Not Implemented","details":[]}"#.into(),
    );
    let legacy = json!({"chains": [
        {"chain_id": "neutron-1", "client_id": "07-tendermint-0", "top_N": 95, "min_power_in_top_N": "100", "validators_power_cap": 0, "validator_set_cap": 0, "allowlist": [], "denylist": []},
        {"chain_id": "stride-1", "client_id": "07-tendermint-1", "top_N": 0, "min_power_in_top_N": "-1", "validators_power_cap": 0, "validator_set_cap": 0, "allowlist": [], "denylist": []}
    ]});
    p.mount(
        "legacy-chains",
        &format!("{ICS}/consumer_chains"),
        None,
        200,
        legacy.to_string(),
    );
    // v4/v5 entries carry only the provider valcons: the operator comes from the staking join.
    let legacy_validators = |vals: &[&Val]| {
        vals.iter().map(|v| json!({"provider_address": v.valcons, "consumer_key": {"ed25519": v.key}, "power": "100"})).collect::<Vec<_>>()
    };
    p.consumer(
        "neutron-1",
        legacy_validators(&[&BOB, &ALICE]),
        &[ALICE.valcons, BOB.valcons],
    );
    p.consumer("stride-1", legacy_validators(&[&CAROL]), &[CAROL.valcons]);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[])
        .success()
        .stdout_has("(ICS API legacy)");
    let state = snapshot(&env);
    assert_eq!(state["provider"]["ics_api"], "legacy");
    assert_eq!(consumer(&state, "neutron-1")["chain_id"], "neutron-1");
    assert_eq!(consumer(&state, "neutron-1")["top_n"], 95);
    assert_eq!(members(&state, "neutron-1"), [ALICE.op, BOB.op]);
    assert_eq!(
        consumer(&state, "neutron-1")["validators"][1]["moniker"],
        "bob"
    );
    assert_eq!(members(&state, "stride-1"), [CAROL.op]);
}

#[test]
fn fetch_names_the_provider_version_problem() {
    let mut p = standard(&["chains", "consumer-0", "consumer-1", "consumer-3"], None);
    p.mount(
        "v6-chains",
        &format!("{ICS}/consumer_chains/0"),
        Some("pagination.limit=100"),
        404,
        r#"{"code":5,"message":"Not Found"}"#.into(),
    );
    p.mount(
        "legacy-chains",
        &format!("{ICS}/consumer_chains"),
        None,
        200,
        json!({"chains": [{"chain_id": "neutron-1", "top_N": 95}]}).to_string(),
    );
    p.mount(
        "v5.0",
        &format!("{ICS}/consumer_validators/neutron-1"),
        None,
        501,
        r#"{"code":12,"message":"Not Implemented"}"#.into(),
    );
    fails_keeping_snapshot(&p, &[], "ICS v5.0.0 lacks partial-set-security queries");

    let mut q = standard(&["chains", "consumer-0", "consumer-1", "consumer-3"], None);
    q.mount(
        "v6-chains",
        &format!("{ICS}/consumer_chains/0"),
        Some("pagination.limit=100"),
        404,
        "404 page not found".into(),
    );
    q.mount(
        "legacy-chains",
        &format!("{ICS}/consumer_chains"),
        None,
        404,
        "404 page not found".into(),
    );
    fails_keeping_snapshot(
        &q,
        &[],
        "is this an ICS provider chain, and which interchain-security version does it run?",
    );
}

#[test]
fn fetch_checks_the_provider_chain_id() {
    let mut p = standard(&["latest"], None);
    p.mount(
        "latest",
        "/cosmos/base/tendermint/v1beta1/blocks/latest",
        None,
        200,
        json!({"block": {"header": {"chain_id": "theta-testnet-001", "height": "5"}}}).to_string(),
    );
    fails_keeping_snapshot(
        &p,
        &[],
        "provider chain id is \"theta-testnet-001\" but the inventory says provider.chain_id \"cosmoshub-4\"",
    );

    // The chain id is printed and recorded: terminal control sequences never get that far.
    let mut q = standard(&["latest"], None);
    q.mount(
        "latest",
        "/cosmos/base/tendermint/v1beta1/blocks/latest",
        None,
        200,
        json!({"block": {"header": {"chain_id": "\u{1b}[2Jhub", "height": "5"}}}).to_string(),
    );
    let run = fails_keeping_snapshot(
        &q,
        &[],
        "blocks/latest: block.header.chain_id: \"\\u{1b}[2Jhub\" is not a supported chain id",
    );
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
}

#[test]
fn fetch_sends_credentials_but_never_shows_them() {
    let p = standard(&[], Some(format!("Bearer {TOKEN}")));
    let env = Env::new();
    let inv = inventory(
        &env,
        &p.url(),
        "  auth:\n    bearer_token_env: PEERGEN_TEST_TOKEN\n",
    );
    let args = [
        "-vvv",
        "fetch",
        "-i",
        &inv,
        "--retries",
        "1",
        "--retry-backoff-ms",
        "1",
    ];
    let run = run_with_env(&env, &args, &[("PEERGEN_TEST_TOKEN", TOKEN)]);
    run.success();
    p.assert("cv-0");
    assert!(
        run.stderr.contains("GET http://127.0.0.1"),
        "trace logs show the URLs:\n{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "token leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!env.read("state.json").contains(TOKEN));

    // Even a log filter asking for the HTTP client's trace output gets no request bytes.
    let traced = run_with_env(
        &env,
        &args,
        &[
            ("PEERGEN_TEST_TOKEN", TOKEN),
            ("PEERGEN_LOG", "trace,ureq=trace,ureq_proto=trace"),
        ],
    );
    traced.success();
    assert!(
        !traced.stderr.contains(TOKEN),
        "token leaked:\n{}",
        traced.stderr
    );

    // A wrong token matches no mock (mockito answers 501): the failure does not show it either.
    let wrong = run_with_env(&env, &args, &[("PEERGEN_TEST_TOKEN", "not-the-token")]);
    wrong.failure().stderr_has("HTTP 501");
    assert!(!wrong.stderr.contains("not-the-token"), "{}", wrong.stderr);
    let missing = cli(&env, &["fetch", "-i", &inv]);
    missing
        .failure()
        .stderr_has("provider.auth: environment variable PEERGEN_TEST_TOKEN is not set");

    // Basic auth in the URL: sent as a header, redacted from every message.
    let mut q = standard(
        &["consumer-0"],
        Some(format!("Basic {}", "dXNlcjpwdy1zM2NyM3Q=")),
    );
    q.mount(
        "cv-0",
        &format!("{ICS}/consumer_validators/0"),
        None,
        500,
        "boom".into(),
    );
    let url = q.url().replace("http://", "http://user:pw-s3cr3t@");
    let env = Env::new();
    let inv = inventory(&env, "http://127.0.0.1:9", "");
    let run = cli(
        &env,
        &[
            "-vvv",
            "fetch",
            "-i",
            &inv,
            "--provider",
            &url,
            "--retries",
            "1",
            "--retry-backoff-ms",
            "1",
        ],
    );
    run.failure()
        .stderr_has("consumer_validators/0: HTTP 500 (gave up after 2 attempts): boom");
    assert!(
        !run.stderr.contains("pw-s3cr3t") && !run.stdout.contains("pw-s3cr3t"),
        "password leaked:\n{}",
        run.stderr
    );
}

/// Peer node IDs per (validator, consumer id) in a rendered tree.
fn rendered_peers(dir: &std::path::Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (path, text) in read_tree(dir) {
        if !path.ends_with("peers.yaml") {
            continue;
        }
        let validator = path.split('/').next().unwrap().to_owned();
        let consumer_id = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("peergen.io/consumer-id: "))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let mut in_list = false;
        let mut peers = BTreeSet::new();
        for line in text.lines() {
            if line.trim() == "peers.txt: |" {
                in_list = true;
            } else if in_list && line.starts_with("    ") {
                peers.insert(line.trim().split('@').next().unwrap().to_owned());
            } else {
                in_list = false;
            }
        }
        out.insert((validator, consumer_id), peers);
    }
    out
}

#[test]
fn fetched_state_renders_the_servers_validator_sets() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    cli(&env, &["fetch", "-i", &inv]).success();
    cli(&env, &["render", "-i", &inv, "--out", "out"]).success();
    let got = rendered_peers(&env.path("out"));

    // The server's sets (see `standard`), restricted to the inventory's validators.
    let sets: [(&str, Vec<&Val>); 3] = [
        ("0", vec![&ALICE, &BOB, &CAROL]),
        ("1", vec![&CAROL]),
        ("3", vec![&SMARTNODES, &ALICE]),
    ];
    let inventory = [&ALICE, &BOB, &CAROL];
    let mut want = BTreeMap::new();
    for (id, set) in &sets {
        for me in set
            .iter()
            .filter(|v| inventory.iter().any(|i| i.op == v.op))
        {
            let peers: BTreeSet<String> = set
                .iter()
                .filter(|v| v.op != me.op && inventory.iter().any(|i| i.op == v.op))
                .map(|v| v.node_id.to_owned())
                .collect();
            want.insert((me.moniker.to_owned(), (*id).to_owned()), peers);
        }
    }
    assert_eq!(got, want);
}

#[test]
fn fetch_reports_a_redirect_instead_of_following_it() {
    let mut p = standard(&["latest"], None);
    p.server
        .mock("GET", "/cosmos/base/tendermint/v1beta1/blocks/latest")
        .with_status(301)
        .with_header(
            "location",
            "https://other.example.org/cosmos/base/tendermint/v1beta1/blocks/latest",
        )
        .create();
    fails_keeping_snapshot(
        &p,
        &[],
        "HTTP 301: redirects to https://other.example.org/cosmos/base/tendermint/v1beta1/blocks/latest",
    );
}

#[test]
fn fetch_reads_safety_limit_and_auth_from_the_inventory() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[]).success();
    let mut q = standard(&["consumer-0"], None);
    q.consumer(
        "0",
        vec![
            consumer_validator(&ALICE, None),
            consumer_validator(&BOB, None),
        ],
        &[],
    );
    // One of three is 33%: below the default 50%, above an inventory limit of 20%.
    let strict = inventory(&env, &p.url(), "  max_drop_percent: 20\n");
    fetch(&env, &strict, &["--provider", &q.url()])
        .failure()
        .stderr_has("consumer 0 (pion-1) would lose 1 of its 3 validators (33%, limit 20%)");
    fetch(
        &env,
        &strict,
        &["--provider", &q.url(), "--max-drop-percent", "40"],
    )
    .success();

    let both = inventory(
        &env,
        &p.url(),
        "  auth:\n    bearer_token_env: A\n    basic_auth_env: B\n",
    );
    fetch(&env, &both, &[])
        .failure()
        .stderr_has("provider.auth: set exactly one of bearer_token_env or basic_auth_env");
    let secret = inventory(
        &env,
        &p.url(),
        "  auth:\n    bearer_token_env: \"Bearer abc\"\n",
    );
    fetch(&env, &secret, &[]).failure().stderr_has(
        "provider.auth.bearer_token_env: \"Bearer abc\" is not an environment variable name",
    );
    let basic = inventory(
        &env,
        &p.url(),
        "  auth:\n    basic_auth_env: PEERGEN_TEST_BASIC\n",
    );
    run_with_env(
        &env,
        &["fetch", "-i", &basic],
        &[("PEERGEN_TEST_BASIC", "no-colon")],
    )
    .failure()
    .stderr_has("environment variable PEERGEN_TEST_BASIC must hold `user:password`");
}

#[test]
fn fetch_with_timestamp_records_the_fetch_time() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &["--with-timestamp"]).success();
    let at = snapshot(&env)["provider"]["fetched_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let shape = at.len() == 20
        && at.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == 'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "{at} is not RFC 3339 UTC");
    assert!(at.as_str() > "2020-01-01", "{at}");
    // The time alone is no change: a later fetch without the flag keeps the file as it is.
    fetch(&env, &inv, &[]).success().stdout_has("not rewritten");
    assert_eq!(snapshot(&env)["provider"]["fetched_at"], at.as_str());
}

#[test]
fn fetch_without_a_latest_block_query_uses_the_inventory_chain_id() {
    let mut p = standard(&["latest"], None);
    p.mount(
        "no-latest",
        "/cosmos/base/tendermint/v1beta1/blocks/latest",
        None,
        501,
        r#"{"code":12,"message":"Not Implemented"}"#.into(),
    );
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[])
        .success()
        .stderr_has("the snapshot records height 0 and the inventory's provider.chain_id");
    let state = snapshot(&env);
    assert_eq!(state["provider"]["chain_id"], "cosmoshub-4");
    assert_eq!(state["provider"]["height"], 0);

    let bare = env.write("bare.yaml", "version: 1\nnetwork: cosmos\nvalidators: {}\n");
    let bare = bare.to_str().unwrap();
    fetch(&env, bare, &["--out", "x.json"])
        .failure()
        .stderr_has("no provider URL: pass --provider URL or set provider.rest in the inventory");
    fetch(&env, bare, &["--provider", &p.url()])
        .failure()
        .stderr_has("no snapshot path: pass --out FILE or set `state:` in the inventory");
    fetch(&env, bare, &["--provider", &p.url(), "--out", "x.json"])
        .failure()
        .stderr_has("no chain id: the provider has no blocks/latest query and the inventory sets no provider.chain_id");
    assert!(!env.path("x.json").exists());
}

/// Issue 6's end-to-end path: a zone rendered from the provider's state is served by a real
/// `named`; a second inventory whose validators publish their endpoints only in DNS fetches from the
/// provider, resolves the SRV records while fetching, and renders exactly the same peer config.
#[test]
fn fetch_resolves_dns_published_endpoints_and_renders_the_same_peers() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    env.write(
        "dns.yaml",
        "dns:\n  default_zone: validators.zone\n  zones:\n    validators.zone:\n      ttl: 300\n      hostmaster: dns.admin@validators.zone\n      ns: [ns1.validators.zone]\n  addresses:\n    ns1.validators.zone: [127.0.0.1]\n",
    );
    cli(&env, &["fetch", "-i", &inv]).success();
    cli(
        &env,
        &["render", "-i", &inv, "-i", "dns.yaml", "--out", "published"],
    )
    .success();
    let named = crate::dns::start_named(&[(
        "validators.zone",
        env.path("published/dns/validators.zone.zone"),
    )]);

    let mut validators = String::new();
    for v in [&ALICE, &BOB, &CAROL] {
        let endpoint = if v.moniker == "carol" {
            "consumer_template: carol-{{chain-id}}.example.org:{{port}}".to_owned()
        } else {
            "endpoint_source: dns".to_owned()
        };
        validators.push_str(&format!(
            "  {m}:\n    operator_address: {op}\n    moniker: {m}\n    {endpoint}\n    node_id: {id}\n",
            m = v.moniker,
            op = v.op,
            id = v.node_id
        ));
    }
    env.write(
        "subscriber.yaml",
        &format!(
            "provider:\n  chain_id: cosmoshub-4\n  rest: {}\nstate: sub-state.json\nvalidators:\n{validators}",
            p.url()
        ),
    );
    let ns = format!("127.0.0.1:{}", named.port);
    let run = fetch(
        &env,
        "subscriber.yaml",
        &["-i", "dns.yaml", "--nameserver", &ns, "--dns-timeout", "2"],
    );
    run.success();
    let state = env.read("sub-state.json");
    assert!(
        state.contains("\"query\": \"_cosmos-p2p._tcp.alice-pion-1.validators.zone\""),
        "{state}"
    );
    cli(
        &env,
        &[
            "render",
            "-i",
            "subscriber.yaml",
            "-i",
            "dns.yaml",
            "--out",
            "subscribed",
        ],
    )
    .success();
    let peers = |dir: &str| -> BTreeMap<String, String> {
        read_tree(&env.path(dir))
            .into_iter()
            .filter(|(path, _)| path.ends_with("/peers.yaml"))
            .collect()
    };
    let published = peers("published");
    assert_eq!(published.len(), 5, "{:?}", published.keys());
    assert_eq!(peers("subscribed"), published);

    drop(named);
    let before = env.read("sub-state.json");
    fetch(
        &env,
        "subscriber.yaml",
        &["-i", "dns.yaml", "--nameserver", &ns, "--dns-timeout", "1"],
    )
    .failure()
    .stderr_has(
        "validator alice, consumer 0 (pion-1): SRV _cosmos-p2p._tcp.alice-pion-1.validators.zone",
    );
    assert_eq!(
        env.read("sub-state.json"),
        before,
        "a failed fetch keeps the old snapshot"
    );
}

#[test]
fn fetch_stops_on_an_empty_page_that_still_has_a_next_key() {
    let mut p = standard(&["bonded"], None);
    p.bonded(vec![
        (
            vec![staking(&ALICE, "BOND_STATUS_BONDED")],
            Some(("a2V5MQ==", "a2V5MQ%3D%3D")),
        ),
        (vec![], Some(("a2V5Mg==", "a2V5Mg%3D%3D"))),
        (vec![], Some(("a2V5Mw==", "unused"))),
    ]);
    fails_keeping_snapshot(
        &p,
        &[],
        "/cosmos/staking/v1beta1/validators: page 2 is empty but still returns next_key \"a2V5Mg==\"; the provider's pagination does not advance",
    );
    assert!(
        !p.mocks["bonded-2"].matched(),
        "fetched past the empty page"
    );
}

#[test]
fn fetch_refuses_a_provider_url_with_a_query_without_showing_it() {
    let env = Env::new();
    let inv = inventory(&env, "http://127.0.0.1:9", "");
    for url in [
        "https://h/api?apikey=SUPERSECRET",
        "https://h?apikey=SUPERSECRET",
        "https://h/api#SUPERSECRET",
    ] {
        let run = fetch(&env, &inv, &["--provider", url]);
        run.failure().stderr_has(
            "the provider URL must not carry a query string or fragment; put credentials in provider.auth",
        );
        assert!(!run.stderr.contains("SUPERSECRET"), "{}", run.stderr);
        assert!(!run.stdout.contains("SUPERSECRET"), "{}", run.stdout);
    }
}

#[test]
fn fetch_decodes_url_credentials_and_never_shows_a_password_with_a_slash() {
    // `pa/ss@w:rd` arrives partly encoded (`:` as %3A) and partly not (`/`, `@`).
    let mut p = standard(
        &["consumer-0"],
        Some(format!("Basic {}", "dXNlcjpwYS9zc0B3OnJk")),
    );
    p.mount(
        "cv-0",
        &format!("{ICS}/consumer_validators/0"),
        None,
        500,
        "boom".into(),
    );
    let url = p.url().replace("http://", "http://user:pa/ss@w%3Ard@");
    let env = Env::new();
    let inv = inventory(&env, "http://127.0.0.1:9", "");
    let run = cli(
        &env,
        &[
            "-vvv",
            "fetch",
            "-i",
            &inv,
            "--provider",
            &url,
            "--retries",
            "0",
        ],
    );
    run.failure().stderr_has(&format!(
        "{}/interchain_security/ccv/provider/consumer_validators/0: HTTP 500",
        p.url()
    ));
    // Every other query matched the decoded Basic credentials.
    p.assert("bonded-1");
    for shown in ["pa/ss", "ss@w", "w%3Ard", "user:"] {
        assert!(
            !run.stderr.contains(shown) && !run.stdout.contains(shown),
            "{shown} leaked:\n{}",
            run.stderr
        );
    }
}

#[test]
fn fetch_pins_every_query_to_the_latest_blocks_height() {
    let mut p = Provider::new();
    p.height = Some(Matcher::Exact("23000100".to_owned()));
    let p = standard_on(p, &[]);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    // A query without the header matches no mock (mockito answers 501), failing the fetch.
    fetch(&env, &inv, &[]).success();
    for name in ["bonded-1", "chains-1", "cv-0", "oi-0", "cv-1", "oi-3"] {
        p.assert(name);
    }
    assert_eq!(snapshot(&env)["provider"]["height"], 23_000_100);

    // Without blocks/latest there is no height to pin: no header is sent.
    let mut q = Provider::new();
    q.height = Some(Matcher::Missing);
    let mut q = standard_on(q, &["latest"]);
    q.mount(
        "no-latest",
        "/cosmos/base/tendermint/v1beta1/blocks/latest",
        None,
        501,
        r#"{"code":12,"message":"Not Implemented"}"#.into(),
    );
    let env = Env::new();
    let inv = inventory(&env, &q.url(), "");
    fetch(&env, &inv, &[]).success();
    q.assert("cv-0");
    assert_eq!(snapshot(&env)["provider"]["height"], 0);
}

/// The chains listing of `standard` plus `extra` on the last page.
fn chains_with(p: &mut Provider, extra: Vec<Value>) {
    let mut last = vec![
        chain("3", "sandbox-1", "LAUNCHED"),
        chain("4", "dash-2", "REGISTERED"),
        chain("5", "old-1", "DELETED"),
        chain("6", "neutron-1", "INITIALIZED"),
    ];
    last.extend(extra);
    let camel = json!({"chainId": "sandbox-1", "consumerId": "1", "topN": 95, "phase": "CONSUMER_PHASE_LAUNCHED", "clientId": "07-tendermint-1"});
    p.chains(vec![
        (
            vec![
                chain("0", "pion-1", "LAUNCHED"),
                camel,
                chain("2", "stride-1", "STOPPED"),
            ],
            Some(("Mw==", "Mw%3D%3D")),
        ),
        (last, None),
    ]);
}

#[test]
fn fetch_skips_a_pre_launch_consumer_whose_chain_id_peergen_cannot_record() {
    let mut p = standard(&["chains"], None);
    chains_with(
        &mut p,
        vec![
            chain("7", "My Test/Chain", "REGISTERED"),
            chain("8", "\u{1b}[2Jx", "INITIALIZED"),
            chain("9", "-stopped", "STOPPED"),
        ],
    );
    p.consumer("4", vec![consumer_validator(&BOB, None)], &[BOB.valcons]);
    p.consumer(
        "6",
        vec![consumer_validator(&CAROL, None)],
        &[CAROL.valcons],
    );
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    let all = [
        "--phase",
        "registered",
        "--phase",
        "initialized",
        "--phase",
        "launched",
    ];
    let run = fetch(&env, &inv, &all);
    run.success()
        .stderr_has(
            "skipping registered consumer \"7\": \"My Test/Chain\" is not a supported chain id",
        )
        .stderr_has(
            "skipping initialized consumer \"8\": \"\\u{1b}[2Jx\" is not a supported chain id",
        )
        .stderr_has("skipping stopped consumer \"9\"");
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    let state = snapshot(&env);
    let ids: Vec<&str> = state["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["consumer_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4", "6"]);

    // A launched consumer's peers matter: its unsupported chain id fails the fetch.
    let mut q = standard(&["chains"], None);
    chains_with(&mut q, vec![chain("7", "My Test/Chain", "LAUNCHED")]);
    fails_keeping_snapshot(
        &q,
        &[],
        "/interchain_security/ccv/provider/consumer_chains/0: launched consumer \"7\": \"My Test/Chain\" is not a supported chain id",
    );
}

#[test]
fn fetch_summary_escapes_control_characters_in_monikers() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[]).success();
    let mut q = standard(&["consumer-3"], None);
    let mut evil = consumer_validator(&BOB, None);
    evil["description"]["moniker"] = json!("\u{1b}]0;owned\u{7}\u{1b}[2Jbob\r");
    q.consumer(
        "3",
        vec![
            consumer_validator(&SMARTNODES, None),
            consumer_validator(&ALICE, None),
            evil,
        ],
        &[],
    );
    let run = fetch(&env, &inv, &["--provider", &q.url()]);
    run.success().stdout_has(&format!(
        "consumer 3 (sandbox-1): validator added: {} (\"\\u{{1b}}]0;owned\\u{{7}}\\u{{1b}}[2Jbob\\r\")",
        BOB.op
    ));
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\r'),
        "{}",
        run.stdout
    );
}

/// In CI stderr is not a terminal: the log stays line-oriented, with no progress-bar redraws or
/// colour codes.
#[test]
fn fetch_logs_stay_line_oriented_without_a_terminal() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    let run = cli(&env, &["-v", "fetch", "-i", &inv]);
    run.success();
    assert!(!run.stderr.is_empty(), "-v logs progress lines");
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains('\x1b'),
        "{:?}",
        run.stderr
    );
}

/// A body that is not UTF-8 text (here gzip, which peergen never asks for) is a protocol error:
/// named with its encoding, not retried as if the connection had failed.
#[test]
fn a_gzip_or_binary_body_is_a_protocol_error_not_retried() {
    for (encoding, expected) in [
        (
            Some("gzip"),
            "HTTP 200: the body is gzip-encoded; peergen asks for no content encoding",
        ),
        (
            None,
            "HTTP 200: the body is not UTF-8 text, so not a JSON answer",
        ),
    ] {
        let mut p = standard(&["latest"], None);
        let mut m = p
            .server
            .mock("GET", "/cosmos/base/tendermint/v1beta1/blocks/latest")
            .with_status(200)
            // The gzip magic and a deflate header: never valid UTF-8.
            .with_body([0x1f_u8, 0x8b, 0x08, 0x00, 0xff, 0xfe]);
        if let Some(e) = encoding {
            m = m.with_header("content-encoding", e);
        }
        let m = m.expect(1).create();
        let run = fails_keeping_snapshot(&p, &[], expected);
        assert!(!run.stderr.contains("retry "), "{}", run.stderr);
        m.assert();
    }
}

/// A Top-N beyond 64 bits arrives as a JSON float; it is named as a bad Top-N, like any other.
#[test]
fn a_top_n_beyond_64_bits_is_named_as_a_bad_percentage() {
    let mut p = standard(&["chains"], None);
    let mut huge = chain("7", "huge-1", "LAUNCHED");
    huge["top_N"] = json!(18_446_744_073_709_551_616.0_f64);
    chains_with(&mut p, vec![huge]);
    fails_keeping_snapshot(
        &p,
        &[],
        "top_N: \"18446744073709552000\" is not a Top-N percentage",
    );
}

/// Consumers 1 and 3 share chain id sandbox-1: 1 renders as `sandbox-1/`, 3 as `sandbox-1--3/`.
/// When 1 stops, 3 keeps its directory (and every name made from it): the snapshot records it.
#[test]
fn a_running_consumer_keeps_its_directory_when_its_namesake_stops() {
    let env = Env::new();
    let p = standard(&[], None);
    let inv = inventory(&env, &p.url(), "");
    fetch(&env, &inv, &[]).success();
    assert_eq!(consumer(&snapshot(&env), "3")["name"], "sandbox-1--3");
    let dirs = |env: &Env| -> Vec<String> {
        env.run(["render", "-i", &inv, "--out", "out"]).success();
        read_tree(&env.path("out"))
            .keys()
            .filter_map(|k| k.split('/').nth(1))
            .filter(|d| d.starts_with("sandbox-1"))
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(dirs(&env), ["sandbox-1", "sandbox-1--3"]);

    let mut q = standard(&["chains"], None);
    let stopped = json!({"chainId": "sandbox-1", "consumerId": "1", "topN": 95, "phase": "CONSUMER_PHASE_STOPPED", "clientId": "07-tendermint-1"});
    q.chains(vec![(
        vec![
            chain("0", "pion-1", "LAUNCHED"),
            stopped,
            chain("2", "stride-1", "STOPPED"),
            chain("3", "sandbox-1", "LAUNCHED"),
        ],
        None,
    )]);
    let inv = inventory(&env, &q.url(), "");
    fetch(&env, &inv, &["--max-drop-percent", "100"]).success();
    let state = snapshot(&env);
    assert_eq!(consumer(&state, "1")["name"], "sandbox-1");
    assert_eq!(consumer(&state, "3")["name"], "sandbox-1--3");
    assert_eq!(dirs(&env), ["sandbox-1--3"]);
}

/// With `allowlist:` in the inventory, `fetch` resolves every planned host name's A and AAAA
/// records from a real `named` and locks them into the snapshot; a name that does not resolve fails
/// the fetch and leaves the previous snapshot byte-identical.
#[test]
fn fetch_locks_the_addresses_an_allowlist_needs() {
    let p = standard(&[], None);
    let env = Env::new();
    let inv = inventory(&env, &p.url(), "");
    env.write(
        "allowlist.yaml",
        "allowlist:\n  pod_selector: {app.kubernetes.io/instance: \"{{chain_id}}\"}\n",
    );
    let zone = |extra: &str| {
        format!(
            "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. hostmaster.example.org. 1 3600 600 604800 300\n@ IN NS ns1.example.org.\nns1 IN A 127.0.0.1\nalice-pion-1 IN A 198.51.100.1\nalice-pion-1 IN AAAA 2001:db9::1\n{extra}"
        )
    };
    let named = crate::dns::start_named(&[(
        "example.org",
        env.write("wild.zone", &zone("* IN A 198.51.100.9\n")),
    )]);
    let ns = format!("127.0.0.1:{}", named.port);
    fetch(
        &env,
        &inv,
        &[
            "-i",
            "allowlist.yaml",
            "--nameserver",
            &ns,
            "--dns-timeout",
            "2",
        ],
    )
    .success();
    let state = snapshot(&env);
    let locked = state["resolved_addresses"].as_array().unwrap();
    assert!(locked.len() >= 3, "{locked:?}");
    assert_eq!(
        locked[0],
        json!({"host": "alice-pion-1.example.org", "addresses": ["198.51.100.1", "2001:db9::1"]})
    );
    assert!(
        locked[1..]
            .iter()
            .all(|r| r["addresses"] == json!(["198.51.100.9"])),
        "{locked:?}"
    );
    cli(
        &env,
        &["render", "-i", &inv, "-i", "allowlist.yaml", "--out", "out"],
    )
    .success();
    let policy = env.read("out/bob/pion-1/network-policy.yaml");
    assert!(policy.contains("cidr: \"2001:db9::1/128\""), "{policy}");

    // Without the wildcard only alice's name resolves: the fetch fails, the snapshot stays.
    drop(named);
    let before = env.read("state.json");
    let named = crate::dns::start_named(&[("example.org", env.write("only.zone", &zone("")))]);
    let ns = format!("127.0.0.1:{}", named.port);
    fetch(
        &env,
        &inv,
        &[
            "-i",
            "allowlist.yaml",
            "--nameserver",
            &ns,
            "--dns-timeout",
            "2",
        ],
    )
    .failure()
    .stderr_has("allowlist: host alice-sandbox-1.example.org: A lookup: no such name (NXDOMAIN)");
    assert_eq!(env.read("state.json"), before);
}
