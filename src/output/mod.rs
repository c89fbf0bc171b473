//! The output side every network shares: templates (embedded, overridable), format-aware
//! escaping, the rendered tree (path → bytes) with its crash-safe, owned writes, and the previous
//! output it is compared with.

pub(crate) mod blob;
pub(crate) mod checked;
pub(crate) mod escape;
pub(crate) mod file;
pub(crate) mod lock;
pub(crate) mod parallel;
pub(crate) mod previous;
pub(crate) mod removal;
pub(crate) mod template;
pub(crate) mod tree;
