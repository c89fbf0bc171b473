//! `peergen graph`: one consumer's peer graph as text, DOT, SVG (laid out by Graphviz) or Mermaid.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::Error;
use super::cli::{GraphArgs, GraphFormat};
use super::source::{load, plan_cosmos};
use crate::cosmos::graph::{self, dot, mermaid, svg, text};
use crate::cosmos::peers::{ConsumerPlan, Plan};
use crate::input::network;
use crate::input::printable::printable;

pub(super) fn run(args: &GraphArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    if network::is_stellar(&args.inputs.inventory) {
        return Err(Error::usage(
            "peergen graph draws Cosmos consumer peer graphs; a Stellar inventory has none (see `peergen check`)",
        ));
    }
    let loaded = load(&args.inputs)?;
    if let Some(own) = &args.own
        && !loaded.inventory.validators.contains_key(own)
    {
        let names: Vec<&str> = loaded
            .inventory
            .validators
            .keys()
            .map(String::as_str)
            .collect();
        return Err(Error::usage(format!(
            "--self {own:?}: the inventory has no such validator; it has {}",
            names.join(", ")
        )));
    }
    let plan = plan_cosmos(&loaded)?;
    let cp = consumer(&plan, args.consumer.as_deref())?;
    if let Some(own) = &args.own
        && !cp
            .members
            .iter()
            .chain(&cp.private)
            .any(|m| &m.validator == own)
    {
        tracing::warn!(
            "--self {own}: not in the selected set of consumer {} ({}), so nothing is highlighted",
            cp.consumer_id,
            printable(&cp.chain_id)
        );
    }
    let graph = graph::build(cp, args.own.as_deref());
    let bytes = match args.format {
        GraphFormat::Text => text::text(&graph).into_bytes(),
        GraphFormat::Dot => dot::dot(&graph).into_bytes(),
        GraphFormat::Mermaid => {
            if graph.links.len() > mermaid::MAX_LINKS {
                tracing::warn!(
                    "{} links: Mermaid draws at most {} by default (its maxEdges setting); use --format svg for this graph",
                    graph.links.len(),
                    mermaid::MAX_LINKS
                );
            }
            mermaid::flowchart(&graph).into_bytes()
        }
        GraphFormat::Svg => svg::svg(&dot::dot(&graph), Duration::from_secs(args.timeout))?,
    };
    out.write_all(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// The consumer `--consumer` names (its consumer id, a chain id only one consumer has, or its
/// directory name), or the only active one.
fn consumer<'a>(plan: &'a Plan, wanted: Option<&str>) -> Result<&'a ConsumerPlan, Error> {
    let list = || {
        plan.consumers
            .iter()
            .map(|cp| format!("{} ({})", cp.consumer_id, printable(&cp.chain_id)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(wanted) = wanted else {
        return match plan.consumers.as_slice() {
            [only] => Ok(only),
            [] => Err(Error::usage(
                "no active consumer: there is no peer graph to draw",
            )),
            _ => Err(Error::usage(format!(
                "{} active consumers: choose one with --consumer (consumer id or chain id): {}",
                plan.consumers.len(),
                list()
            ))),
        };
    };
    if let Some(cp) = plan.consumers.iter().find(|cp| cp.consumer_id == wanted) {
        return Ok(cp);
    }
    let by_chain: Vec<&ConsumerPlan> = plan
        .consumers
        .iter()
        .filter(|cp| cp.chain_id == wanted)
        .collect();
    let by_slug = plan.consumers.iter().find(|cp| cp.slug == wanted);
    match (by_chain.as_slice(), by_slug) {
        ([one], _) => Ok(one),
        ([], Some(cp)) => Ok(cp),
        ([], None) => {
            let inactive = plan
                .inactive
                .iter()
                .find(|c| c.consumer_id == wanted || c.chain_id == wanted);
            Err(Error::usage(match inactive {
                Some(c) => format!(
                    "--consumer {wanted}: consumer {} ({}) is {}, so it has no peers; active consumers: {}",
                    c.consumer_id,
                    printable(&c.chain_id),
                    c.phase.as_str(),
                    list()
                ),
                None => format!(
                    "--consumer {:?}: no active consumer has this consumer id or chain id; active consumers: {}",
                    printable(wanted),
                    list()
                ),
            }))
        }
        (many, _) => Err(Error::usage(format!(
            "--consumer {wanted}: consumers {} share this chain id; name one by consumer id",
            many.iter()
                .map(|cp| cp.consumer_id.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
    }
}
