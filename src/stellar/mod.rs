//! Stellar validators: inventory (YAML or StellarNode resources) → offline startup checks → one
//! verified stellar-core fragment, peer ConfigMap and kustomization per validator.

pub(crate) mod crd;
mod file;
pub(crate) mod inventory;
pub(crate) mod quorum;
pub(crate) mod render;
pub(crate) mod strkey;

use std::path::{Path, PathBuf};

pub(crate) use inventory::StellarInventory;

use crate::input::network::{StellarSource, stellar_source};
use crate::output::template::Templates;
use crate::output::tree::OutputTree;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StellarError {
    #[error(transparent)]
    Inventory(#[from] inventory::StellarInventoryError),
    #[error(transparent)]
    Quorum(#[from] quorum::QuorumErrors),
    #[error(transparent)]
    Render(#[from] render::StellarRenderError),
    #[error("{0}")]
    Usage(String),
}

/// Loads Stellar inputs: one `network: stellar` file, or any number of StellarNode files and
/// directories (merged; names must be unique across them).
pub(crate) fn load(
    paths: &[PathBuf],
    state: Option<&Path>,
) -> Result<StellarInventory, StellarError> {
    if let Some(state) = state {
        return Err(StellarError::Usage(format!(
            "--state {}: Stellar inputs need no provider-state snapshot; drop --state",
            state.display()
        )));
    }
    let first = paths
        .first()
        .ok_or_else(|| StellarError::Usage("no inventory given".to_owned()))?;
    match stellar_source(first) {
        Some(StellarSource::Inventory) => match paths {
            [one] => Ok(file::load(one)?),
            _ => Err(StellarError::Usage(
                "a `network: stellar` inventory is one file; give exactly one -i (StellarNode directories may be several)".to_owned(),
            )),
        },
        _ => {
            if let Some(p) = paths.iter().find(|p| stellar_source(p) == Some(StellarSource::Inventory)) {
                return Err(StellarError::Usage(format!(
                    "{}: a `network: stellar` inventory cannot be merged with StellarNode manifests; use one source",
                    p.display()
                )));
            }
            Ok(crd::load(paths)?)
        }
    }
}

/// Runs the startup checks and renders every active validator's files (or only `only`): the
/// single entry point `render`, `plan` and `apply` share for Stellar.
pub(crate) fn render_tree(
    inv: &StellarInventory,
    templates: &Templates,
    only: Option<&str>,
) -> Result<OutputTree, StellarError> {
    let analysis = analyse(inv)?;
    // `check` prints these in its report; here stderr is the only place they can go.
    for w in &analysis.warnings {
        tracing::warn!("{w}");
    }
    Ok(render::render(inv, &analysis, templates, only)?)
}

fn analyse(inv: &StellarInventory) -> Result<quorum::Analysis, StellarError> {
    let analysis = quorum::analyse(inv)?;
    // The override is needed, and not only by FAILURE_SAFETY, when the archives are not v-blocking.
    if inv.unsafe_quorum && analysis.failure_safety > 0 && analysis.warnings.is_empty() {
        tracing::warn!(
            "unsafe_quorum is set although the derived quorum set tolerates {} failure(s); UNSAFE_QUORUM=true also disables other stellar-core safety checks, consider removing it",
            analysis.failure_safety
        );
    }
    for v in inv.validators.values().filter(|v| v.suspended) {
        tracing::info!(
            "validator {} is suspended: excluded from every output",
            v.name
        );
    }
    Ok(analysis)
}

/// `peergen check` for Stellar: the checks, then one line per active validator with the quorum set
/// it derives (the same for all: each adds itself, printed under its own name) and its peers.
/// Returned as text so that the caller's writer errors (a closed pipe) stay the caller's.
pub(crate) fn check_report(inv: &StellarInventory) -> Result<String, StellarError> {
    let analysis = analyse(inv)?;
    let active: Vec<_> = inv.active().collect();
    let orgs: std::collections::BTreeSet<&str> =
        active.iter().map(|v| v.organisation.as_str()).collect();
    let mut out = format!(
        "stellar: {} active validators in {} organisations, {} suspended; failure safety {}{}\n",
        active.len(),
        orgs.len(),
        inv.validators.len() - active.len(),
        analysis.failure_safety,
        if inv.unsafe_quorum {
            " (UNSAFE_QUORUM=true)"
        } else {
            ""
        }
    );
    for v in &active {
        let org = inv.organisation_of(v);
        let peers = inv.active().filter(|o| o.name != v.name).count();
        out.push_str(&format!(
            "validator {} ({} {}) {}: {} peers; quorum set {}\n",
            v.name,
            org.home_domain,
            org.quality.as_str(),
            v.address,
            peers,
            analysis.set
        ));
    }
    for v in inv.validators.values().filter(|v| v.suspended) {
        out.push_str(&format!("suspended {}: excluded\n", v.name));
    }
    for w in &analysis.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str("ok\n");
    Ok(out)
}
