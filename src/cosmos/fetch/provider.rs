//! Reading an ICS provider: its identity and height, the bonded set, the consumers of either ICS
//! API generation and their validator sets, pinned to one block.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::http::{Client, RestError};
use super::progress::Progress;
use super::raw::{
    ChainsPage, ConsumerValidatorsResponse, EnumValue, LatestBlock, Num, OptedInResponse,
    ValidatorsPage,
};
use super::{FetchError, ICS, LATEST_BLOCK, PAGE_LIMIT, STAKING_VALIDATORS};
use crate::cosmos::state::valcons;
use crate::cosmos::state::{
    self, BondedValidator, Consumer, ConsumerValidator, Phase, Provider, ProviderState,
};

/// Which ICS query generation the provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcsApi {
    /// ICS v6+: consumer-id keyed, with phases.
    V6,
    /// ICS v4.4/v5.x: chain-id keyed, every listed consumer is running.
    Legacy,
}

impl IcsApi {
    fn as_str(self) -> &'static str {
        match self {
            IcsApi::V6 => "v6",
            IcsApi::Legacy => "legacy",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct FetchOptions {
    pub(crate) bech32_prefix: String,
    /// Active phases to record; stopped consumers are always recorded.
    pub(crate) phases: Vec<Phase>,
    /// Consumer ids or chain ids to limit the fetch to; empty means all.
    pub(crate) consumers: Vec<String>,
    pub(crate) concurrency: usize,
    /// `provider.chain_id` from the inventory: checked against the provider, or used when it cannot say.
    pub(crate) expected_chain_id: Option<String>,
    pub(crate) fetched_at: Option<String>,
}

/// A consumer as listed, before its validator sets are read.
#[derive(Clone, Debug)]
struct Listed {
    consumer_id: String,
    chain_id: String,
    phase: Phase,
    top_n: u32,
}

/// Queries the provider and builds the complete new snapshot in memory. Nothing is written here,
/// so later steps (endpoint resolution, safety checks) see the whole state before any byte changes.
pub(super) fn fetch_state(
    client: &Client,
    opts: &FetchOptions,
) -> Result<ProviderState, FetchError> {
    let (chain_id, height) = provider_identity(client, opts)?;
    // Every further query is answered at the height blocks/latest reported, so the snapshot is
    // one block's state rather than a mix of blocks; without that query there is no height to pin.
    let pinned;
    let client = if height > 0 {
        pinned = client.at_height(height);
        &pinned
    } else {
        client
    };
    let bonded = fetch_bonded(client, &opts.bech32_prefix)?;
    tracing::info!("{} bonded validators", bonded.len());
    let (api, listed) = list_consumers(client)?;
    let selected = supported_chain_ids(select(listed, opts)?, &client.url(&listing_path(api)))?;
    tracing::info!(
        "ICS API {}: {} consumers to fetch",
        api.as_str(),
        selected.len()
    );
    let consumers = fetch_consumers(client, api, &selected, &bonded, opts)?;
    Ok(ProviderState {
        format: state::FORMAT.to_owned(),
        provider: Provider {
            chain_id,
            height,
            ics_api: api.as_str().to_owned(),
            fetched_at: opts.fetched_at.clone(),
        },
        bonded_validators: bonded,
        consumers,
        resolved_endpoints: Vec::new(),
        registry: None,
        chain_registry: Vec::new(),
        resolved_addresses: Vec::new(),
    })
}

fn is_missing_route(e: &RestError) -> bool {
    matches!(e.status(), Some(404 | 501))
}

fn provider_identity(client: &Client, opts: &FetchOptions) -> Result<(String, u64), FetchError> {
    let url = client.url(LATEST_BLOCK);
    match client.get_json::<LatestBlock>(LATEST_BLOCK) {
        Ok(latest) => {
            let header = latest
                .sdk_block
                .or(latest.block)
                .ok_or_else(|| FetchError::Invalid {
                    url: url.clone(),
                    field: "block".to_owned(),
                    message: "missing: neither `sdk_block` nor `block` is present".to_owned(),
                })?
                .header;
            let height_text = header.height.text();
            let height = height_text
                .parse::<u64>()
                .map_err(|_| FetchError::Invalid {
                    url: url.clone(),
                    field: "block.header.height".to_owned(),
                    message: format!("{height_text:?} is not a block height"),
                })?;
            // Printed in the summary and written to the snapshot: the closed set of consumer chain ids.
            state::validate_chain_id(&header.chain_id).map_err(|message| FetchError::Invalid {
                url: url.clone(),
                field: "block.header.chain_id".to_owned(),
                message,
            })?;
            if let Some(expected) = &opts.expected_chain_id
                && *expected != header.chain_id
            {
                return Err(FetchError::ChainIdMismatch {
                    url,
                    expected: expected.clone(),
                    actual: header.chain_id,
                });
            }
            Ok((header.chain_id, height))
        }
        Err(e) if is_missing_route(&e) => {
            tracing::warn!(
                "{url}: not served ({e}); the snapshot records height 0 and the inventory's provider.chain_id"
            );
            let chain_id = opts
                .expected_chain_id
                .clone()
                .ok_or(FetchError::NoChainId { url })?;
            Ok((chain_id, 0))
        }
        Err(e) => Err(e.into()),
    }
}

fn check_bech32(url: &str, field: &str, value: &str, hrp: &str) -> Result<(), FetchError> {
    match bech32::decode(value) {
        Ok((h, _)) if h.as_str() == hrp => Ok(()),
        _ => Err(FetchError::Invalid {
            url: url.to_owned(),
            field: field.to_owned(),
            message: format!("{value:?} is not a bech32 address with prefix {hrp:?}"),
        }),
    }
}

fn fetch_bonded(client: &Client, prefix: &str) -> Result<Vec<BondedValidator>, FetchError> {
    let url = client.url(STAKING_VALIDATORS);
    let query = format!("status=BOND_STATUS_BONDED&pagination.limit={PAGE_LIMIT}");
    let pages = client.get_pages::<ValidatorsPage>(STAKING_VALIDATORS, &query)?;
    let mut out: BTreeMap<String, BondedValidator> = BTreeMap::new();
    for raw in pages.into_iter().flat_map(|p| p.validators) {
        // Pages are flattened, so an index would mislead: name the validator instead.
        let op = raw.operator_address.clone();
        let field = |f: &str| format!("validator {op}: {f}");
        // The query already filters by status; a gateway that ignores the filter must not widen the set.
        let bonded = match &raw.status {
            None => true,
            Some(EnumValue::Name(n)) => n == "BOND_STATUS_BONDED",
            Some(EnumValue::Number(n)) => n == &3,
        };
        if !bonded {
            tracing::debug!("{url}: skipping {} (not bonded)", raw.operator_address);
            continue;
        }
        check_bech32(
            &url,
            &field("operator_address"),
            &raw.operator_address,
            &format!("{prefix}valoper"),
        )?;
        let key_type = raw.consensus_pubkey.type_url.as_deref().unwrap_or("");
        if !matches!(
            key_type,
            "/cosmos.crypto.ed25519.PubKey" | "tendermint/PubKeyEd25519"
        ) {
            return Err(FetchError::Invalid {
                url,
                field: field("consensus_pubkey"),
                message: format!(
                    "validator {} has a {key_type:?} consensus key; only ed25519 keys are supported",
                    raw.operator_address
                ),
            });
        }
        let key = raw
            .consensus_pubkey
            .key
            .ok_or_else(|| FetchError::Invalid {
                url: url.clone(),
                field: field("consensus_pubkey.key"),
                message: "missing".to_owned(),
            })?;
        let valcons =
            valcons::from_ed25519_base64(prefix, &key).map_err(|source| FetchError::Valcons {
                url: url.clone(),
                operator: raw.operator_address.clone(),
                source,
            })?;
        let tokens = raw.tokens.text();
        if tokens.is_empty()
            || !tokens.bytes().all(|b| b.is_ascii_digit())
            || (tokens.len() > 1 && tokens.starts_with('0'))
        {
            return Err(FetchError::Invalid {
                url,
                field: field("tokens"),
                message: format!("{tokens:?} is not a decimal token amount"),
            });
        }
        let v = BondedValidator {
            operator_address: raw.operator_address.clone(),
            moniker: raw.description.moniker,
            tokens,
            consensus_pubkey: key,
            valcons,
        };
        if out.insert(raw.operator_address.clone(), v).is_some() {
            return Err(FetchError::Invalid {
                url,
                field: field("operator_address"),
                message: format!(
                    "{} is listed on two pages; the provider's pagination is inconsistent",
                    raw.operator_address
                ),
            });
        }
    }
    Ok(out.into_values().collect())
}

fn parse_phase(
    url: &str,
    field: &str,
    value: Option<&EnumValue>,
) -> Result<Option<Phase>, FetchError> {
    let invalid = |shown: String| FetchError::Invalid {
        url: url.to_owned(),
        field: field.to_owned(),
        message: format!("{shown} is not a consumer phase"),
    };
    Ok(match value {
        None => return Err(invalid("a missing value".to_owned())),
        Some(EnumValue::Name(n)) => match n.strip_prefix("CONSUMER_PHASE_").unwrap_or(n) {
            "REGISTERED" => Some(Phase::Registered),
            "INITIALIZED" => Some(Phase::Initialized),
            "LAUNCHED" => Some(Phase::Launched),
            "STOPPED" => Some(Phase::Stopped),
            "DELETED" => Some(Phase::Deleted),
            "UNSPECIFIED" => None,
            _ => return Err(invalid(format!("{n:?}"))),
        },
        Some(EnumValue::Number(n)) => match n {
            1 => Some(Phase::Registered),
            2 => Some(Phase::Initialized),
            3 => Some(Phase::Launched),
            4 => Some(Phase::Stopped),
            5 => Some(Phase::Deleted),
            0 => None,
            _ => return Err(invalid(n.to_string())),
        },
    })
}

fn parse_top_n(url: &str, field: &str, value: Option<&Num>) -> Result<u32, FetchError> {
    let Some(value) = value else { return Ok(0) };
    let text = value.text();
    text.parse::<u32>().map_err(|_| FetchError::Invalid {
        url: url.to_owned(),
        field: field.to_owned(),
        message: format!("{text:?} is not a Top-N percentage"),
    })
}

fn listing_path(api: IcsApi) -> String {
    match api {
        // Phase 0 applies no filter: one listing also yields the stopped consumers the snapshot records.
        IcsApi::V6 => format!("{ICS}/consumer_chains/0"),
        IcsApi::Legacy => format!("{ICS}/consumer_chains"),
    }
}

/// Snapshot chain ids have a closed character set (`state::validate_chain_id`), while the chain
/// accepts any. A consumer not launched yet has no peers to render, so one with an unsupported
/// chain id is left out with a warning rather than failing the fetch for every consumer; a
/// launched one is an error, because its validators need their peers.
fn supported_chain_ids(listed: Vec<Listed>, url: &str) -> Result<Vec<Listed>, FetchError> {
    let mut kept = Vec::with_capacity(listed.len());
    for c in listed {
        match state::validate_chain_id(&c.chain_id) {
            Ok(()) => kept.push(c),
            Err(message) if c.phase != Phase::Launched => tracing::warn!(
                "{url}: skipping {} consumer {:?}: {message}; it is not recorded in the snapshot",
                c.phase.as_str(),
                c.consumer_id
            ),
            Err(message) => {
                return Err(FetchError::UnsupportedChainId {
                    url: url.to_owned(),
                    consumer_id: format!("{:?}", c.consumer_id),
                    message,
                });
            }
        }
    }
    Ok(kept)
}

/// Lists consumers through the v6 phase query, falling back to the v4/v5 chain-id keyed list
/// when the provider has no route for it.
fn list_consumers(client: &Client) -> Result<(IcsApi, Vec<Listed>), FetchError> {
    let path = listing_path(IcsApi::V6);
    let url = client.url(&path);
    let query = format!("pagination.limit={PAGE_LIMIT}");
    let v6_error = match client.get_pages::<ChainsPage>(&path, &query) {
        Ok(pages) => {
            let mut listed = Vec::new();
            for chain in pages.into_iter().flat_map(|p| p.chains) {
                let name = chain.chain_id.clone();
                let field = |f: &str| format!("chain {name}: {f}");
                let consumer_id = chain
                    .consumer_id
                    .as_ref()
                    .map(Num::text)
                    .filter(|id| !id.is_empty() && id.parse::<u64>().is_ok())
                    .ok_or_else(|| FetchError::Invalid {
                        url: url.clone(),
                        field: field("consumer_id"),
                        message: format!("chain {:?} has no numeric consumer id", chain.chain_id),
                    })?;
                let Some(phase) = parse_phase(&url, &field("phase"), chain.phase.as_ref())? else {
                    continue;
                };
                let top_n = parse_top_n(&url, &field("top_N"), chain.top_n.as_ref())?;
                listed.push(Listed {
                    consumer_id,
                    chain_id: chain.chain_id,
                    phase,
                    top_n,
                });
            }
            return Ok((IcsApi::V6, listed));
        }
        Err(e) if is_missing_route(&e) => e,
        Err(e) => return Err(e.into()),
    };
    tracing::info!("{url}: {v6_error}; trying the legacy (ICS v4/v5) chain-id keyed queries");
    let legacy_path = listing_path(IcsApi::Legacy);
    let page = match client.get_json::<ChainsPage>(&legacy_path) {
        Ok(page) => page,
        Err(e) if is_missing_route(&e) => {
            return Err(FetchError::NotAProvider {
                url: client.url(ICS),
                v6: v6_error.to_string(),
                legacy: e.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let legacy_url = client.url(&legacy_path);
    let mut listed = Vec::new();
    for (i, chain) in page.chains.into_iter().enumerate() {
        let top_n = parse_top_n(
            &legacy_url,
            &format!("chains[{i}].top_N"),
            chain.top_n.as_ref(),
        )?;
        // Legacy providers list only running consumers and key every query by chain id.
        listed.push(Listed {
            consumer_id: chain.chain_id.clone(),
            chain_id: chain.chain_id,
            phase: Phase::Launched,
            top_n,
        });
    }
    Ok((IcsApi::Legacy, listed))
}

fn select(listed: Vec<Listed>, opts: &FetchOptions) -> Result<Vec<Listed>, FetchError> {
    let wanted = |c: &Listed| c.phase == Phase::Stopped || opts.phases.contains(&c.phase);
    let in_phase: Vec<Listed> = listed.into_iter().filter(wanted).collect();
    if opts.consumers.is_empty() {
        return Ok(in_phase);
    }
    for requested in &opts.consumers {
        if !in_phase
            .iter()
            .any(|c| &c.consumer_id == requested || &c.chain_id == requested)
        {
            let available: Vec<String> = in_phase
                .iter()
                // Not yet checked against the snapshot rule: quoted, as any on-chain text.
                .map(|c| format!("{} ({:?}, {})", c.consumer_id, c.chain_id, c.phase.as_str()))
                .collect();
            return Err(FetchError::UnknownConsumer {
                requested: requested.clone(),
                phases: opts
                    .phases
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                available: if available.is_empty() {
                    "nothing".to_owned()
                } else {
                    available.join(", ")
                },
            });
        }
    }
    Ok(in_phase
        .into_iter()
        .filter(|c| {
            opts.consumers
                .iter()
                .any(|r| r == &c.consumer_id || r == &c.chain_id)
        })
        .collect())
}

/// Per-consumer queries on a small pool of scoped threads; the first failure stops further work.
fn fetch_consumers(
    client: &Client,
    api: IcsApi,
    listed: &[Listed],
    bonded: &[BondedValidator],
    opts: &FetchOptions,
) -> Result<Vec<Consumer>, FetchError> {
    let by_valcons: BTreeMap<&str, &BondedValidator> =
        bonded.iter().map(|v| (v.valcons.as_str(), v)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<Consumer, FetchError>>>> =
        Mutex::new(listed.iter().map(|_| None).collect());
    let progress = Progress::new(listed.len());
    let workers = opts.concurrency.clamp(1, listed.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = listed.get(i) else { break };
                    let result =
                        fetch_consumer(client, api, entry, &by_valcons, &opts.bech32_prefix);
                    match &result {
                        Ok(c) => progress.done(c),
                        Err(_) => failed.store(true, Ordering::Relaxed),
                    }
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(result);
                }
            });
        }
    });
    progress.finish();
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut consumers = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results.into_iter().flatten() {
        match r {
            Ok(c) => consumers.push(c),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(consumers),
    }
}

fn fetch_consumer(
    client: &Client,
    api: IcsApi,
    listed: &Listed,
    by_valcons: &BTreeMap<&str, &BondedValidator>,
    prefix: &str,
) -> Result<Consumer, FetchError> {
    let mut consumer = Consumer {
        consumer_id: listed.consumer_id.clone(),
        chain_id: listed.chain_id.clone(),
        name: None,
        phase: listed.phase,
        top_n: listed.top_n,
        validators: Vec::new(),
        opted_in: Vec::new(),
    };
    // A stopped consumer has no validator set, and the provider rejects opted_in queries for it.
    if !listed.phase.is_active() {
        return Ok(consumer);
    }
    let key = super::url::url_encode(&listed.consumer_id);
    let valcons_hrp = format!("{prefix}valcons");
    let path = format!("{ICS}/consumer_validators/{key}");
    let url = client.url(&path);
    let response = match client.get_json::<ConsumerValidatorsResponse>(&path) {
        Err(e) if api == IcsApi::Legacy && is_missing_route(&e) => {
            return Err(FetchError::LegacyWithoutValidatorQuery {
                url,
                message: e.to_string(),
            });
        }
        other => other?,
    };
    let mut members = BTreeMap::new();
    for (i, raw) in response.validators.into_iter().enumerate() {
        let field = |f: &str| format!("validators[{i}].{f}");
        check_bech32(
            &url,
            &field("provider_address"),
            &raw.provider_address,
            &valcons_hrp,
        )?;
        let known = by_valcons.get(raw.provider_address.as_str());
        let operator_address = raw
            .provider_operator_address
            .filter(|o| !o.is_empty())
            .or_else(|| known.map(|v| v.operator_address.clone()))
            .ok_or_else(|| FetchError::Invalid {
                url: url.clone(),
                field: field("provider_address"),
                message: format!(
                    "{} is neither in the bonded set nor named with a provider_operator_address, so its operator is unknown",
                    raw.provider_address
                ),
            })?;
        check_bech32(
            &url,
            &field("provider_operator_address"),
            &operator_address,
            &format!("{prefix}valoper"),
        )?;
        let moniker = raw
            .description
            .map(|d| d.moniker)
            .filter(|m| !m.is_empty())
            .or_else(|| known.map(|v| v.moniker.clone()))
            .unwrap_or_default();
        let v = ConsumerValidator {
            operator_address: operator_address.clone(),
            valcons: raw.provider_address,
            moniker,
        };
        if members.insert(operator_address.clone(), v).is_some() {
            return Err(FetchError::Invalid {
                url,
                field: field("provider_operator_address"),
                message: format!("{operator_address} is listed twice"),
            });
        }
    }
    consumer.validators = members.into_values().collect();
    let path = format!("{ICS}/opted_in_validators/{key}");
    let url = client.url(&path);
    let opted: OptedInResponse = client.get_json(&path)?;
    for (i, valcons) in opted.validators_provider_addresses.iter().enumerate() {
        check_bech32(
            &url,
            &format!("validators_provider_addresses[{i}]"),
            valcons,
            &valcons_hrp,
        )?;
    }
    consumer.opted_in = opted.validators_provider_addresses;
    consumer.opted_in.sort();
    consumer.opted_in.dedup();
    Ok(consumer)
}
