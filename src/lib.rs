//! peergen: a build-time, declarative generator of peer configuration for Cosmos ICS consumer
//! chains. Pipeline: inventory + snapshot → plan (pure) → render (templates, verified) → tree.

pub mod address;
pub mod changes;
pub mod cli;
pub mod date;
pub mod dns;
pub mod endpoint;
pub mod escape;
pub mod fetch;
pub mod gitops;
pub mod inventory;
pub mod name;
pub mod node_id;
pub mod plan;
pub mod port;
pub mod render;
pub mod report;
pub mod rest;
pub mod selection;
pub mod srv;
pub mod state;
pub mod state_diff;
pub mod stellar;
pub mod template;
pub mod tree;
pub mod valcons;
mod yaml;
pub mod zone;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Cli, ColorChoice, Command, Inputs, PlanFormat, TargetArgs};
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
    Gitops(#[from] gitops::GitopsError),
    #[error(transparent)]
    Zone(#[from] zone::ZoneError),
    #[error(transparent)]
    Srv(#[from] srv::SrvError),
    #[error(transparent)]
    Stellar(#[from] stellar::StellarError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
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
    let plan = plan_cosmos(loaded)?;
    let mut tree = render::render(&plan, &loaded.inventory, templates, only)?;
    // Zones hold every validator's records, so a `--self` render leaves them alone.
    if only.is_none() && loaded.inventory.dns.is_some() {
        let zones = zone::build(&plan, &loaded.inventory, previous, zone::today()?)?;
        warn_all(&zones.warnings);
        for (path, text) in zones.files {
            tree.insert(path, text.into_bytes())?;
        }
    }
    Ok((plan, tree))
}

/// Validated inputs of either network: `network: stellar` inventories (or StellarNode manifests)
/// need no provider snapshot; Cosmos inventories come with one.
pub enum Source {
    Cosmos(Box<Loaded>),
    Stellar(stellar::StellarInventory),
}

impl Source {
    pub fn load(inputs: &Inputs) -> Result<Source, Error> {
        if stellar::is_stellar(&inputs.inventory) {
            Ok(Source::Stellar(stellar::load(
                &inputs.inventory,
                inputs.state.as_deref(),
            )?))
        } else {
            Ok(Source::Cosmos(Box::new(load(inputs)?)))
        }
    }

    /// The rendered tree: what `render` writes and what `plan`/`apply` compare. The Cosmos plan
    /// comes along so reports can name peers; Stellar output is compared file by file.
    pub fn render(
        &self,
        templates: &template::Templates,
        only: Option<&str>,
        previous: Option<&std::path::Path>,
    ) -> Result<(Option<plan::Plan>, tree::OutputTree), Error> {
        match self {
            Source::Cosmos(loaded) => {
                let (plan, tree) = render_tree(loaded, templates, only, previous)?;
                Ok((Some(plan), tree))
            }
            Source::Stellar(inventory) => {
                Ok((None, stellar::render_tree(inventory, templates, only)?))
            }
        }
    }
}

/// The plan with its warnings logged, snapshot entries it leaves unused among them; SRV names
/// shared by two validator × consumer pairs fail it, zones or not.
fn plan_cosmos(loaded: &Loaded) -> Result<plan::Plan, Error> {
    let mut plan = plan::plan(&loaded.inventory, &loaded.state)?;
    zone::check_srv_names(&plan, &loaded.inventory).map_err(zone::ZoneError::from)?;
    let unused = srv::unused_resolved(&plan, &loaded.state);
    plan.warnings.extend(unused);
    warn_all(&plan.warnings);
    Ok(plan)
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        tracing::warn!("{w}");
    }
}

/// Runs one command. Data goes to `out` (stdout); logs go through `tracing` (stderr).
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let color = cli.color;
    match cli.command {
        Command::Check(args) => {
            if stellar::is_stellar(&args.inputs.inventory) {
                let inventory =
                    stellar::load(&args.inputs.inventory, args.inputs.state.as_deref())?;
                out.write_all(stellar::check_report(&inventory)?.as_bytes())?;
                return Ok(ExitCode::SUCCESS);
            }
            let loaded = load(&args.inputs)?;
            let plan = plan_cosmos(&loaded)?;
            write_check_report(out, &loaded, &plan)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render(args) => {
            let source = Source::load(&args.inputs)?;
            let templates = template::Templates::new(args.templates.as_deref())?;
            let (_, tree) = source.render(&templates, args.only.as_deref(), Some(&args.out))?;
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
        Command::Resolve(args) => {
            let loaded = load(&args.inputs)?;
            let timeout = std::time::Duration::from_secs(args.timeout);
            let config = match args.nameserver {
                Some(nameserver) => srv::ResolverConfig {
                    nameserver,
                    timeout,
                },
                None => srv::ResolverConfig::system(timeout)?,
            };
            let resolved = srv::resolve_endpoints(&loaded.inventory, &loaded.state, &config)?;
            let count = resolved.len();
            let mut state = loaded.state;
            state.resolved_endpoints = resolved;
            srv::write_snapshot(&loaded.state_path, &state)?;
            writeln!(
                out,
                "resolved {count} SRV records into {}",
                loaded.state_path.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::NodeId(args) => {
            let id = node_id::from_node_key_file(&args.file)?;
            writeln!(out, "{id}")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => {
            plan_command(&args.target, args.check, args.detailed_exitcode, color, out)
        }
        Command::Verify(target) => plan_command(&target, true, false, color, out),
        Command::Apply(args) => apply_command(args, color, out),
        Command::Fetch(args) => {
            let inventory = inventory::load(&args.inventory)?;
            fetch::run(&args, &inventory, out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Colour only when asked, or on a terminal without `NO_COLOR`: piped plans stay plain patches.
fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

fn show_plan(
    out: &mut dyn Write,
    format: PlanFormat,
    color: bool,
    changes: &changes::Changes,
    prefix: &str,
    checksum: &str,
) -> Result<(), Error> {
    let text = match format {
        PlanFormat::Text => report::text(changes, prefix, color),
        PlanFormat::Markdown => report::markdown(changes, prefix, checksum),
        PlanFormat::Json => report::json(changes, prefix, checksum),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn plan_command(
    args: &TargetArgs,
    check: bool,
    detailed: bool,
    color: ColorChoice,
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let source = Source::load(&args.inputs)?;
    let templates = template::Templates::new(args.templates.as_deref())?;
    let target = gitops::Target::new(&args.repo, &args.path)?;
    let out_dir = target.out_dir();
    let committed = gitops::plan_baseline(&target)?;
    let base = committed.as_ref().map_or(out_dir.as_path(), |c| c.path());
    let (plan, tree) = source.render(&templates, args.only.as_deref(), Some(base))?;
    let mut changes = changes::compare(&tree, base, args.only.as_deref(), plan.as_ref())?;
    changes.needs_force = changes.threshold_violations(changes::DEFAULT_MAX_REMOVAL_PERCENT);
    show_plan(
        out,
        args.format,
        use_color(color),
        &changes,
        &target.prefix(),
        &changes.checksum,
    )?;
    if check && !changes.is_empty() {
        return Err(gitops::GitopsError::Drift {
            path: out_dir.display().to_string(),
            files: changes.files.len(),
        }
        .into());
    }
    Ok(if detailed && !changes.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn apply_command(
    args: cli::ApplyArgs,
    color: ColorChoice,
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let source = Source::load(&args.target.inputs)?;
    let templates = template::Templates::new(args.target.templates.as_deref())?;
    let target = gitops::Target::new(&args.target.repo, &args.target.path)?;
    let message_template = args
        .message_template
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p)
                .map_err(|e| gitops::GitopsError::Message(format!("{}: {e}", p.display())))
        })
        .transpose()?;
    let opts = gitops::ApplyOptions {
        only: args.target.only.clone(),
        branch: args.branch,
        push: args.push,
        plan_checksum: args.plan_checksum,
        force: args.force,
        max_removal_percent: args.max_peer_removal_percent,
        message_template,
        author_name: args.author_name,
        author_email: args.author_email,
        max_push_attempts: args.max_push_attempts,
    };
    let (format, color, prefix) = (args.target.format, use_color(color), target.prefix());
    let only = args.target.only.as_deref();
    let mut render = |previous: &std::path::Path| source.render(&templates, only, Some(previous));
    let mut show = |c: &changes::Changes, checksum: &str| {
        show_plan(&mut *out, format, color, c, &prefix, checksum)
    };
    let outcome = gitops::apply(&target, &opts, &mut render, &mut show)?;
    let done = match outcome.commit {
        Some(oid) => format!("committed {oid} on {}", outcome.branch),
        None => format!("no commit: {} already holds this output", outcome.branch),
    };
    let pushed = match (&opts.push, outcome.pushed) {
        (Some(remote), true) => format!("; pushed to {remote} (attempt {})", outcome.attempts),
        _ => String::new(),
    };
    if format == PlanFormat::Text {
        writeln!(out, "{done}{pushed}")?;
    } else {
        tracing::info!("{done}{pushed}");
    }
    Ok(ExitCode::SUCCESS)
}

fn write_check_report(
    out: &mut dyn Write,
    loaded: &Loaded,
    plan: &plan::Plan,
) -> Result<(), Error> {
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
        let width = cp
            .members
            .iter()
            .map(|m| m.validator.len())
            .max()
            .unwrap_or(0);
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
        for u in &cp.unresolved {
            writeln!(
                out,
                "  opted in, but neither bonded nor in the consumer's set: {u}"
            )?;
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
