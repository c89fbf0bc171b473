//! Loading the `-i` inputs of either network and rendering them into memory: what `check`,
//! `render`, `plan`, `verify` and `apply` share.

use std::path::PathBuf;

use super::Error;
use super::cli::Inputs;
use crate::cosmos::dns::{serial, srv, zone};
use crate::cosmos::inventory::{self, Inventory};
use crate::cosmos::peers::{self, Plan};
use crate::cosmos::render;
use crate::cosmos::state::ProviderState;
use crate::input::network;
use crate::input::printable::printable;
use crate::output::file::Keep;
use crate::output::previous::Previous;
use crate::output::template::Templates;
use crate::output::tree::OutputTree;
use crate::stellar::{self, StellarInventory};

/// Loaded, validated Cosmos inputs.
pub(super) struct Loaded {
    pub(super) inventory: Inventory,
    pub(super) state: ProviderState,
    pub(super) state_path: PathBuf,
}

pub(super) fn load(inputs: &Inputs) -> Result<Loaded, Error> {
    let inventory = inventory::load(&inputs.inventory)?;
    let state_path = inputs
        .state
        .clone()
        .or_else(|| inventory.state.clone())
        .ok_or_else(|| {
            Error::usage(
                "no provider-state snapshot: pass --state FILE or set `state:` in the inventory",
            )
        })?;
    let state = ProviderState::load(&state_path)?;
    inventory.require_validators()?;
    Ok(Loaded {
        inventory,
        state,
        state_path,
    })
}

/// The files `plan` renders to (each kept as `keep` says), and how many warnings the zones added.
pub(super) fn render_plan(
    loaded: &Loaded,
    plan: &Plan,
    templates: &Templates,
    only: Option<&str>,
    previous: Option<&dyn Previous>,
    threads: usize,
    keep: &Keep<'_>,
) -> Result<(OutputTree, usize), Error> {
    let mut tree = render::render(plan, &loaded.inventory, templates, only, threads, keep)?;
    let mut warnings = 0;
    // Zones hold every validator's records, so a `--self` render leaves them alone.
    if only.is_none() && loaded.inventory.dns.is_some() {
        let zones = zone::build(
            plan,
            &loaded.inventory,
            previous,
            serial::today().map_err(zone::ZoneError::from)?,
        )?;
        warn_all(&zones.warnings);
        warnings = zones.warnings.len();
        for (path, text) in zones.files {
            tree.insert_kept(path, text.into_bytes(), keep)?;
        }
    }
    Ok((tree, warnings))
}

/// Validated inputs of either network: `network: stellar` inventories (or StellarNode manifests)
/// need no provider snapshot; Cosmos inventories come with one.
pub(super) enum Source {
    Cosmos(Box<Loaded>),
    Stellar(StellarInventory),
}

impl Source {
    pub(super) fn load(inputs: &Inputs) -> Result<Source, Error> {
        if network::is_stellar(&inputs.inventory) {
            Ok(Source::Stellar(stellar::load(
                &inputs.inventory,
                inputs.state.as_deref(),
            )?))
        } else {
            Ok(Source::Cosmos(Box::new(load(inputs)?)))
        }
    }

    /// The Cosmos plan (Stellar has none), which [`Source::render`] renders; made apart so a caller
    /// can do other work meanwhile.
    pub(super) fn plan(&self) -> Result<Option<Plan>, Error> {
        match self {
            Source::Cosmos(loaded) => Ok(Some(plan_cosmos(loaded)?)),
            Source::Stellar(_) => Ok(None),
        }
    }

    /// The rendered tree of `plan` ([`Source::plan`]'s): what `render` writes and what
    /// `plan`/`apply` compare. The Cosmos plan comes along so reports can name peers; Stellar output
    /// is compared file by file. Cosmos files are kept as `keep` says; Stellar's (a few per
    /// validator) stay in memory.
    pub(super) fn render(
        &self,
        plan: Option<Plan>,
        templates: &Templates,
        only: Option<&str>,
        previous: Option<&dyn Previous>,
        threads: usize,
        keep: &Keep<'_>,
    ) -> Result<(Option<Plan>, OutputTree), Error> {
        match (self, plan) {
            (Source::Cosmos(loaded), Some(plan)) => {
                let (tree, _) =
                    render_plan(loaded, &plan, templates, only, previous, threads, keep)?;
                Ok((Some(plan), tree))
            }
            (Source::Stellar(inventory), _) => {
                Ok((None, stellar::render_tree(inventory, templates, only)?))
            }
            (Source::Cosmos(_), None) => {
                Err(Error::usage("internal: a Cosmos render without its plan"))
            }
        }
    }
}

/// The plan with its warnings logged, snapshot entries it leaves unused among them; SRV names
/// shared by two validator × consumer pairs fail it, zones or not.
pub(super) fn plan_cosmos(loaded: &Loaded) -> Result<Plan, Error> {
    let mut plan = peers::plan(&loaded.inventory, &loaded.state)?;
    zone::check_srv_names(&plan, &loaded.inventory).map_err(zone::ZoneError::from)?;
    let unused = srv::unused_resolved(&plan, &loaded.state);
    plan.warnings.extend(unused);
    warn_all(&plan.warnings);
    Ok(plan)
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        tracing::warn!("{}", printable(w));
    }
}
