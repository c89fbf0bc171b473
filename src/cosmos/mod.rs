//! Cosmos ICS: the inventory, the locked provider-state snapshot and how it is fetched, the pure
//! peer plan, DNS zones and SRV discovery, alert rules and allowlists, and rendering the plan into
//! output files.

pub(crate) mod alerts;
pub(crate) mod allowlist;
pub(crate) mod date;
pub(crate) mod dns;
pub(crate) mod fetch;
pub(crate) mod graph;
pub(crate) mod inventory;
pub(crate) mod node_id;
pub(crate) mod peers;
pub(crate) mod registry;
pub(crate) mod render;
pub(crate) mod state;
