//! peergen: a build-time, declarative generator of peer configuration for Cosmos ICS consumer
//! chains. Pipeline: inventory + snapshot → plan (pure) → render (templates, verified) → tree.

pub mod address;
pub mod cli;
pub mod endpoint;
pub mod escape;
pub mod fetch;
pub mod inventory;
pub mod node_id;
pub mod plan;
pub mod port;
pub mod render;
pub mod rest;
pub mod selection;
pub mod state;
pub mod state_diff;
pub mod template;
pub mod tree;
pub mod valcons;
mod yaml;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Cli, Command, Inputs};
pub use yaml::Origin;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Plan(#[from] plan::PlanErrors),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    #[error(transparent)]
    Tree(#[from] tree::TreeError),
    #[error(transparent)]
    NodeKey(#[from] node_id::NodeKeyError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        1
    }
}

/// Loaded, validated inputs: what every offline command starts from.
pub struct Loaded {
    pub inventory: inventory::Inventory,
    pub state: state::ProviderState,
    pub state_path: PathBuf,
}

pub fn load(inputs: &Inputs) -> Result<Loaded, Error> {
    let inventory = inventory::load(&inputs.inventory)?;
    let state_path = inputs
        .state
        .clone()
        .or_else(|| inventory.state.clone())
        .ok_or_else(|| {
            Error::Usage(
                "no provider-state snapshot: pass --state FILE or set `state:` in the inventory"
                    .to_owned(),
            )
        })?;
    let state = state::ProviderState::load(&state_path)?;
    Ok(Loaded {
        inventory,
        state,
        state_path,
    })
}

/// Renders everything the inputs produce into memory: the single entry point `render`, `plan` and
/// `apply` share. `previous` is the directory holding the last committed output (for state that must
/// carry over between runs, such as zone serials); `only` limits output to one validator.
pub fn render_tree(
    loaded: &Loaded,
    templates: &template::Templates,
    only: Option<&str>,
    previous: Option<&std::path::Path>,
) -> Result<(plan::Plan, tree::OutputTree), Error> {
    let _ = previous;
    let plan = plan::plan(&loaded.inventory, &loaded.state)?;
    warn_all(&plan.warnings);
    let tree = render::render(&plan, &loaded.inventory, templates, only)?;
    Ok((plan, tree))
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        tracing::warn!("{w}");
    }
}

/// Runs one command. Data goes to `out` (stdout); logs go through `tracing` (stderr).
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Check(args) => {
            let loaded = load(&args.inputs)?;
            let plan = plan::plan(&loaded.inventory, &loaded.state)?;
            warn_all(&plan.warnings);
            write_check_report(out, &loaded, &plan)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render(args) => {
            let loaded = load(&args.inputs)?;
            let templates = template::Templates::new(args.templates.as_deref())?;
            let (_, tree) = render_tree(&loaded, &templates, args.only.as_deref(), Some(&args.out))?;
            let scope: Vec<String> = args.only.iter().cloned().collect();
            let report = tree.write(&args.out, &scope, args.force)?;
            for removed in &report.removed {
                tracing::info!("removed {removed} (no longer generated)");
            }
            writeln!(
                out,
                "rendered {} files into {}: {} written, {} unchanged, {} removed",
                tree.len(),
                args.out.display(),
                report.written.len(),
                report.unchanged,
                report.removed.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Port(args) => {
            let mut seen: std::collections::BTreeMap<u16, &str> = std::collections::BTreeMap::new();
            for id in &args.consumer_ids {
                let p = port::hash_port(id);
                writeln!(out, "{id}\t{p}")?;
                if let Some(other) = seen.insert(p, id) {
                    tracing::warn!(
                        "consumers {other} and {id} share port {p}: a validator serving both on one host needs a port override"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::NodeId(args) => {
            let id = node_id::from_node_key_file(&args.file)?;
            writeln!(out, "{id}")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch(args) => {
            let inventory = inventory::load(&args.inventory)?;
            fetch::run(&args, &inventory, out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_check_report(out: &mut dyn Write, loaded: &Loaded, plan: &plan::Plan) -> Result<(), Error> {
    let state = &loaded.state;
    writeln!(
        out,
        "provider {} at height {}: {} bonded validators, {} consumers ({} active); inventory: {} validators",
        state.provider.chain_id,
        state.provider.height,
        state.bonded_validators.len(),
        state.consumers.len(),
        plan.consumers.len(),
        loaded.inventory.validators.len()
    )?;
    for cp in &plan.consumers {
        writeln!(
            out,
            "consumer {} {} ({}, selection {}): {} in inventory, {} missing, {} excluded -> {}/",
            cp.consumer_id,
            cp.chain_id,
            cp.phase.as_str(),
            cp.settings.selection,
            cp.members.len(),
            cp.missing.len(),
            cp.excluded.len(),
            cp.slug
        )?;
        let width = cp.members.iter().map(|m| m.validator.len()).max().unwrap_or(0);
        for m in &cp.members {
            writeln!(out, "  {:width$}  {}", m.validator, m.peer_string())?;
        }
        for m in &cp.missing {
            writeln!(
                out,
                "  missing from inventory: {} ({:?})",
                m.operator_address, m.moniker
            )?;
        }
        for e in &cp.excluded {
            writeln!(out, "  excluded: {e}")?;
        }
    }
    for c in &plan.inactive {
        writeln!(
            out,
            "consumer {} {} ({}): no peers",
            c.consumer_id,
            c.chain_id,
            c.phase.as_str()
        )?;
    }
    writeln!(out, "ok: {} warnings", plan.warnings.len())?;
    Ok(())
}
