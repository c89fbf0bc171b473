//! The output side every network shares: templates (embedded, overridable), format-aware
//! escaping, and the rendered tree (path → bytes) with its crash-safe, owned writes.

pub(crate) mod escape;
pub(crate) mod lock;
pub(crate) mod removal;
pub(crate) mod template;
pub(crate) mod tree;
