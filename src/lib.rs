//! peergen: a build-time, declarative generator of peer configuration for Cosmos ICS consumer
//! chains and Stellar validators. The folders are the pipeline's stages (see docs/design.md):
//! `input` → `cosmos` | `stellar` → `output` → `gitops`, driven by `app`, one file per command;
//! `probe` checks the live network against the plan;
//! `retry` is the one backoff the network-facing stages share.

mod app;
mod cosmos;
mod fault;
mod gitops;
mod input;
mod output;
mod probe;
mod retry;
mod stellar;

pub use app::cli::Cli;
pub use app::{Error, run};
