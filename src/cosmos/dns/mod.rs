//! DNS for Cosmos endpoints: zone files built from the plan (with their serial rule and lint),
//! SRV discovery that locks published endpoints into the snapshot, and the A/AAAA answers an
//! allowlist locks.

pub(crate) mod addresses;
pub(crate) mod owners;
pub(crate) mod serial;
pub(crate) mod srv;
pub(crate) mod text;
pub(crate) mod zone;
