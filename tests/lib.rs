//! The one integration-test binary: every test drives the built `peergen` CLI in temp directories.

#![allow(unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

mod harness;

mod cases;
mod cometbft;

mod dns;
mod docs;
mod fetch;
mod foundation;
mod gitops;
mod graph;
mod mermaid;
mod monitoring;
mod performance;
mod probe;
mod registry;
mod reliability;
mod stellar;
mod topology;
mod workflows;
