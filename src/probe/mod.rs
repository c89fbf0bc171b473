//! `probe`'s stage: the live network checked against the reviewed plan. With `cosmos/fetch` one of
//! the only stages that touch the network, and only at planned addresses (never a scan): each
//! planned peer is resolved, dialled and, on Cosmos, taken through CometBFT's P2P handshake under a
//! throw-away key; own nodes are asked over RPC (CometBFT) or the admin port (stellar-core).

mod dial;
mod handshake;
pub(crate) mod report;
pub(crate) mod rpc;
pub(crate) mod run;
pub(crate) mod scope;
pub(crate) mod stellar;
pub(crate) mod verdict;

use crate::input::yaml::Origin;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error(transparent)]
    RpcAddress(Box<RpcAddressError>),
    #[error("--self {name}: {why}; known validators: {known}")]
    UnknownSelf {
        name: String,
        why: &'static str,
        known: String,
    },
    #[error(
        "--consumer {key}: no active consumer has this consumer id or chain id; active: {known}"
    )]
    UnknownConsumer { key: String, known: String },
    #[error("--admin {text:?}: {why}")]
    Admin { text: String, why: String },
    #[error("cannot start the probe's threads: {0}")]
    Threads(std::io::Error),
}

/// An `rpc_template` that expands to no valid address on one consumer; boxed in [`ProbeError`].
#[derive(Debug, thiserror::Error)]
#[error(
    "{at}: validators.{validator}.rpc_template {template:?} on consumer {consumer_id} ({chain_id}): {message}"
)]
pub(crate) struct RpcAddressError {
    pub(crate) at: Origin,
    pub(crate) validator: String,
    pub(crate) template: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    pub(crate) message: String,
}
