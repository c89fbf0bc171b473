//! Which network the `-i` inputs are for, read before any schema is applied so that each network
//! gets its own schema and its own error messages.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input::yaml;

/// The Kubernetes kind of the Stellar operator's validator resources.
pub(crate) const STELLAR_NODE_KIND: &str = "StellarNode";

/// Where Stellar inputs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StellarSource {
    /// One `network: stellar` inventory file.
    Inventory,
    /// StellarNode manifests: a directory, or a file holding a StellarNode document.
    StellarNodes,
}

/// Which schema `path` uses when it is a Stellar input; `None` for Cosmos inventories. Anything
/// unreadable is left to the Cosmos loader, whose errors already name the file.
pub(crate) fn stellar_source(path: &Path) -> Option<StellarSource> {
    if path.is_dir() {
        return Some(StellarSource::StellarNodes);
    }
    let text = super::file::read_text(path, super::file::TEXT_LIMIT).ok()?;
    let network = match network_of(path, &text) {
        Ok(network) => network.is_some_and(|n| n == "stellar"),
        // A broken file (say, a duplicate key) still belongs to the Stellar loader when it says so
        // at top level, so that the error shown is about the Stellar schema, not the Cosmos one.
        Err(_) => text
            .lines()
            .any(|l| l.split('#').next().map(str::trim_end) == Some("network: stellar")),
    };
    if network {
        return Some(StellarSource::Inventory);
    }
    has_stellar_nodes(path, &text).then_some(StellarSource::StellarNodes)
}

/// True when the inventory paths are Stellar inputs; the first path decides.
pub(crate) fn is_stellar(paths: &[PathBuf]) -> bool {
    paths.first().and_then(|p| stellar_source(p)).is_some()
}

/// The network an inventory file declares.
fn network_of(path: &Path, text: &str) -> Result<Option<String>, yaml::YamlError> {
    #[derive(Deserialize)]
    struct Header {
        network: Option<String>,
    }
    Ok(yaml::parse::<Header>(path, text)?.network)
}

/// True when a document of `text` is a StellarNode.
fn has_stellar_nodes(path: &Path, text: &str) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    yaml::parse_multiple::<Kind>(path, text).is_ok_and(|docs| {
        docs.iter()
            .any(|d| d.kind.as_deref() == Some(STELLAR_NODE_KIND))
    })
}
