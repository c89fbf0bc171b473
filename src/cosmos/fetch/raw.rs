//! The provider's REST answers as they arrive (serde only): gateway quirks such as 64-bit
//! integers as strings and enums as names or numbers are absorbed here, nothing is validated.

use serde::Deserialize;

use crate::cosmos::fetch::http;

/// gRPC-gateway writes 64-bit integers as strings; other gateways and hand-written mocks use numbers.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Num {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    /// JSON numbers beyond 64 bits arrive as floats; kept so the field's check names them.
    Float(f64),
}

impl Num {
    pub(super) fn text(&self) -> String {
        match self {
            Num::Text(s) => s.clone(),
            Num::Unsigned(n) => n.to_string(),
            Num::Signed(n) => n.to_string(),
            Num::Float(n) => n.to_string(),
        }
    }
}

/// Protobuf enums arrive as names from the gateway but as numbers from some clients.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum EnumValue {
    Name(String),
    Number(i64),
}

#[derive(Deserialize)]
pub(super) struct RawPagination {
    #[serde(default, alias = "nextKey")]
    pub(super) next_key: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ValidatorsPage {
    #[serde(default)]
    pub(super) validators: Vec<RawValidator>,
    #[serde(default)]
    pub(super) pagination: Option<RawPagination>,
}

impl http::Page for ValidatorsPage {
    fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }
    fn next_key(&self) -> Option<&str> {
        self.pagination.as_ref()?.next_key.as_deref()
    }
}

#[derive(Deserialize, Default)]
pub(super) struct RawDescription {
    #[serde(default)]
    pub(super) moniker: String,
}

#[derive(Deserialize)]
pub(super) struct RawValidator {
    #[serde(alias = "operatorAddress")]
    pub(super) operator_address: String,
    #[serde(alias = "consensusPubkey")]
    pub(super) consensus_pubkey: RawAnyKey,
    #[serde(default)]
    pub(super) status: Option<EnumValue>,
    pub(super) tokens: Num,
    #[serde(default)]
    pub(super) description: RawDescription,
}

/// `Any`-wrapped key: `{"@type": "/cosmos.crypto.ed25519.PubKey", "key": …}`, or the amino form
/// `{"type": "tendermint/PubKeyEd25519", "value": …}`.
#[derive(Deserialize)]
pub(super) struct RawAnyKey {
    #[serde(
        rename = "@type",
        alias = "type",
        alias = "type_url",
        alias = "typeUrl",
        default
    )]
    pub(super) type_url: Option<String>,
    #[serde(alias = "value", default)]
    pub(super) key: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ChainsPage {
    #[serde(default)]
    pub(super) chains: Vec<RawChain>,
    #[serde(default)]
    pub(super) pagination: Option<RawPagination>,
}

impl http::Page for ChainsPage {
    fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }
    fn next_key(&self) -> Option<&str> {
        self.pagination.as_ref()?.next_key.as_deref()
    }
}

#[derive(Deserialize)]
pub(super) struct RawChain {
    #[serde(alias = "chainId")]
    pub(super) chain_id: String,
    #[serde(default, alias = "consumerId")]
    pub(super) consumer_id: Option<Num>,
    #[serde(default, rename = "top_N", alias = "topN", alias = "top_n")]
    pub(super) top_n: Option<Num>,
    #[serde(default)]
    pub(super) phase: Option<EnumValue>,
}

#[derive(Deserialize)]
pub(super) struct ConsumerValidatorsResponse {
    #[serde(default)]
    pub(super) validators: Vec<RawConsumerValidator>,
}

#[derive(Deserialize)]
pub(super) struct RawConsumerValidator {
    #[serde(alias = "providerAddress")]
    pub(super) provider_address: String,
    #[serde(default, alias = "providerOperatorAddress")]
    pub(super) provider_operator_address: Option<String>,
    #[serde(default)]
    pub(super) description: Option<RawDescription>,
}

#[derive(Deserialize)]
pub(super) struct OptedInResponse {
    #[serde(default, alias = "validatorsProviderAddresses")]
    pub(super) validators_provider_addresses: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct LatestBlock {
    #[serde(default, alias = "sdkBlock")]
    pub(super) sdk_block: Option<RawBlock>,
    #[serde(default)]
    pub(super) block: Option<RawBlock>,
}

#[derive(Deserialize)]
pub(super) struct RawBlock {
    pub(super) header: RawHeader,
}

#[derive(Deserialize)]
pub(super) struct RawHeader {
    #[serde(alias = "chainId")]
    pub(super) chain_id: String,
    pub(super) height: Num,
}
