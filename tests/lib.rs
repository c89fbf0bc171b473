//! The one integration-test binary: every test drives the built `peergen` CLI in temp directories.

mod harness;

mod fetch;
mod foundation;
