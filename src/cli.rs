//! Command-line arguments (clap derive). Parsing only; `run` gives them meaning.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "peergen",
    version,
    about = "Build-time, declarative peer configuration for Cosmos ICS consumer chains",
    long_about = "peergen turns a validator inventory (YAML) and a locked provider-state snapshot (JSON) into a \
deterministic tree of per-consumer peer ConfigMaps, CometBFT [p2p] fragments and kustomizations."
)]
pub struct Cli {
    /// More log output on stderr (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: auto (only on a terminal, honouring NO_COLOR), always or never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct Inputs {
    /// Inventory YAML file; repeat to merge several (for example public endpoints plus node IDs)
    #[arg(short = 'i', long = "inventory", required = true, value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
    /// Provider-state snapshot (JSON) [default: the inventory's `state:`]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the inventory and snapshot and print every consumer's peer set
    #[command(
        after_help = "Example:\n  peergen check -i inventories/example.yaml --state inventories/example-state.json\n\n\
Exits 1 and names file, line and field on any error: bad YAML, unknown field, bad node ID, port collision."
    )]
    Check(CheckArgs),
    /// Render peer ConfigMaps, [p2p] fragments and kustomizations into a directory
    #[command(
        after_help = "Example:\n  peergen render -i inventories/example.yaml --out rendered/\n  peergen render -i inventories/example.yaml --self alice --out rendered/\n\n\
Everything is rendered and verified in memory first; nothing is written on error."
    )]
    Render(RenderArgs),
    /// Print the ICS Monitor hash port (26656 + 100 + (BE_u32(sha256(id)[0..4]) % 1000) * 10) of consumer ids
    #[command(after_help = "Example:\n  peergen port 0 19 29")]
    Port(PortArgs),
    /// Print the node ID derived from a CometBFT node_key.json
    #[command(
        name = "node-id",
        after_help = "Example:\n  peergen node-id ~/.gaia/config/node_key.json"
    )]
    NodeId(NodeIdArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output directory (created if missing; must be empty or written by peergen before)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Render only this validator's subtree
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub only: Option<String>,
    /// Directory of template overrides (same names as the built-in templates, with `.j2`)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Accept the removal of many previously generated files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Consumer ids
    #[arg(required = true, value_name = "CONSUMER_ID")]
    pub consumer_ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NodeIdArgs {
    /// Path to node_key.json
    pub file: PathBuf,
}
