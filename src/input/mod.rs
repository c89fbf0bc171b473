//! What every network's inputs share: YAML loading with origins, network detection, and the
//! name and address rules values are checked against once, at the boundary.

pub(crate) mod address;
pub(crate) mod file;
pub(crate) mod name;
pub(crate) mod network;
pub(crate) mod printable;
pub(crate) mod yaml;
