//! DNS for Cosmos endpoints: zone files built from the plan (with their serial rule and lint),
//! and SRV discovery that locks published endpoints into the snapshot.

pub(crate) mod owners;
pub(crate) mod serial;
pub(crate) mod srv;
pub(crate) mod text;
pub(crate) mod zone;
