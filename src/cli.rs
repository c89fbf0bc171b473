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
    #[command(after_help = "Example:\n  peergen check -i inventories/example.yaml --state inventories/example-state.json\n\n\
Exits 1 and names file, line and field on any error: bad YAML, unknown field, bad node ID, port collision.")]
    Check(CheckArgs),
    /// Render peer ConfigMaps, [p2p] fragments and kustomizations into a directory
    #[command(after_help = "Example:\n  peergen render -i inventories/example.yaml --out rendered/\n  peergen render -i inventories/example.yaml --self alice --out rendered/\n\n\
Everything is rendered and verified in memory first; nothing is written on error.")]
    Render(RenderArgs),
    /// Print the ICS Monitor hash port (26656 + 100 + (BE_u32(sha256(id)[0..4]) % 1000) * 10) of consumer ids
    #[command(after_help = "Example:\n  peergen port 0 19 29")]
    Port(PortArgs),
    /// Print the node ID derived from a CometBFT node_key.json
    #[command(name = "node-id", after_help = "Example:\n  peergen node-id ~/.gaia/config/node_key.json")]
    NodeId(NodeIdArgs),
    /// Query the provider's REST API and lock its state into the snapshot
    #[command(
        after_help = "Examples:\n  peergen fetch -i inventories/example.yaml\n  \
peergen fetch -i inventory.yaml --provider https://rest.provider.example.org --phase registered --phase launched\n\n\
The snapshot is written atomically, only when every query succeeded, and only when the provider state changed.\n\
See docs/fetch.md."
    )]
    Fetch(FetchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FetchPhase {
    Registered,
    Initialized,
    Launched,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Inventory YAML file; repeat to merge several
    #[arg(short = 'i', long = "inventory", required = true, value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
    /// Provider REST (gRPC-gateway) base URL [default: the inventory's provider.rest]
    #[arg(long, value_name = "URL")]
    pub provider: Option<String>,
    /// Fetch only this consumer (consumer id or chain id; repeatable); others keep their recorded state
    #[arg(long = "consumer", value_name = "ID")]
    pub consumers: Vec<String>,
    /// Snapshot file to write [default: the inventory's `state:`]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Active phase to record (repeatable) [default: launched]; stopped consumers are always recorded
    #[arg(long = "phase", value_enum, value_name = "PHASE")]
    pub phases: Vec<FetchPhase>,
    /// Write even if the bonded set is empty or a consumer loses too many validators
    #[arg(long)]
    pub force: bool,
    /// Limit for one whole request, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub timeout: f64,
    /// Limit for establishing a connection, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub connect_timeout: f64,
    /// Retries after a connect error, timeout, HTTP 429 or 5xx
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// First retry delay in milliseconds; doubles per retry (with jitter), capped at 32 times this
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub retry_backoff_ms: u64,
    /// Parallel per-consumer queries
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Refuse when a consumer would lose more than this share of its validators [default: provider.max_drop_percent, else 50]
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_drop_percent: Option<u8>,
    /// Record the fetch time in the snapshot (the file then changes on every fetch)
    #[arg(long)]
    pub with_timestamp: bool,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
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
