//! `peergen check`: validate the inputs and print every consumer's peer set (or the Stellar
//! quorum set and peers).

use std::io::Write;
use std::process::ExitCode;

use super::Error;
use super::cli::CheckArgs;
use super::source::{Loaded, load, plan_cosmos, render_plan};
use crate::cosmos::inventory::settings::Topology;
use crate::cosmos::peers::{ConsumerPlan, Plan, topology};
use crate::input::address::Host;
use crate::input::network;
use crate::output::file::Keep;
use crate::output::template::Templates;
use crate::stellar;

pub(super) fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    if network::is_stellar(&args.inputs.inventory) {
        let inventory = stellar::load(&args.inputs.inventory, args.inputs.state.as_deref())?;
        out.write_all(stellar::check_report(&inventory)?.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = load(&args.inputs)?;
    let plan = plan_cosmos(&loaded)?;
    // Everything `render` would refuse, `check` refuses: the whole tree is rendered and verified,
    // each file dropped as soon as it is.
    let (_, zone_warnings) = render_plan(
        &loaded,
        &plan,
        &Templates::new(None)?,
        None,
        None,
        crate::output::parallel::default_threads(),
        &Keep::NOTHING,
    )?;
    write_report(out, &loaded, &plan, zone_warnings)?;
    Ok(ExitCode::SUCCESS)
}

fn write_report(
    out: &mut dyn Write,
    loaded: &Loaded,
    plan: &Plan,
    zone_warnings: usize,
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
            cp.members
                .iter()
                .map(|m| m.validator.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            cp.missing.len(),
            cp.excluded.len(),
            cp.slug
        )?;
        let width = cp
            .members
            .iter()
            .map(|m| m.label().len())
            .max()
            .unwrap_or(0);
        for m in &cp.members {
            writeln!(out, "  {:width$}  {}", m.label(), m.peer_string())?;
        }
        for m in &cp.missing {
            writeln!(
                out,
                "  missing from inventory: {} ({:?})",
                m.operator_address, m.moniker
            )?;
        }
        write_topology(out, cp)?;
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
    writeln!(out, "ok: {} warnings", plan.warnings.len() + zone_warnings)?;
    Ok(())
}

/// The consumer's peer graph as CometBFT will see it: its shape, how much failure it survives,
/// and how many node configs a one-node change rewrites.
fn write_topology(out: &mut dyn Write, cp: &ConsumerPlan) -> Result<(), Error> {
    let stats = topology::stats(&cp.graph);
    let n = stats.nodes;
    let (name, touched) = match cp.settings.topology {
        Topology::FullMesh => ("full-mesh".to_owned(), n),
        Topology::KConnected(k) => {
            let r = usize::from(k).div_ceil(2);
            (
                format!("k-connected {k}"),
                (2 * r).min(n.saturating_sub(1)) + 1,
            )
        }
    };
    let diameter = if stats.diameter == usize::MAX {
        "infinite (disconnected)".to_owned()
    } else {
        stats.diameter.to_string()
    };
    writeln!(
        out,
        "  topology {name}: {n} public nodes, {} behind sentries; degree {}-{}, connectivity {}, diameter {diameter}; a one-node change rewrites up to {} node configs",
        cp.private.len(),
        stats.min_degree,
        stats.max_degree,
        stats.connectivity,
        touched.min(n + cp.private.len()),
    )?;
    if let Topology::KConnected(k) = cp.settings.topology
        && usize::from(k) + 1 >= n
    {
        writeln!(
            out,
            "  (K = {k} ≥ n − 1 = {}: this is the full mesh)",
            n.saturating_sub(1)
        )?;
    }
    let names = cp
        .members
        .iter()
        .filter(|m| matches!(m.endpoint.host, Host::Name(_)))
        .count();
    if names > 0 {
        writeln!(
            out,
            "  note: {names} public nodes are reached by host name; CometBFT resolves each once at start-up and drops a name that does not resolve then"
        )?;
    }
    Ok(())
}
